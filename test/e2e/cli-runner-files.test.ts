// @vitest-environment node
/**
 * One `~/.ias` for `ias` and the deployed IAS runner (SPEC §12), through the real CLI process and
 * the local server: what `ias auth login` writes the runner finds (a reader written to the
 * runner's rules), a runner-written auth.json keeps all its entries, the old layout is converted,
 * a runner-style worker.json works with `ias doctor`, `ias repo link` and `ias worker start`, and
 * an unusable file is explained in a sentence with exit code 1. Also the command line itself:
 * `ias help` and a usage error before any login.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { remoteUrlHash } from "../../scripts/cli/remote";
import { killCliProcesses, makeCheckout, runCli } from "../support/cli-process";
import {
  callAsService,
  makeTempDir,
  removeTempDirs,
  spawnLocalServer,
  type LocalProcess,
} from "../support/local-process";
import { runnerFindLogin, writeRunnerFile } from "../support/runner-files";

let server: LocalProcess;
let workspaceId: string;

beforeAll(async () => {
  server = await spawnLocalServer();
  workspaceId = (await api("/v1/workspaces/resolve", { slug: "local" })).workspaceId;
});
afterAll(async () => {
  await killCliProcesses();
  await server?.kill("SIGKILL");
  removeTempDirs();
});

const api = (route: string, body: object) => callAsService(server, route, body);
const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8"));

const checkout = (name: string, origin: string) => makeCheckout(join(makeTempDir("ias-runner-repo-"), name), origin);

describe("the command line", () => {
  test("ias help lists every command; a malformed flag exits 2 with no login present", async () => {
    const home = makeTempDir("ias-runner-help-");
    const help = await runCli(["help"], { home });
    expect(help.code).toBe(0);
    for (const command of ["auth login", "auth logout", "auth status", "repo link", "repo list", "worker start"])
      expect(help.stdout).toContain(`ias ${command}`);
    for (const command of ["jobs enqueue", "jobs list", "jobs get", "jobs events", "jobs cancel", "jobs retry"])
      expect(help.stdout).toContain(`ias ${command}`);
    for (const command of ["workspace resolve", "cp openapi-url", "doctor"])
      expect(help.stdout).toContain(`ias ${command}`);

    const usage = await runCli(["jobs", "list", "--limit", "abc", "--json"], { home });
    expect(usage.code).toBe(2);
    expect(usage.json()).toMatchObject({ ok: false, error: "USAGE_ERROR" });
    expect(usage.stderr).toContain('--limit must be an integer, got "abc".');
    expect(usage.stderr).not.toContain("Not logged in");
  });
});

describe("auth.json shared with the runner", () => {
  test("ias auth login --token-stdin: the runner's reader finds the token; its own entries all survive", async () => {
    const home = makeTempDir("ias-runner-auth-");
    const theirs = [
      {
        convexDeploymentUrl: "https://happy-otter-123.convex.cloud",
        workspaceSlug: "acme",
        workspaceId: "ws_acme",
        token: "ias_acme",
        expiresAt: 4_102_444_800_000,
      },
      { convexDeploymentUrl: `${server.baseUrl}/`, workspaceSlug: "other", workspaceId: "ws_o", token: "ias_o" },
      {
        convexDeploymentUrl: `${server.baseUrl}/`,
        workspaceSlug: "local",
        workspaceId: "old",
        token: "ias_expired",
        expiresAt: 1,
      },
    ];
    writeRunnerFile(home, "auth.json", { version: 1, entries: theirs, runnerSetting: true });
    expect((await runCli(["auth", "status"], { home })).stdout).toContain("expired");

    const login = await runCli(["auth", "login", "--url", server.baseUrl, "--workspace", "local", "--token-stdin"], {
      home,
      input: server.serviceToken,
    });
    expect(login.code, login.stderr).toBe(0);
    const file = readJson(join(home, "auth.json"));
    expect(file.runnerSetting).toBe(true);
    expect(file.entries.slice(0, 2)).toEqual(theirs.slice(0, 2));
    expect(file.entries).toHaveLength(3);
    expect(runnerFindLogin(home, server.baseUrl, "local")).toMatchObject({ token: server.serviceToken, workspaceId });
    expect(runnerFindLogin(home, "https://happy-otter-123.convex.cloud/", "acme")!.token).toBe("ias_acme");

    const status = await runCli(["auth", "status", "--json"], { home });
    expect(status.json().logins.find((entry: any) => entry.current)).toMatchObject({ workspaceSlug: "local" });
    expect(status.stdout).not.toContain(server.serviceToken);
  });

  test("an auth.json in the old ias layout is converted on first use", async () => {
    const home = makeTempDir("ias-runner-old-");
    writeRunnerFile(home, "auth.json", {
      current: `${server.baseUrl}#local`,
      logins: {
        [`${server.baseUrl}#local`]: {
          siteUrl: server.baseUrl,
          workspaceSlug: "local",
          workspaceId,
          token: server.serviceToken,
          source: "provided",
          savedAt: "2025-01-01T00:00:00.000Z",
        },
      },
    });
    const resolved = await runCli(["workspace", "resolve", "--json"], { home });
    expect(resolved.json()).toMatchObject({ workspaceId });
    expect(readJson(join(home, "auth.json"))).toMatchObject({ version: 1, entries: [{ workspaceSlug: "local" }] });
    expect(runnerFindLogin(home, server.baseUrl, "local")!.token).toBe(server.serviceToken);
  });
});

describe("worker.json shared with the runner", () => {
  test("a runner-style worker.json works with ias doctor, ias repo link and ias worker start", async () => {
    const home = makeTempDir("ias-runner-worker-");
    const runnerRepo = checkout("runner-app", "https://example.com/team/runner-app.git");
    const { repoId } = await api("/v1/repos/upsert", {
      workspaceId,
      remoteUrlHash: remoteUrlHash("https://example.com/team/runner-app.git"),
      status: "active",
    });
    const runnerConfig = {
      controlPlane: {
        convexDeploymentUrl: `${server.baseUrl}/`,
        workspaceSlug: "local",
        httpServiceToken: server.serviceToken,
      },
      worker: { displayName: "runner-box", machineFingerprint: "fp-runner-box" },
      repos: { mappings: [{ repoId, localPath: runnerRepo }] },
      capabilities: {
        executionModes: ["hybrid"],
        canWrite: true,
        enforcedAllowlistHash: "h",
        openaiAuthMode: "chatgpt",
      },
      runnerSection: { keep: true },
    };
    writeRunnerFile(home, "worker.json", runnerConfig);

    // No auth.json at all: the runner's service token serves its controlPlane.
    const doctor = await runCli(["doctor", "--json"], { home });
    expect(doctor.json(), doctor.stderr).toMatchObject({ ok: true });
    expect(doctor.json().checks.map((check: any) => check.name)).toContain(`repo ${repoId}`);

    const second = checkout("second-app", "git@example.com:team/second-app.git");
    const linked = await runCli(["repo", "link", "--json"], { home, cwd: second });
    expect(linked.code, linked.stderr).toBe(0);
    const file = readJson(join(home, "worker.json"));
    expect(file).toMatchObject({
      controlPlane: runnerConfig.controlPlane,
      worker: runnerConfig.worker,
      capabilities: runnerConfig.capabilities,
      runnerSection: { keep: true },
    });
    expect(file.repos.mappings).toEqual([
      runnerConfig.repos.mappings[0],
      expect.objectContaining({ repoId: linked.json().repoId, localPath: second, workspaceId }),
    ]);
    expect((await runCli(["repo", "list", "--json"], { home })).json().mappings).toHaveLength(2);

    // A job of the runner's mapping runs in the runner's checkout, as the runner's worker.
    const { jobId } = await api("/v1/jobs/enqueue", { workspaceId, repoId, kind: "work", prompt: "hello" });
    const worker = await runCli(["worker", "start", "--once", "--json", "--command", 'pwd > "$IAS_JOB_ID.where"'], {
      home,
    });
    expect(worker.code, worker.stderr).toBe(0);
    expect(readFileSync(join(runnerRepo, `${jobId}.where`), "utf8").trim()).toBe(runnerRepo);
    const { job } = await api("/v1/jobs/get", { workspaceId, jobId });
    expect(job.status).toBe("done");
    // The worker that ran it is the runner's (same machineFingerprint, so the same worker record).
    const runnerWorker = await api("/v1/workers/heartbeat", {
      workspaceId,
      displayName: "runner-box",
      machineFingerprint: "fp-runner-box",
      status: "offline",
      capabilities: {},
    });
    expect(runnerWorker.workerId).toBe(job.claimedBy);
    expect(readJson(join(home, "worker.json")).worker).toEqual(runnerConfig.worker); // its identity, unchanged
  });

  test("an unusable worker.json is explained in a sentence: exit 1, not a usage error", async () => {
    const home = makeTempDir("ias-runner-broken-");
    writeRunnerFile(home, "worker.json", { repos: { mappings: [{ repoId: "r1", localPath: 42 }] } });
    const sentence =
      /"repos\.mappings\.0\.localPath" in \S+worker\.json must be a string \(the checkout's absolute path; "ias repo link" in the checkout writes it\), not a number; change it\./;
    const doctor = await runCli(["doctor"], { home });
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(sentence);
    const link = await runCli(["repo", "link"], { home, cwd: checkout("x", "https://example.com/x.git") });
    expect(link.code).toBe(1);
    expect(link.stderr).toMatch(sentence);
    writeFileSync(join(home, "worker.json"), "{ not json");
    const again = await runCli(["repo", "list"], { home });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(
      /worker\.json is not valid JSON \(.*line 1, column 3\); fix it, or move the file away/,
    );
  });
});
