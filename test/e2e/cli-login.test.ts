// @vitest-environment node
/**
 * `ias auth login` (device flow) end to end against the local server over real sockets: the CLI
 * prints the approval URL and user code, the local approval page shows the same code and its
 * form approves, the CLI stores the token (mode 0600); then the token works, and logout
 * revokes it on the server.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { killCliProcesses, makeCheckout, runCli, startCli } from "../support/cli-process";
import { makeTempDir, removeTempDirs, spawnLocalServer, type LocalProcess } from "../support/local-process";
import { runnerFindLogin } from "../support/runner-files";

let server: LocalProcess;
const home = makeTempDir("ias-cli-login-");

beforeAll(async () => {
  server = await spawnLocalServer();
});

afterAll(async () => {
  await killCliProcesses();
  await server?.kill("SIGKILL");
  removeTempDirs();
});

describe("ias auth", () => {
  test("commands that need a login say so with exit code 3", async () => {
    const result = await runCli(["jobs", "list", "--json"], { home });
    expect(result.code).toBe(3);
    expect(result.json()).toMatchObject({ ok: false, error: "NOT_LOGGED_IN" });
    expect(result.stderr).toContain("ias auth login --url");
  });

  test("an unknown workspace is refused before anything is stored", async () => {
    const freshHome = makeTempDir("ias-cli-unknown-");
    const result = await runCli(["auth", "login", "--url", server.baseUrl, "--workspace", "no-such-workspace"], {
      home: freshHome,
    });
    expect(result.code).toBe(4);
    expect(result.stderr).toContain("WORKSPACE_NOT_FOUND");
    expect(existsSync(join(freshHome, "auth.json"))).toBe(false);
  });

  test("a login denied on the local page ends with exit code 3 and stores nothing", async () => {
    const denyHome = makeTempDir("ias-cli-deny-");
    const login = startCli(["auth", "login", "--url", server.baseUrl, "--workspace", "local", "--json"], {
      home: denyHome,
    });
    await login.waitFor((cli) => /local\/device\?id=/.test(cli.stdout() + cli.stderr()), "the approval URL");
    const deviceId = /local\/device\?id=([\w-]+)/.exec(login.stdout() + login.stderr())![1]!;
    const deny = await fetch(`${server.baseUrl}/local/device/deny`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ id: deviceId }).toString(),
    });
    expect(deny.status).toBeLessThan(400);
    expect((await login.exited).code).toBe(3);
    expect(login.stdout() + login.stderr()).toContain("DEVICE_DENIED");
    expect(existsSync(join(denyHome, "auth.json"))).toBe(false);
  });

  test("device login: approve on the local page, token stored 0600, usable, then revoked by logout", async () => {
    // The API URL works too: it is normalised to the site URL that keys the login.
    const login = startCli(
      ["auth", "login", "--url", server.apiUrl, "--workspace", "local", "--machine-name", "test-box"],
      { home },
    );
    await login.waitFor((cli) => /code:\s+\S+/.test(cli.stdout()), "the approval URL and code");
    const approvalUrl = /(http:\/\/127\.0\.0\.1:\d+\/local\/device\?id=\S+)/.exec(login.stdout())![1]!;
    const userCode = /code:\s+(\S+)/.exec(login.stdout())![1]!;
    expect(userCode).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4}$/);

    const page = await fetch(approvalUrl);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(userCode);
    const deviceId = new URL(approvalUrl).searchParams.get("id")!;
    const approve = await fetch(`${server.baseUrl}/local/device/approve`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ id: deviceId }).toString(),
    });
    expect(approve.status).toBeLessThan(400);

    expect(await login.exited).toEqual({ code: 0, signal: null });
    expect(login.stdout()).toContain(`Logged in to workspace "local"`);
    const authFile = join(home, "auth.json");
    expect(statSync(authFile).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(authFile, "utf8"));
    const entry = stored.entries[0];
    expect(stored.entries).toHaveLength(1);
    expect(entry).toMatchObject({ convexDeploymentUrl: server.baseUrl, workspaceSlug: "local", source: "device" });
    expect(entry.token).toMatch(/^ias_/);
    // The deployed runner finds the device login too (its rules, not ias's code).
    expect(runnerFindLogin(home, `${server.baseUrl}/`, "local")?.token).toBe(entry.token);
    expect(login.stdout()).not.toContain(entry.token);

    const resolved = await runCli(["workspace", "resolve", "--json"], { home });
    expect(resolved.json()).toMatchObject({ workspaceId: entry.workspaceId, workspace: { slug: "local" } });
    const openApi = await runCli(["cp", "openapi-url"], { home });
    expect(openApi.stdout.trim()).toBe(`${server.apiUrl}/openapi.json`);
    const status = await runCli(["auth", "status"], { home });
    expect(status.stdout).toContain("local");
    expect(status.stdout).not.toContain(entry.token);

    // The developer flow with the device token: link a checkout, queue a job, run it.
    const checkout = makeCheckout(makeTempDir("ias-cli-login-repo-"), "https://example.com/team/app.git");
    expect((await runCli(["repo", "link"], { home, cwd: checkout })).code).toBe(0);
    const queued = await runCli(["jobs", "enqueue", "--prompt", "hello from a device login", "--json"], {
      home,
      cwd: checkout,
    });
    const worker = await runCli(
      ["worker", "start", "--once", "--command", 'test "$IAS_JOB_PROMPT" = "hello from a device login"'],
      { home },
    );
    expect(worker.code, worker.stderr).toBe(0);
    const job = await runCli(["jobs", "get", queued.json().jobId, "--json"], { home });
    expect(job.json().job).toMatchObject({ status: "done" });

    const logout = await runCli(["auth", "logout", "--json"], { home });
    expect(logout.json()).toMatchObject({ ok: true, revoked: true });
    expect(JSON.parse(readFileSync(authFile, "utf8")).entries).toEqual([]);
    const afterLogout = await fetch(`${server.apiUrl}/v1/workspaces/resolve`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${entry.token}` },
      body: JSON.stringify({ slug: "local" }),
    });
    expect(afterLogout.status).toBe(401);
  });
});
