/** `ias doctor`: is this machine ready to run a worker? Each check says what to do when it fails. */
import { existsSync } from "node:fs";
import { mappingsFor, readWorkerFile } from "../config";
import type { Command } from "../command";
import { checkoutRoot, originUrl } from "../git";
import { EXIT } from "../output";
import { remoteUrlHash } from "../remote";
import { openSession } from "../session";

/** `warning`: worth knowing, but the worker can still run (it does not fail the doctor). */
type Check = { name: string; ok: boolean; warning?: boolean; detail: string };

const doctor: Command = {
  path: ["doctor"],
  summary: "Check reachability, token validity, workspace access and repo mappings",
  async run(context) {
    const { client, login, home } = openSession(context, { attempts: 2 });
    const checks: Check[] = [];
    const check = async (name: string, probe: () => Promise<string>) => {
      try {
        checks.push({ name, ok: true, detail: await probe() });
        return true;
      } catch (error) {
        checks.push({ name, ok: false, detail: error instanceof Error ? error.message : String(error) });
        return false;
      }
    };

    const reachable = await check("reachable", async () => {
      await client.get("/health");
      return `${login.siteUrl} answers /control-plane/health`;
    });
    if (reachable) {
      await check("token and workspace access", async () => {
        const { workspaceId } = await client.call<{ workspaceId: string | null }>("/v1/workspaces/resolve", {
          slug: login.workspaceSlug,
        });
        if (workspaceId === null)
          throw new Error(`the token has no access to workspace "${login.workspaceSlug}" any more`);
        if (workspaceId !== login.workspaceId)
          throw new Error(
            `workspace "${login.workspaceSlug}" is now ${workspaceId}, not ${login.workspaceId}; log in again`,
          );
        return `token accepted for workspace "${login.workspaceSlug}" (${workspaceId})`;
      });
    }
    const config = readWorkerFile(home);
    const mappings = mappingsFor(config, login.siteUrl, login.workspaceId);
    checks.push(
      config.command
        ? { name: "job command", ok: true, detail: JSON.stringify(config.command) }
        : {
            name: "job command",
            ok: true,
            warning: true,
            detail: `not set in ${home}/worker.json; ias worker start then needs --command`,
          },
    );
    if (mappings.length === 0)
      checks.push({ name: "repo mappings", ok: false, detail: 'none; run "ias repo link" in a checkout' });
    for (const mapping of mappings) {
      await check(`repo ${mapping.label ?? mapping.repoId}`, async () => {
        if (!existsSync(mapping.path)) throw new Error(`${mapping.path} does not exist`);
        const hash = remoteUrlHash(await originUrl(await checkoutRoot(mapping.path)));
        if (hash !== mapping.remoteUrlHash)
          throw new Error(`the origin of ${mapping.path} changed; run "ias repo link" there again`);
        if (reachable) {
          const { repo } = await client.call<{ repo: { status: string } | null }>("/v1/repos/get", {
            workspaceId: login.workspaceId,
            repoId: mapping.repoId,
          });
          if (repo === null) throw new Error(`repo ${mapping.repoId} no longer exists in the workspace`);
          if (repo.status !== "active") throw new Error(`repo ${mapping.repoId} is ${repo.status}`);
        }
        return `${mapping.repoId} → ${mapping.path}`;
      });
    }
    const healthy = checks.every((entry) => entry.ok);
    context.out.result({ ok: healthy, checks }, () =>
      checks.map((entry) => `${entry.warning ? "!" : entry.ok ? "✓" : "✗"} ${entry.name}: ${entry.detail}`),
    );
    return healthy ? EXIT.OK : EXIT.FAILED;
  },
};

export const doctorCommands: Command[] = [doctor];
