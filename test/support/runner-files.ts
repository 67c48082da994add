/**
 * The deployed IAS runner's view of `~/.ias`, written from SPEC §12 alone (not from scripts/cli),
 * so tests can check that what `ias` writes is what the runner reads:
 *   auth.json    `{version: 1, entries: [{convexDeploymentUrl, workspaceSlug, workspaceId, token,
 *                expiresAt?}]}`; a login is found by `convexDeploymentUrl` (trailing slashes
 *                ignored) and `workspaceSlug`, skipping expired entries.
 *   worker.json  `{controlPlane, worker, repos: {mappings: [{repoId, localPath}]}, capabilities}`.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

type RunnerEntry = {
  convexDeploymentUrl: string;
  workspaceSlug: string;
  workspaceId: string;
  token: string;
  expiresAt?: number | string;
};

/** The token the runner would use for this deployment and workspace, or undefined. */
export function runnerFindLogin(
  home: string,
  convexDeploymentUrl: string,
  workspaceSlug: string,
  now = Date.now(),
): RunnerEntry | undefined {
  const file = JSON.parse(readFileSync(join(home, "auth.json"), "utf8"));
  if (file.version !== 1 || !Array.isArray(file.entries)) return undefined;
  const bare = (url: string) => url.replace(/\/+$/, "");
  return (file.entries as RunnerEntry[]).find(
    (entry) =>
      typeof entry.token === "string" &&
      bare(entry.convexDeploymentUrl) === bare(convexDeploymentUrl) &&
      entry.workspaceSlug === workspaceSlug &&
      !(entry.expiresAt !== undefined && new Date(entry.expiresAt).getTime() <= now),
  );
}

/** Writes files the way the runner does (mode 0600, folder 0700). */
export function writeRunnerFile(home: string, name: "auth.json" | "worker.json", value: unknown) {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  writeFileSync(join(home, name), JSON.stringify(value, null, 2), { mode: 0o600 });
}
