// @vitest-environment node
/**
 * The worker's job runner (`runJob`) and loop (`Worker`) against a fake API client, with real
 * commands in a temporary git checkout: how a job's processes are started, stopped and cleaned
 * up, how the lease is kept until the outcome is reported, and what the command may see.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, test, vi } from "vitest";
import { ApiError, type ApiClient } from "../../scripts/cli/client";
import { changedFiles, gitDir, headSha } from "../../scripts/cli/git";
import { heartbeatIntervalMs, runJob, type JobRunOptions } from "../../scripts/cli/job-run";
import { killJobProcessesNow } from "../../scripts/cli/job-process";
import { Output } from "../../scripts/cli/output";
import { Worker, type WorkerOptions } from "../../scripts/cli/worker";
import { eventually, isAlive } from "../support/cli-process";
import { makeTempDir, removeTempDirs } from "../support/local-process";

type Handler = (body: Record<string, any>, options?: { signal?: AbortSignal }) => unknown;
const TOKEN = "ias_worker_secret_token";

/** A stand-in for the API: records every call; routes without a handler answer like a healthy server. */
function fakeClient(handlers: Record<string, Handler> = {}) {
  const calls: Array<{ route: string; body: Record<string, any> }> = [];
  const defaults: Record<string, Handler> = {
    "/v1/jobs/heartbeat": () => ({ cancelRequested: false }),
    "/v1/workers/heartbeat": () => ({ workerId: "worker-1" }),
  };
  const client = {
    siteUrl: "http://127.0.0.1:1",
    revealsToken: (text: string) => text.includes(TOKEN),
    async call(route: string, body: Record<string, any>, options?: { signal?: AbortSignal }) {
      calls.push({ route, body });
      return (await (handlers[route] ?? defaults[route])?.(body, options)) ?? {};
    },
  };
  const of = (route: string) => calls.filter((call) => call.route === route).map((call) => call.body);
  return { client: client as unknown as ApiClient, calls, of };
}

const quiet = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;
const out = new Output({ json: true, stdout: quiet, stderr: quiet });
const scratch = makeTempDir("ias-job-run-");
const checkout = join(scratch, "checkout");
mkdirSync(checkout);
const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-c", "user.email=t@example.com", "-c", "user.name=t", ...args], {
    cwd,
    encoding: "utf8",
  }).trim();
git(checkout, "init", "-q");
writeFileSync(join(checkout, "a.txt"), "a\n");
git(checkout, "add", "a.txt");
git(checkout, "commit", "-qm", "initial");

const strays: number[] = [];
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});
afterAll(() => {
  for (const pid of strays) if (isAlive(pid)) process.kill(pid, "SIGKILL");
  removeTempDirs();
});

function jobOptions(client: ApiClient, script: string, overrides: Partial<JobRunOptions> = {}): JobRunOptions {
  return {
    client,
    out,
    workspaceId: "workspace-1",
    workerId: "worker-1",
    claim: {
      jobId: "job-1",
      job: {
        _id: "job-1",
        kind: "work",
        role: "implementer",
        prompt: "do it",
        repoId: "repo-1",
        requirements: {},
        attempts: 1,
      },
      claimGeneration: 1,
      leaseExpiresAt: Date.now() + 60_000,
    },
    checkout,
    command: ["/bin/sh", "-c", script],
    leaseMs: 60_000,
    cancelGraceMs: 300,
    verbose: false,
    interrupt: new AbortController().signal,
    stateDir: makeTempDir("ias-job-state-"),
    spoolMaxBytes: 1024 * 1024,
    ...overrides,
  };
}

const loggedLines = (of: (route: string) => Array<Record<string, any>>) =>
  of("/v1/jobs/log").flatMap((body) => body.lines as string[]);

/** The pid a job command wrote to `file`, remembered so a failing test leaves no process behind. */
async function pidFrom(file: string): Promise<number> {
  const pid = await eventually(
    () => (existsSync(file) && readFileSync(file, "utf8").trim() ? Number(readFileSync(file, "utf8")) : undefined),
    `a pid in ${file}`,
    5_000,
    20,
  );
  strays.push(pid);
  return pid;
}

