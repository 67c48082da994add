/** `ias repo link | list`: register a checkout's repo and map it to the local path in worker.json. */
import { resolve } from "node:path";
import { optionalString, type Command } from "../command";
import { checkoutRoot, originUrl } from "../git";
import { redactCredentials, remoteUrlHash, repoLabel } from "../remote";
import { openSession } from "../session";
import { mappingsFor, readWorkerFile, withMapping, writeWorkerFile } from "../worker-file";

type Repo = { _id: string; label?: string; status: string };

const link: Command = {
  path: ["repo", "link"],
  summary: "Register the checkout's origin (by SHA-256 of its normalised URL) and map the repo to this path",
  details: [
    "The URL itself never leaves the machine. The mapping is written to ~/.ias/worker.json",
    "(repos.mappings), which the IAS runner reads too; other mappings and keys are kept.",
  ],
  args: [{ name: "path", description: "The checkout (default: the current directory)" }],
  options: {
    label: { type: "string", value: "<label>", description: "The repo's label (default: kept, or the repo name)" },
  },
  async run(context) {
    const { client, login, home } = await openSession(context);
    const root = await checkoutRoot(resolve(context.positionals[0] ?? "."));
    const origin = await originUrl(root);
    const hash = remoteUrlHash(origin);
    const wantedLabel = optionalString(context, "label");
    const workspaceId = login.workspaceId;
    // An existing repo keeps the label the Console may have given it unless --label says otherwise.
    const found = await client.call<{ repoId: string | null; repo: Repo | null }>("/v1/repos/resolve", {
      workspaceId,
      remoteUrlHash: hash,
    });
    let repoId = found.repoId;
    let created = false;
    if (repoId === null || found.repo?.status !== "active" || wantedLabel !== undefined) {
      const label = wantedLabel ?? (repoId === null ? repoLabel(origin) : undefined);
      const upserted = await client.call<{ repoId: string; created: boolean }>("/v1/repos/upsert", {
        workspaceId,
        remoteUrlHash: hash,
        label,
        status: "active",
      });
      repoId = upserted.repoId;
      created = upserted.created;
    }
    const label = wantedLabel ?? found.repo?.label ?? repoLabel(origin);
    const file = withMapping(readWorkerFile(home), login, { repoId, localPath: root, label, remoteUrlHash: hash });
    // The runner serves controlPlane's workspace: name this one when the file names none yet.
    file.controlPlane ??= { convexDeploymentUrl: login.convexDeploymentUrl, workspaceSlug: login.workspaceSlug };
    writeWorkerFile(file, home);
    context.out.result({ repoId, created, path: root, label, remoteUrlHash: hash }, () => [
      `${created ? "Registered" : "Linked"} repo "${label}" (${repoId}) → ${root}`,
      `  origin ${redactCredentials(origin)} → sha256 ${hash}`,
    ]);
  },
};

const list: Command = {
  path: ["repo", "list"],
  summary: "List the repo mappings of the current workspace",
  async run(context) {
    const { login, workerFile } = await openSession(context);
    const mappings = mappingsFor(workerFile, login);
    context.out.result({ mappings }, () =>
      mappings.length === 0
        ? 'No repos linked; run "ias repo link" in a checkout.'
        : mappings.map((mapping) => `${mapping.repoId}  ${mapping.label ?? ""}  ${mapping.localPath}`),
    );
  },
};

export const repoCommands: Command[] = [link, list];
