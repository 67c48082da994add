/**
 * `ias doctor`: is this machine ready to run a worker? Each check says what to do when it fails,
 * an unusable auth.json or worker.json included (a sentence naming the key and the fix).
 */
import { existsSync } from "node:fs";
import { readAuthStore } from "../auth-file";
import type { Command } from "../command";
import { iasHome } from "../files";
import { checkoutRoot, originUrl } from "../git";
import { EXIT } from "../output";
import { remoteUrlHash } from "../remote";
import { openSession, type Session } from "../session";
import { commandOf, mappingsFor, readWorkerFile, type WorkerFile } from "../worker-file";

/** `warning`: worth knowing, but the worker can still run (it does not fail the doctor). */
type Check = { name: string; ok: boolean; warning?: boolean; detail: string };

const doctor: Command = {
  path: ["doctor"],
  summary: "Check the config files, reachability, token validity, workspace access and repo mappings",
  async run(context) {
    const home = iasHome(context.env);
    const checks: Check[] = [];
    const check = async <T>(
      name: string,
      probe: () => Promise<{ value: T; detail: string }>,
    ): Promise<T | undefined> => {
      try {
        const { value, detail } = await probe();
        checks.push({ name, ok: true, detail });
        return value;
      } catch (error) {
        checks.push({ name, ok: false, detail: error instanceof Error ? error.message : String(error) });
        return undefined;
      }
    };
    const report = () => {
      const healthy = checks.every((entry) => entry.ok);
      const mark = (entry: Check) =>
        entry.warning
          ? context.out.paint("yellow", "!")
          : entry.ok
            ? context.out.paint("green", "✓")
            : context.out.paint("red", "✗");
      context.out.result({ ok: healthy, checks }, () =>
        checks.map((entry) => `${mark(entry)} ${entry.name}: ${entry.detail}`),
      );
      return healthy ? EXIT.OK : EXIT.FAILED;
    };

    await check("auth.json", async () => {
      const store = readAuthStore(home);
      return { value: store, detail: `${store.logins.length} usable login(s) in ${store.path}` };
    });
    const workerFile = await check("worker.json", async () => ({
      value: readWorkerFile(home),
      detail: `readable (${home}/worker.json)`,
    }));
    const session = await check("login", async () => {
      const opened = await openSession(context, { attempts: 2 }, workerFile ?? {});
      return { value: opened, detail: loginText(opened) };
    });
    if (session === undefined) return report();
    const { client, login } = session;

    const reachable = await check("reachable", async () => {
      await client.get("/health");
      return { value: true, detail: `${login.siteUrl} answers /control-plane/health` };
    });
    if (reachable) {
      await check("token and workspace access", async () => {
        const { workspaceId } = await client.call<{ workspaceId: string | null }>("/v1/workspaces/resolve", {
          slug: login.workspaceSlug,
        });
        if (workspaceId === null)
          throw new Error(`the token has no access to workspace "${login.workspaceSlug}" any more; run ias auth login`);
        if (workspaceId !== login.workspaceId)
          throw new Error(
            `workspace "${login.workspaceSlug}" is now ${workspaceId}, not ${login.workspaceId}; run ias auth login again`,
          );
        return { value: true, detail: `token accepted for workspace "${login.workspaceSlug}" (${workspaceId})` };
      });
    }
    if (workerFile !== undefined) await checkWorkerFile(workerFile, session, reachable === true, checks, check);
    return report();
  },
};

async function checkWorkerFile(
  file: WorkerFile,
  { client, login, home }: Session,
  reachable: boolean,
  checks: Check[],
  check: (name: string, probe: () => Promise<{ value: unknown; detail: string }>) => Promise<unknown>,
) {
  const command = commandOf(file.ias);
  checks.push(
    command
      ? { name: "job command", ok: true, detail: JSON.stringify(command) }
      : {
          name: "job command",
          ok: true,
          warning: true,
          detail: `"ias.command" is not set in ${home}/worker.json; ias worker start then needs --command`,
        },
  );
  const mappings = mappingsFor(file, login);
  if (mappings.length === 0)
    checks.push({
      name: "repo mappings",
      ok: false,
      detail: 'none for this workspace; run "ias repo link" in a checkout',
    });
  for (const mapping of mappings) {
    await check(`repo ${mapping.label ?? mapping.repoId}`, async () => {
      const path = mapping.localPath;
      if (!existsSync(path))
        throw new Error(`${path} does not exist; clone the repo there or run "ias repo link" in its checkout`);
      const hash = remoteUrlHash(await originUrl(await checkoutRoot(path)));
      if (mapping.remoteUrlHash !== undefined && hash !== mapping.remoteUrlHash)
        throw new Error(`the origin of ${path} changed; run "ias repo link" there again`);
      if (reachable) {
        const { repo } = await client.call<{ repo: { status: string; remoteUrlHash?: string } | null }>(
          "/v1/repos/get",
          {
            workspaceId: login.workspaceId,
            repoId: mapping.repoId,
          },
        );
        if (repo === null)
          throw new Error(`repo ${mapping.repoId} no longer exists in the workspace; run "ias repo link" in ${path}`);
        if (repo.status !== "active") throw new Error(`repo ${mapping.repoId} is ${repo.status}`);
        if (repo.remoteUrlHash !== undefined && repo.remoteUrlHash !== hash)
          throw new Error(`${path} is a checkout of another repo than ${mapping.repoId}; run "ias repo link" there`);
      }
      return { value: true, detail: `${mapping.repoId} → ${path}` };
    });
  }
}

function loginText({ login }: Session): string {
  const how = login.source === "worker.json" ? "the httpServiceToken of worker.json" : "a stored login";
  return `workspace "${login.workspaceSlug}" at ${login.siteUrl}, with ${how}`;
}

export const doctorCommands: Command[] = [doctor];