describe("starting the command", () => {
  test("a NUL byte in the prompt is dropped from the environment; the full prompt still goes on stdin", async () => {
    const { client, of } = fakeClient();
    const options = jobOptions(client, 'printf "%s\\n" "$IAS_JOB_PROMPT"; cat');
    options.claim.job.prompt = "a\0b";
    expect(await runJob(options)).toMatchObject({ outcome: "done" });
    const [fromEnv, fromStdin] = loggedLines(of);
    expect(fromEnv).toBe("ab");
    expect(JSON.parse(fromStdin!).prompt).toBe("a\0b");
  });

  test("a command that cannot start fails the job with command_not_started instead of throwing", async () => {
    for (const command of [["/bin/sh", "-c", "true\0"], [join(scratch, "no-such-command")]]) {
      const { client, of } = fakeClient();
      expect(await runJob({ ...jobOptions(client, ""), command })).toMatchObject({ outcome: "failed" });
      expect(of("/v1/jobs/complete")).toEqual([
        expect.objectContaining({ outcome: "failed", outcomeReason: "command_not_started" }),
      ]);
    }
  });

  test("the worker's token is not passed to the command", async () => {
    vi.stubEnv("IAS_TOKEN", "some-other-token");
    vi.stubEnv("MY_AGENT_AUTH", `Bearer ${TOKEN}`);
    const { client, of } = fakeClient();
    await runJob(jobOptions(client, 'echo "${IAS_TOKEN-unset} ${MY_AGENT_AUTH-unset} $IAS_JOB_ID"'));
    expect(loggedLines(of)).toEqual(["unset unset job-1"]);
  });

  test("a job claimed after the second Ctrl-C is not started; it is left to lease recovery", async () => {
    const { client, of } = fakeClient();
    const marker = join(scratch, "started-after-interrupt");
    const interrupt = AbortSignal.abort();
    expect(await runJob(jobOptions(client, `touch ${marker}; sleep 41`, { interrupt }))).toMatchObject({
      outcome: "interrupted",
    });
    expect(existsSync(marker)).toBe(false);
    expect(of("/v1/jobs/complete")).toEqual([]);
  });
});

describe("stopping and cleaning up the job's processes", () => {
  test("a descendant that ignores SIGTERM is killed once the grace period is over", async () => {
    const { client } = fakeClient();
    const pidFile = join(scratch, "stubborn.pid");
    const interrupt = new AbortController();
    // Its output goes elsewhere, so the job's pipes close when the shell exits.
    const running = runJob(
      jobOptions(client, `(trap '' TERM; exec sleep 41 >/dev/null 2>&1) & echo $! > ${pidFile}; wait`, {
        interrupt: interrupt.signal,
      }),
    );
    const stubborn = await pidFrom(pidFile);
    interrupt.abort();
    expect(await running).toMatchObject({ outcome: "interrupted" });
    await eventually(() => (isAlive(stubborn) ? undefined : true), "the stubborn descendant to be killed", 3_000, 20);
  });

  test("background processes of a job that exited normally do not outlive it", async () => {
    const { client } = fakeClient();
    const pidFile = join(scratch, "background.pid");
    expect(await runJob(jobOptions(client, `sleep 41 >/dev/null 2>&1 & echo $! > ${pidFile}`))).toMatchObject({
      outcome: "done",
    });
    const background = await pidFrom(pidFile);
    await eventually(() => (isAlive(background) ? undefined : true), "the background process to be killed", 1_000, 20);
  });

  test("the worker's exit hook kills a running job's process group at once", async () => {
    const { client, of } = fakeClient();
    const pidFile = join(scratch, "running.pid");
    const running = runJob(jobOptions(client, `echo $$ > ${pidFile}; sleep 41`));
    await pidFrom(pidFile);
    killJobProcessesNow();
    expect(await running).toMatchObject({ outcome: "failed" });
    expect(of("/v1/jobs/complete")[0]).toMatchObject({ outcomeReason: "signal_SIGKILL" });
  });
});

