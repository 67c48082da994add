/** `ias repo link | list`: register a checkout's repo and map it to the local path. */
import { resolve } from "node:path";
import { iasHome, mappingsFor, readWorkerFile, withMapping, writeWorkerFile } from "../config";
import { optionalString, type Command } from "../command";
import { checkoutRoot, originUrl } from "../git";
import { redactCredentials, remoteUrlHash, repoLabel } from "../remote";
import { openSession } from "../session";

type Repo = { _id: string; label?: string; status: string };

const link: Command = {
  path: ["repo", "link"],
  summary: "Register the checkout's origin (by SHA-256 of its normalised URL) and map the repo to this path",
  usage: "[path] [--label <label>]",
  options: { label: { type: "string" } },
  async run(context) {
    const { client, login, home } = openSession(context);
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
    writeWorkerFile(
      withMapping(readWorkerFile(home), {
        siteUrl: login.siteUrl,
        workspaceId,
        repoId,
        path: root,
        label,
        remoteUrlHash: hash,
      }),
      home,
    );
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
    const { login } = openSession(context);
    const mappings = mappingsFor(readWorkerFile(iasHome(context.env)), login.siteUrl, login.workspaceId);
    context.out.result({ mappings }, () =>
      mappings.length === 0
        ? 'No repos linked; run "ias repo link" in a checkout.'
        : mappings.map((mapping) => `${mapping.repoId}  ${mapping.label ?? ""}  ${mapping.path}`),
    );
  },
};

export const repoCommands: Command[] = [link, list];
