/**
 * The CLI's files, in `~/.ias` (or `$IAS_HOME`, which tests and CI use to relocate it):
 *   auth.json    tokens, keyed by site URL and workspace slug. Mode 0600: it holds secrets.
 *   worker.json  worker settings and the repo mappings (repoId -> local checkout).
 * Both are written whole to a temporary file and renamed, so a crash never leaves half a file.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";

export function iasHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.IAS_HOME || join(homedir(), ".ias");
}

/** A config file that exists but cannot be used; the message names the file and the problem. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

const loginSchema = z.object({
  siteUrl: z.string(),
  workspaceSlug: z.string(),
  workspaceId: z.string(),
  token: z.string(),
  /** `device`: minted by `ias auth login`; `provided`: given with --token (CI, service tokens). */
  source: z.enum(["device", "provided"]),
  savedAt: z.string(),
});
export type Login = z.infer<typeof loginSchema>;

const authFileSchema = z.object({
  /** Key of the login used when neither --url nor --workspace says otherwise. */
  current: z.string().optional(),
  logins: z.record(z.string(), loginSchema).default({}),
});
export type AuthFile = z.infer<typeof authFileSchema>;

const mappingSchema = z.object({
  siteUrl: z.string(),
  workspaceId: z.string(),
  repoId: z.string(),
  path: z.string(),
  label: z.string().optional(),
  remoteUrlHash: z.string(),
});
export type RepoMapping = z.infer<typeof mappingSchema>;

const capabilitiesSchema = z.looseObject({
  executionModes: z.array(z.string()).optional(),
  models: z.array(z.string()).optional(),
  canWrite: z.boolean().optional(),
  canUseNetwork: z.boolean().optional(),
  supportedEgressModes: z.array(z.string()).optional(),
  supportsRunTests: z.boolean().optional(),
});

const workerFileSchema = z.object({
  /** Random, made once; with the display name it forms the worker's machine fingerprint. */
  machineId: z.string().optional(),
  displayName: z.string().min(1).optional(),
  /** argv of the job command, e.g. ["bash", "-c", "my-agent \"$IAS_JOB_PROMPT\""]. */
  command: z.array(z.string()).min(1).optional(),
  capabilities: capabilitiesSchema.default({}),
  leaseMs: z.number().int().positive().optional(),
  cancelGraceMs: z.number().int().nonnegative().optional(),
  heartbeatIntervalMs: z.number().int().positive().optional(),
  idleBackoffMs: z.object({ min: z.number().int().positive(), max: z.number().int().positive() }).optional(),
  repos: z.object({ mappings: z.array(mappingSchema).default([]) }).default({ mappings: [] }),
});
export type WorkerFile = z.infer<typeof workerFileSchema>;

export const loginKey = (siteUrl: string, workspaceSlug: string) => `${siteUrl}#${workspaceSlug}`;

export function readAuthFile(home = iasHome()): AuthFile {
  return readJson(join(home, "auth.json"), authFileSchema) ?? { logins: {} };
}

export function writeAuthFile(file: AuthFile, home = iasHome()) {
  writeJson(join(home, "auth.json"), file, 0o600);
}

export function readWorkerFile(home = iasHome()): WorkerFile {
  return readJson(join(home, "worker.json"), workerFileSchema) ?? workerFileSchema.parse({});
}

export function writeWorkerFile(file: WorkerFile, home = iasHome()) {
  writeJson(join(home, "worker.json"), file, 0o600);
}

/** The stable machine id, created and saved on first use. */
export function ensureMachineId(home = iasHome()): string {
  const file = readWorkerFile(home);
  if (file.machineId) return file.machineId;
  const machineId = randomBytes(16).toString("hex");
  writeWorkerFile({ ...file, machineId }, home);
  return machineId;
}

/** Mappings of one deployment workspace: what the worker serves there. */
export function mappingsFor(file: WorkerFile, siteUrl: string, workspaceId: string): RepoMapping[] {
  return file.repos.mappings.filter((mapping) => mapping.siteUrl === siteUrl && mapping.workspaceId === workspaceId);
}

/** Records a mapping, replacing an older one for the same repo or the same checkout. */
export function withMapping(file: WorkerFile, mapping: RepoMapping): WorkerFile {
  const sameTarget = (other: RepoMapping) =>
    other.siteUrl === mapping.siteUrl &&
    other.workspaceId === mapping.workspaceId &&
    (other.repoId === mapping.repoId || other.path === mapping.path);
  return { ...file, repos: { mappings: [...file.repos.mappings.filter((other) => !sameTarget(other)), mapping] } };
}

function readJson<T>(path: string, schema: z.ZodType<T>): T | undefined {
  if (!existsSync(path)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new ConfigError(`${path} is not valid JSON (${(error as Error).message}).`);
  }
  const result = schema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ConfigError(`${path}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return result.data;
}

function writeJson(path: string, value: unknown, mode: number) {
  const dir = join(path, "..");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(value, null, 2)}\n`, { mode });
  chmodSync(temporary, mode); // the umask may have narrowed or the file pre-existed
  renameSync(temporary, path);
}