describe("keeping the lease until the outcome is reported", () => {
  test("job heartbeats continue after the command exits, until complete answers", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    let heartbeatsDuringComplete = -1;
    const { client, of } = fakeClient({
      "/v1/jobs/complete": () => {
        const before = of("/v1/jobs/heartbeat").length;
        vi.advanceTimersByTime(heartbeatIntervalMs(60_000));
        heartbeatsDuringComplete = of("/v1/jobs/heartbeat").length - before;
      },
    });
    expect(await runJob(jobOptions(client, "true"))).toMatchObject({ outcome: "done" });
    expect(heartbeatsDuringComplete).toBe(1);
  });

  test("complete failing for a whole lease while heartbeats succeed: abandoned, runJob does not throw", async () => {
    const { client, of } = fakeClient({
      "/v1/jobs/complete": () => {
        throw new ApiError("INTERNAL_ERROR", "down", 503);
      },
    });
    const startedAt = Date.now();
    // The shortest lease the server grants (10 s): retried that long after the command ended, then given up.
    expect(await runJob(jobOptions(client, "true", { leaseMs: 10_000 }))).toMatchObject({
      outcome: "abandoned",
      message: expect.stringContaining("down"),
    });
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(10_000);
    expect(of("/v1/jobs/complete").length).toBeGreaterThan(2);
  }, 60_000);

  test("a lease lost while sending the last output stops the remaining batches and complete", async () => {
    const { client, of } = fakeClient({
      "/v1/jobs/log": () => {
        throw new ApiError("LEASE_MISMATCH", "not yours", 409);
      },
    });
    // More than one batch (500 lines each), all sent after the command ended.
    const result = await runJob(jobOptions(client, "i=0; while [ $i -lt 1200 ]; do echo line $i; i=$((i+1)); done"));
    expect(result).toMatchObject({ outcome: "abandoned" });
    expect(of("/v1/jobs/log")).toHaveLength(1);
    expect(of("/v1/jobs/complete")).toEqual([]);
  });

  test("the heartbeat interval is a third of the lease the server can grant", () => {
    expect(heartbeatIntervalMs(60_000)).toBe(20_000);
    expect(heartbeatIntervalMs(10 * 3_600_000)).toBe(1_200_000); // the server caps leases at an hour
    expect(heartbeatIntervalMs(1_000)).toBe(3_333); // and raises them to ten seconds
  });
});

describe("one job at a time per checkout", () => {
  test("two jobs in the same checkout run one after the other", async () => {
    const trace = join(scratch, "trace");
    const script = `echo "start $IAS_JOB_ID" >> ${trace}; sleep 0.3; echo "end $IAS_JOB_ID" >> ${trace}`;
    const jobs = ["job-a", "job-b"].map((jobId) => {
      const { client } = fakeClient();
      const options = jobOptions(client, script);
      options.claim = { ...options.claim, jobId, job: { ...options.claim.job, _id: jobId } };
      return runJob(options);
    });
    expect((await Promise.all(jobs)).map((result) => result.outcome)).toEqual(["done", "done"]);
    const lines = readFileSync(trace, "utf8").trim().split("\n");
    expect(lines.map((line) => line.split(" ")[0])).toEqual(["start", "end", "start", "end"]);
    expect(lines[0]!.split(" ")[1]).toBe(lines[1]!.split(" ")[1]);
  });

  test("a lock left by a dead process is taken over", async () => {
    const dead = spawnSync("true").pid!;
    const lockFile = join((await gitDir(checkout))!, "ias-job.lock");
    writeFileSync(lockFile, `${dead}\n`);
    const { client } = fakeClient();
    expect(await runJob(jobOptions(client, "true"))).toMatchObject({ outcome: "done" });
    expect(existsSync(lockFile)).toBe(false);
  });
});

describe("evidence", () => {
  test("a renamed file is reported under its old and its new path", async () => {
    const repo = join(scratch, "renames");
    mkdirSync(repo);
    git(repo, "init", "-q");
    writeFileSync(join(repo, "old.txt"), "content\n");
    writeFileSync(join(repo, "staged-old.txt"), "other content\n");
    git(repo, "add", ".");
    git(repo, "commit", "-qm", "initial");
    const base = await headSha(repo);
    git(repo, "mv", "old.txt", "new.txt");
    git(repo, "commit", "-qm", "rename");
    git(repo, "mv", "staged-old.txt", "staged-new.txt");
    expect((await changedFiles(repo, base)).files).toEqual(["new.txt", "old.txt", "staged-new.txt", "staged-old.txt"]);
  });

  test("a checkout whose .git is gone does not report the enclosing repository", async () => {
    const outer = join(scratch, "outer");
    const inner = join(outer, "inner");
    mkdirSync(inner, { recursive: true });
    git(outer, "init", "-q");
    writeFileSync(join(inner, "file.txt"), "x\n");
    git(outer, "add", ".");
    git(outer, "commit", "-qm", "outer");
    expect(await headSha(inner)).toBeNull();
    expect(await changedFiles(inner, null)).toEqual({ files: [], truncated: false });
    rmSync(outer, { recursive: true, force: true });
  });
});

