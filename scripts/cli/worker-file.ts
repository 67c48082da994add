/**
 * `~/.ias/worker.json`, shared with the deployed IAS runner (SPEC §12):
 *   controlPlane  {convexDeploymentUrl, workspaceSlug, httpServiceToken?}: where the runner goes
 *   worker        {displayName, machineFingerprint}: who this machine is
 *   repos         {mappings: [{repoId, localPath}]}: checkouts; `ias repo link` adds `workspaceId`,
 *                 `convexDeploymentUrl`, `label` and `remoteUrlHash` (one file serves several
 *                 workspaces; a mapping without `workspaceId` belongs to `controlPlane`'s)
 *   capabilities  what the worker heartbeat advertises
 *   ias           `ias`'s own settings (command, lease, spool...), a key the runner ignores
 * Keys `ias` does not know are kept as they are. The old `ias` layout (settings at the top,
 * mappings with `siteUrl` and `path`) is converted on first use.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { join } from "node:path";
import * as z from "zod/mini";
import { deploymentUrlFor, sameDeployment, type Login } from "./auth-file";
import { checked, readJsonFile, writeJsonFile, type KeyHints } from "./files";

const text = z.string().check(z.minLength(1));
const strings = z.array(z.string());
const positiveInt = z.int().check(z.positive());

const mappingSchema = z.looseObject({
  repoId: text,
  localPath: text,
  workspaceId: z.optional(text),
  convexDeploymentUrl: z.optional(text),
  label: z.optional(z.string()),
  remoteUrlHash: z.optional(text),
});
export type RepoMapping = z.infer<typeof mappingSchema>;

const settingsSchema = z.looseObject({
  /** argv of the job command, or one shell line for /bin/sh -c. */
  command: z.optional(z.union([text, z.array(z.string()).check(z.minLength(1))])),
  leaseMs: z.optional(positiveInt),
  cancelGraceMs: z.optional(z.int().check(z.nonnegative())),
  heartbeatIntervalMs: z.optional(positiveInt),
  idleBackoffMs: z.optional(z.object({ min: positiveInt, max: positiveInt })),
  /** Bytes of unsent log lines kept on disk per job before lines are dropped (a `log_gap`). */
  logSpoolMaxBytes: z.optional(positiveInt),
  /** Where unsent log lines and outcomes wait (default: <ias home>/state). */
  stateDir: z.optional(text),
});
export type WorkerSettings = z.infer<typeof settingsSchema>;

const fileSchema = z.looseObject({
  controlPlane: z.optional(
    z.looseObject({ convexDeploymentUrl: text, workspaceSlug: text, httpServiceToken: z.optional(text) }),
  ),
  worker: z.optional(z.looseObject({ displayName: z.optional(text), machineFingerprint: z.optional(text) })),
  repos: z.optional(z.looseObject({ mappings: z.optional(z.array(mappingSchema)) })),
  // The runner's keys with their types; other keys pass (the server bounds them).
  capabilities: z.optional(
    z.looseObject({
      executionModes: z.optional(strings),
      models: z.optional(strings),
      canWrite: z.optional(z.boolean()),
      canUseNetwork: z.optional(z.boolean()),
      reposAllowed: z.optional(strings),
      supportedEgressModes: z.optional(strings),
      enforcedAllowlistHash: z.optional(z.string()),
      supportsRunTests: z.optional(z.boolean()),
      openaiAuthMode: z.optional(z.string()),
    }),
  ),
  ias: z.optional(settingsSchema),
});
export type WorkerFile = z.infer<typeof fileSchema>;

const HINTS: KeyHints = [
  [/^controlPlane\.convexDeploymentUrl$/, "the deployment URL, e.g. https://happy-otter-123.convex.cloud"],
  [/^controlPlane\.workspaceSlug$/, "the workspace's slug, as in ias auth login --workspace"],
  [/^repos\.mappings\.\d+\.localPath$/, 'the checkout\'s absolute path; "ias repo link" in the checkout writes it'],
  [/^repos\.mappings\.\d+\.repoId$/, 'the repo\'s id; "ias repo link" in the checkout writes it'],
  [/^ias\.command$/, 'the job command as argv, e.g. ["bash", "-c", "my-agent"], or one shell line'],
  [/^ias\.idleBackoffMs/, 'milliseconds, e.g. {"min": 1000, "max": 10000}'],
  [/^ias\.\w+Ms$/, "milliseconds"],
  [/^ias\.logSpoolMaxBytes$/, "bytes, e.g. 67108864 for 64 MiB"],
];

/** Settings the old layout kept at the top level; they now live under `ias`. */
const OLD_SETTINGS = ["command", "leaseMs", "cancelGraceMs", "heartbeatIntervalMs", "idleBackoffMs"] as const;

export function workerFilePath(home: string): string {
  return join(home, "worker.json");
}

export function readWorkerFile(home: string): WorkerFile {
  const path = workerFilePath(home);
  const raw = readJsonFile(path);
  if (raw === undefined) return {};
  const converted = convertOldLayout(raw);
  const file = checked(path, converted ?? raw, fileSchema, HINTS);
  if (converted !== undefined) writeWorkerFile(file, home); // converted on first use
  return file;
}

