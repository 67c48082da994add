// @vitest-environment node
/**
 * `npm start` end to end over a real socket: first start, routes, size limit, restart, `kill -9`
 * right after an acknowledged write, a taken port, unusable data directories, a torn journal.
 */
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, test } from "vitest";
import { mintToken, sha256Hex } from "../../convex/model/tokens";
import { openJournalStore } from "../../scripts/local/store";
import {
  localServerPool,
  makeTempDir,
  removeTempDirs,
  runLocalServerToExit,
  type LocalProcess,
} from "../support/local-process";

const servers = localServerPool();
const start = servers.start;
afterAll(async () => {
  await servers.killAll();
  removeTempDirs();
});

async function call(server: LocalProcess, route: string, body: unknown, token?: string) {
  const response = await fetch(`${server.apiUrl}${route}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any>, headers: response.headers };
}

/**
 * Mints a device token for the local owner straight into the stopped server's journal, the way
 * device approval will. HTTP routes that mint tokens do not exist yet.
 */
async function seedDeviceToken(dataDir: string): Promise<string> {
  const store = openJournalStore(dataDir);
  const documents = [...store.state.documents.values()];
  const workspace = documents.find(
    (document) => document._id!.toString().endsWith("workspaces") && document.slug === "local",
  )!;
  const { token, prefix } = mintToken();
  const counter = store.state.nextDocId;
  const id = String(counter).padStart(32 - "apiTokens".length, "0") + "apiTokens";
  const row = {
    _id: id,
    _creationTime: Date.now(),
    tokenHash: await sha256Hex(token),
    prefix,
    kind: "device",
    userId: workspace.createdBy,
    workspaceId: workspace._id,
    label: "seeded",
    expiresAt: Date.now() + 86_400_000,
  };
  store.append({ writes: [[id, row]], nextDocId: counter + 1, lastCreationTime: row._creationTime });
  await store.close();
  return token;
}

describe("local server", () => {
  const cwd = makeTempDir();
  const dataDir = join(makeTempDir(), "state");
  let workspaceId: string;

  test("first start: generates and prints the service token, serves the routes", async () => {
    const server = await start({ cwd, dataDir, serviceToken: null });
    const envFile = join(cwd, ".env.local");
    expect(readFileSync(envFile, "utf8")).toContain(`IAS_CONTROL_PLANE_SERVICE_TOKEN=${server.serviceToken}`);
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    expect(server.output()).toContain(`Base URL:    ${server.apiUrl}`);
    expect(server.output()).toContain(`${server.apiUrl}/openapi.json`);

    const health = await fetch(`${server.apiUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true });
    expect(health.headers.get("x-request-id")).toBeTruthy();

    const resolved = await call(server, "/v1/workspaces/resolve", { slug: "local" }, server.serviceToken);
    expect(resolved.status).toBe(200);
    expect(resolved.body.workspace.slug).toBe("local");
    workspaceId = resolved.body.workspaceId;
    expect(server.output()).toContain(`local (id ${workspaceId})`);

    const anonymous = await call(server, "/v1/workspaces/resolve", { slug: "local" });
    expect([anonymous.status, anonymous.body.error]).toEqual([401, "MISSING_TOKEN"]);

    const padding = (size: number) => {
      const prefix = '{"slug":"local","pad":"';
      return prefix + "x".repeat(size - prefix.length - 2) + '"}';
    };
    const largest = await call(server, "/v1/workspaces/resolve", padding(262_144), server.serviceToken);
    expect(largest.status).toBe(200);
    const tooLarge = await call(server, "/v1/workspaces/resolve", padding(262_145), server.serviceToken);
    expect([tooLarge.status, tooLarge.body.error]).toEqual([413, "REQUEST_TOO_LARGE"]);

    expect(await server.stop()).toBe(0);
    expect(existsSync(join(dataDir, "LOCK"))).toBe(false); // a graceful stop releases the directory
  });

  test("restart: the token comes from .env.local, the data and a revocation are still there", async () => {
    const deviceToken = await seedDeviceToken(dataDir);
    const server = await start({ cwd, dataDir, serviceToken: null });
    expect(server.output()).not.toMatch(/Service token: ias_/); // printed on first start only
    const resolved = await call(server, "/v1/workspaces/resolve", { slug: "local" }, deviceToken);
    expect(resolved.body.workspaceId).toBe(workspaceId);
    expect((await call(server, "/v1/auth/token/revoke", {}, deviceToken)).body).toEqual({ ok: true, revoked: true });
    expect(await server.stop()).toBe(0);

    const restarted = await start({ cwd, dataDir, serviceToken: null });
    const refused = await call(restarted, "/v1/workspaces/resolve", { slug: "local" }, deviceToken);
    expect([refused.status, refused.body.error]).toEqual([401, "INVALID_TOKEN"]);
    const byService = await call(restarted, "/v1/workspaces/resolve", { slug: "local" }, restarted.serviceToken);
    expect(byService.body.workspaceId).toBe(workspaceId);
    expect(await restarted.stop()).toBe(0);
  });

  test("kill -9 right after an acknowledged write loses nothing", async () => {
    const deviceToken = await seedDeviceToken(dataDir);
    const server = await start({ cwd, dataDir, serviceToken: null });
    const revoked = await call(server, "/v1/auth/token/revoke", {}, deviceToken);
    expect(revoked.status).toBe(200);
    expect((await server.kill("SIGKILL")).signal).toBe("SIGKILL");

    const restarted = await start({ cwd, dataDir, serviceToken: null }); // takes over the stale LOCK
    const refused = await call(restarted, "/v1/workspaces/resolve", { slug: "local" }, deviceToken);
    expect([refused.status, refused.body.error]).toEqual([401, "INVALID_TOKEN"]);

    // While it runs, a second server on the same data directory is refused.
    const second = await runLocalServerToExit({ cwd, dataDir, serviceToken: null });
    expect(second.code).toBe(1);
    expect(second.output).toMatch(/in use by another local server \(pid \d+\)/);
    expect(await restarted.stop()).toBe(0);
  });

  test("a torn last journal record is ignored", async () => {
    const segment = readdirSync(dataDir)
      .filter((name) => /^journal-\d+\.jsonl$/.test(name))
      .sort()
      .at(-1)!;
    appendFileSync(join(dataDir, segment), '0badc0de {"s":99999,"b":99999,"n":99999,"c":1,"w":[["00000');
    const server = await start({ cwd, dataDir, serviceToken: null });
    expect(server.output()).toMatch(/torn last journal write/);
    const resolved = await call(server, "/v1/workspaces/resolve", { slug: "local" }, server.serviceToken);
    expect(resolved.body.workspaceId).toBe(workspaceId);
    expect(await server.stop()).toBe(0);
  });

  test("a data directory written by the previous version loads, keeps every job and is upgraded", async () => {
    const previous = join(makeTempDir(), "previous");
    cpSync(fileURLToPath(new URL("../fixtures/local-data-previous-version", import.meta.url)), previous, {
      recursive: true,
    });
    const server = await start({ dataDir: previous });
    const resolved = await call(server, "/v1/workspaces/resolve", { slug: "local" }, server.serviceToken);
    const { workspaceId: previousWorkspace } = resolved.body;
    for (const jobId of ["0000000000000000000000010004jobs", "0000000000000000000000010007jobs"]) {
      const got = await call(server, "/v1/jobs/get", { workspaceId: previousWorkspace, jobId }, server.serviceToken);
      expect([got.status, got.body.job?._id]).toEqual([200, jobId]);
    }
    // The first compaction (about 2 s after start) rewrites it in today's format.
    for (let i = 0; i < 100 && existsSync(join(previous, "journal.jsonl")); i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(join(previous, "journal.jsonl"))).toBe(false);
    expect(readFileSync(join(previous, "snapshot.jsonl"), "utf8")).toMatch(
      /^[0-9a-f]{8} \{"format":"ias-local-snapshot","version":2/,
    );
    expect(await server.stop()).toBe(0);
    const again = await start({ dataDir: previous, serviceToken: server.serviceToken });
    const got = await call(
      again,
      "/v1/jobs/get",
      { workspaceId: previousWorkspace, jobId: "0000000000000000000000010007jobs" },
      again.serviceToken,
    );
    expect(got.status).toBe(200);
    expect(await again.stop()).toBe(0);
  });

  test("a taken port: non-zero exit and a clear message; --port wins over PORT", async () => {
    const server = await start();
    const result = await runLocalServerToExit({ port: server.port });
    expect(result.code).toBe(1);
    expect(result.output).toContain(`Port ${server.port} on 127.0.0.1 is already in use`);

    const fromEnv = await runLocalServerToExit({ port: null, env: { PORT: String(server.port) } });
    expect(fromEnv.output).toContain(`Port ${server.port} on 127.0.0.1 is already in use`);
    const flagWins = await start({ port: 0, env: { PORT: String(server.port) } });
    expect(flagWins.port).not.toBe(server.port);
    await Promise.all([flagWins.stop(), server.stop()]);
  });

  test("an unusable data directory: non-zero exit and a clear message", async () => {
    const file = join(makeTempDir(), "a-file");
    writeFileSync(file, "not a directory");
    const notADirectory = await runLocalServerToExit({ dataDir: file });
    expect(notADirectory.code).toBe(1);
    expect(notADirectory.output).toMatch(/exists but is not a directory/);

    const corrupt = join(makeTempDir(), "corrupt");
    mkdirSync(corrupt);
    writeFileSync(join(corrupt, "journal.jsonl"), 'not json\n{"n":1,"c":1,"w":[]}\n');
    const unreadable = await runLocalServerToExit({ dataDir: corrupt });
    expect(unreadable.code).toBe(1);
    expect(unreadable.output).toMatch(/journal\.jsonl line 1 is corrupt/);
  });
});