describe("the worker loop", () => {
  function workerOptions(client: ApiClient, overrides: Partial<WorkerOptions> = {}): WorkerOptions {
    return {
      client,
      out,
      workspaceId: "workspace-1",
      displayName: "test",
      machineFingerprint: "fingerprint",
      capabilities: {},
      checkouts: new Map(),
      command: ["true"],
      leaseMs: 60_000,
      cancelGraceMs: 300,
      heartbeatIntervalMs: 1_000,
      idleBackoff: { baseMs: 100, maxMs: 100, jitter: 0 },
      once: false,
      verbose: false,
      agentVersion: "test",
      stateDir: makeTempDir("ias-worker-state-"),
      spoolMaxBytes: 1024 * 1024,
      ...overrides,
    };
  }

  test("a refused completion of an unmapped repo's job does not end the worker", async () => {
    const job = {
      _id: "job-1",
      kind: "work",
      role: "r",
      prompt: "p",
      repoId: "repo-elsewhere",
      requirements: {},
      attempts: 1,
    };
    const { client } = fakeClient({
      "/v1/jobs/claim-next": () => ({ jobId: "job-1", job, claimGeneration: 1, leaseExpiresAt: Date.now() + 60_000 }),
      "/v1/jobs/complete": () => {
        throw new ApiError("LEASE_MISMATCH", "not yours", 409);
      },
    });
    expect(await new Worker(workerOptions(client, { once: true })).run()).toBe(1);
  });

  test("worker heartbeats do not pile up behind a slow one; the last one says offline", async () => {
    vi.useFakeTimers();
    let release: () => void = () => {};
    let slow = false;
    const { client, of } = fakeClient({
      "/v1/workers/heartbeat": async () => {
        if (slow) await new Promise<void>((resolve) => (release = resolve));
        return { workerId: "worker-1" };
      },
      "/v1/jobs/claim-next": () => ({ jobId: null, job: null, reason: "NO_JOBS" }),
    });
    const worker = new Worker(workerOptions(client));
    const running = worker.run();
    await vi.advanceTimersByTimeAsync(0);
    slow = true;
    await vi.advanceTimersByTimeAsync(10_500); // ten ticks while the first slow heartbeat hangs
    worker.stop();
    await vi.advanceTimersByTimeAsync(0);
    slow = false;
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(await running).toBe(0);
    expect(of("/v1/workers/heartbeat").map((body) => body.status)).toEqual(["online", "online", "offline"]);
  });
});

test("a second Ctrl-C while the outcome is being reported gives up at once; the outcome stays on disk", async () => {
  const interrupt = new AbortController();
  const { client, of } = fakeClient({
    // The server does not answer; the interrupt must end the wait (the real client aborts the request).
    "/v1/jobs/complete": (_body, options) =>
      new Promise((_resolve, reject) => {
        options?.signal?.addEventListener("abort", () => reject(new Error("aborted")));
        setTimeout(() => interrupt.abort(), 50);
      }),
  });
  const options = jobOptions(client, "true", { interrupt: interrupt.signal });
  const result = await runJob(options);
  expect(result.outcome).toBe("interrupted");
  expect(of("/v1/jobs/complete")).toHaveLength(1);
  // Kept for the next start of this worker (delivered while the lease lasts).
  const kept = JSON.parse(readFileSync(join(options.stateDir, "jobs", "job-1-g1", "outcome.json"), "utf8"));
  expect(kept).toMatchObject({
    route: "/v1/jobs/complete",
    body: { jobId: "job-1", claimGeneration: 1, outcome: "done" },
  });
});

test("a job canceled before its command started reports no evidence from the checkout", async () => {
  const { client, of } = fakeClient({ "/v1/jobs/heartbeat": () => ({ cancelRequested: true }) });
  const lockFile = join(checkout, ".git", "ias-job.lock");
  writeFileSync(lockFile, "1\n"); // another live process (pid 1) holds the checkout
  try {
    writeFileSync(join(checkout, "someone-elses-work.txt"), "busy\n");
    const result = await runJob(jobOptions(client, "true", { leaseMs: 10_000 }));
    expect(result.outcome).toBe("canceled");
    const [completion] = of("/v1/jobs/complete");
    expect(completion).toMatchObject({ outcome: "canceled", evidence: { changedFiles: [], headSha: null } });
  } finally {
    rmSync(lockFile, { force: true });
    rmSync(join(checkout, "someone-elses-work.txt"), { force: true });
  }
}, 30_000);