export function writeWorkerFile(file: WorkerFile, home: string) {
  writeJsonFile(workerFilePath(home), file, 0o600); // may hold controlPlane.httpServiceToken
}

/** The new layout of a file in the old one, or undefined when it is not in the old one. */
function convertOldLayout(raw: unknown): Record<string, unknown> | undefined {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return undefined;
  const old = raw as Record<string, any>;
  const mappings: unknown[] = Array.isArray(old.repos?.mappings) ? old.repos.mappings : [];
  const oldMapping = (mapping: any) => typeof mapping?.path === "string" && mapping.localPath === undefined;
  const hasOldKeys = ["machineId", "displayName", ...OLD_SETTINGS].some((key) => key in old);
  if (!hasOldKeys && !mappings.some(oldMapping)) return undefined;
  const { machineId, displayName, ...rest } = old;
  const settings: Record<string, unknown> = { ...(typeof rest.ias === "object" ? rest.ias : {}) };
  for (const key of OLD_SETTINGS) {
    if (key in rest) settings[key] ??= rest[key];
    delete rest[key];
  }
  const worker = { ...(typeof rest.worker === "object" ? rest.worker : {}) };
  if (displayName !== undefined) worker.displayName ??= displayName;
  if (machineId !== undefined) worker.machineFingerprint ??= machineId;
  const newMappings = mappings.map((mapping: any) => {
    if (!oldMapping(mapping)) return mapping;
    const { path, siteUrl, ...fields } = mapping;
    return {
      ...fields,
      localPath: path,
      ...(typeof siteUrl === "string" ? { convexDeploymentUrl: deploymentUrlFor(siteUrl) } : {}),
    };
  });
  return {
    ...rest,
    ...(Object.keys(worker).length > 0 ? { worker } : {}),
    ...(rest.repos !== undefined || mappings.length > 0 ? { repos: { ...rest.repos, mappings: newMappings } } : {}),
    ...(Object.keys(settings).length > 0 ? { ias: settings } : {}),
  };
}

/** Whether the file's `controlPlane` names this login's deployment and workspace. */
export function controlPlaneIs(file: WorkerFile, siteUrl: string, workspaceSlug: string): boolean {
  const target = file.controlPlane;
  return (
    target !== undefined &&
    target.workspaceSlug === workspaceSlug &&
    sameDeployment(target.convexDeploymentUrl, siteUrl)
  );
}

/** The checkouts `login` serves. */
export function mappingsFor(file: WorkerFile, login: Pick<Login, "siteUrl" | "workspaceSlug" | "workspaceId">) {
  return (file.repos?.mappings ?? []).filter((mapping) =>
    mapping.workspaceId === undefined
      ? controlPlaneIs(file, login.siteUrl, login.workspaceSlug)
      : mapping.workspaceId === login.workspaceId &&
        (mapping.convexDeploymentUrl === undefined || sameDeployment(mapping.convexDeploymentUrl, login.siteUrl)),
  );
}

/** Records a mapping of `login`, replacing one of the same login for the same repo or the same checkout. */
export function withMapping(
  file: WorkerFile,
  login: Pick<Login, "siteUrl" | "workspaceSlug" | "workspaceId" | "convexDeploymentUrl">,
  mapping: { repoId: string; localPath: string; label?: string; remoteUrlHash: string },
): WorkerFile {
  const ours = new Set(mappingsFor(file, login));
  const replaced = (other: RepoMapping) =>
    ours.has(other) && (other.repoId === mapping.repoId || other.localPath === mapping.localPath);
  const previous = (file.repos?.mappings ?? []).find(replaced);
  const added: RepoMapping = {
    ...previous, // fields another tool added to it
    ...mapping,
    workspaceId: login.workspaceId,
    convexDeploymentUrl: login.convexDeploymentUrl,
  };
  const kept = (file.repos?.mappings ?? []).filter((other) => !replaced(other));
  return { ...file, repos: { ...file.repos, mappings: [...kept, added] } };
}

/**
 * The machine's identity, made once: `worker.machineFingerprint` (random) and a display name
 * (the host name), the fields the runner needs too.
 */
export function ensureWorkerIdentity(home: string): { displayName: string; machineFingerprint: string } {
  const file = readWorkerFile(home);
  const displayName = file.worker?.displayName ?? hostname();
  const machineFingerprint = file.worker?.machineFingerprint;
  if (machineFingerprint !== undefined) return { displayName, machineFingerprint };
  const created = { displayName, machineFingerprint: randomBytes(16).toString("hex") };
  writeWorkerFile({ ...file, worker: { ...file.worker, ...created } }, home);
  return created;
}

/** `ias.command` as argv (a string is one shell line). */
export function commandOf(settings: WorkerSettings | undefined): string[] | undefined {
  const command = settings?.command;
  return typeof command === "string" ? ["/bin/sh", "-c", command] : command;
}
