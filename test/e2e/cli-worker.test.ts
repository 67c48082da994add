// @vitest-environment node
/**
 * `ias repo link` and `ias worker start` end to end: the local server and the CLI as real
 * processes over real sockets, a temporary git checkout, and a job command (job.sh) that acts
 * on the job's prompt: commit a file, fail, wait to be canceled, wait for a gate, hang on the
 * first attempt.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { remoteUrlHash } from "../../scripts/cli/remote";
import {
  eventually,
  isAlive,
  killCliProcesses,
  killProcessGroups,
  loginAsService,
  runCli,
  setWorkerSettings,
  startCli,
} from "../support/cli-process";
import {
  callAsService,
  makeTempDir,
  removeTempDirs,
  spawnLocalServer,
  type LocalProcess,
} from "../support/local-process";

const JOB_SCRIPT = `#!/bin/bash
set -e
case "$IAS_JOB_PROMPT" in
  commit*)
    cat > "$SCRATCH/stdin-$IAS_JOB_ID.json"
    echo "committing for $IAS_JOB_KIND job $IAS_JOB_ID"
    echo "$IAS_JOB_ID" > result.txt
    git add result.txt
    git -c user.email=worker@example.com -c user.name=worker commit -qm "job $IAS_JOB_ID"
    ;;
  fail*)
    echo "about to fail"
    echo "something broke" >&2
    exit 3
    ;;
  wait*)
    # A descendant that ignores SIGTERM (and does not hold the job's output pipes).
    (trap '' TERM; exec sleep 60 >/dev/null 2>&1) & echo "$$ $!" > "$SCRATCH/pids-$IAS_JOB_ID"
    echo waiting
    wait
    ;;
  gate*)
    echo "$$" > "$SCRATCH/pids-$IAS_JOB_ID"
    while [ ! -e "$SCRATCH/gate-$IAS_JOB_ID" ]; do sleep 0.05; done
    echo released
    ;;
  recover*)
    if [ "$IAS_JOB_ATTEMPT" = "1" ]; then
      sleep 60 & echo "$$ $!" > "$SCRATCH/pids-$IAS_JOB_ID"
      wait
    fi
    echo "attempt $IAS_JOB_ATTEMPT finished"
    ;;
esac
`;

let server: LocalProcess;
let workspaceId: string;
let repoId: string;
const home = makeTempDir("ias-cli-home-");
const scratch = makeTempDir("ias-cli-scratch-");
const checkout = join(makeTempDir("ias-cli-repo-"), "widgets");
const orphanGroups: number[] = [];
const cli = { home, cwd: checkout, env: { SCRATCH: scratch } };

const api = (route: string, body: object) => callAsService(server, route, body);
const getJob = async (jobId: string) => (await api("/v1/jobs/get", { workspaceId, jobId })).job;
const eventsOf = async (jobId: string) =>
  (await api("/v1/job-events/list-for-job", { workspaceId, jobId, limit: 500 })).events as Array<Record<string, any>>;
const git = (...args: string[]) => execFileSync("git", args, { cwd: checkout, encoding: "utf8" }).trim();

async function enqueue(prompt: string): Promise<string> {
  const result = await runCli(["jobs", "enqueue", "--prompt", prompt, "--repo", repoId, "--json"], cli);
  expect(result.code, result.stderr).toBe(0);
  return result.json().jobId;
}

/** pids written by job.sh; their process groups are killed after the tests if still alive. */
async function pidsOf(jobId: string): Promise<number[]> {
  const file = join(scratch, `pids-${jobId}`);
  const pids = await eventually(
    async () =>
      existsSync(file) && readFileSync(file, "utf8").trim()
        ? readFileSync(file, "utf8").trim().split(" ").map(Number)
        : undefined,
    `job ${jobId} to start`,
  );
  orphanGroups.push(pids[0]!);
  return pids;
}

beforeAll(async () => {
  server = await spawnLocalServer();
  mkdirSync(checkout, { recursive: true });
  git("init", "-q");
  git("remote", "add", "origin", "git@GitHub.com:acme/widgets.git");
  writeFileSync(join(checkout, "README.md"), "widgets\n");
  git("add", "README.md");
  git("-c", "user.email=dev@example.com", "-c", "user.name=dev", "commit", "-qm", "initial");
  writeFileSync(join(scratch, "job.sh"), JOB_SCRIPT, { mode: 0o755 });
  workspaceId = await loginAsService(server, cli);
});

afterEach(async () => {
  await killCliProcesses();
});

afterAll(async () => {
  await killCliProcesses();
  killProcessGroups(orphanGroups);
  await server?.kill("SIGKILL");
  removeTempDirs();
});

describe("ias repo link", () => {
  test("hashes the normalised origin, registers the repo once and maps it to the checkout", async () => {
    const first = await runCli(["repo", "link", "--json"], cli);
    expect(first.code, first.stderr).toBe(0);
    const linked = first.json();
    expect(linked).toMatchObject({
      created: true,
      path: checkout,
      label: "widgets",
      remoteUrlHash: remoteUrlHash("https://github.com/acme/widgets"),
    });
    repoId = linked.repoId;

    // Another clone form of the same repository resolves to the same repo on the server.
    const resolved = await api("/v1/repos/resolve", {
      workspaceId,
      remoteUrlHash: remoteUrlHash("https://github.com/acme/widgets.git"),
    });
    expect(resolved.repoId).toBe(repoId);

    const again = await runCli(["repo", "link", checkout, "--json"], { ...cli, cwd: home });
    expect(again.json()).toMatchObject({ repoId, created: false });
    const config = JSON.parse(readFileSync(join(home, "worker.json"), "utf8"));
    expect(config.repos.mappings).toEqual([
      expect.objectContaining({ repoId, localPath: checkout, workspaceId, convexDeploymentUrl: server.baseUrl }),
    ]);
    expect(config.controlPlane).toEqual({ convexDeploymentUrl: server.baseUrl, workspaceSlug: "local" });

    // The worker settings the following tests use: a short lease, quick idle polling.
    setWorkerSettings(home, {
      command: ["bash", join(scratch, "job.sh")],
      leaseMs: 10_000,
      cancelGraceMs: 2_000,
      idleBackoffMs: { min: 100, max: 300 },
    });
    const noOrigin = join(makeTempDir("ias-cli-no-origin-"));
    execFileSync("git", ["init", "-q"], { cwd: noOrigin });
    const refused = await runCli(["repo", "link", noOrigin], cli);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('has no "origin" remote');

    const doctor = await runCli(["doctor", "--json"], cli);
    expect(doctor.json(), doctor.stderr).toMatchObject({ ok: true });
  });
});

describe("ias worker start", () => {
  test("runs a job whose command commits a file; evidence carries that commit", async () => {
    const baseSha = git("rev-parse", "HEAD");
    const jobId = await enqueue("commit a result file");
    const worker = startCli(["worker", "start", "--once", "--json"], cli);
    expect(await worker.exited).toEqual({ code: 0, signal: null });

    const job = await getJob(jobId);
    expect(job).toMatchObject({ status: "done", outcome: "done" });
    expect(job.evidence).toEqual({
      headSha: git("rev-parse", "HEAD"),
      baseSha,
      changedFiles: ["result.txt"],
      exitCode: 0,
      signal: null,
    });
    expect(job.evidence.headSha).not.toBe(baseSha);
    expect(git("log", "-1", "--format=%s")).toBe(`job ${jobId}`);

    const stdinJob = JSON.parse(readFileSync(join(scratch, `stdin-${jobId}.json`), "utf8"));
    expect(stdinJob).toMatchObject({ _id: jobId, kind: "work", prompt: "commit a result file", repoId });
    const logged = (await eventsOf(jobId)).filter((event) => event.type === "log").flatMap((event) => event.data.lines);
    expect(logged).toContain(`committing for work job ${jobId}`);
    expect(worker.events().map((event) => event.event)).toEqual(["online", "claimed", "finished", "offline"]);
  });

  test("a command that exits non-zero fails the job with its exit code and stderr", async () => {
    const jobId = await enqueue("fail on purpose");
    const worker = startCli(["worker", "start", "--once", "--json"], cli);
    expect((await worker.exited).code).toBe(1);

    const job = await getJob(jobId);
    expect(job).toMatchObject({
      status: "failed",
      outcomeReason: "exit_code_3",
      message: "The command exited with code 3: something broke",
    });
    expect(job.evidence).toMatchObject({ exitCode: 3, changedFiles: [] });
    const logged = (await eventsOf(jobId)).filter((event) => event.type === "log").flatMap((event) => event.data.lines);
    expect(logged).toEqual(["about to fail", "[stderr] something broke"]);
  });

  test("jobs list, get, events, retry and cancel through the CLI", async () => {
    const failed = await runCli(["jobs", "list", "--status", "failed", "--json"], cli);
    const [job] = failed.json().jobs;
    expect(job).toMatchObject({ status: "failed", prompt: "fail on purpose" });
    const shown = await runCli(["jobs", "get", job._id], cli);
    expect(shown.stdout).toContain(`Job ${job._id}: failed (failed), work, attempt 1/3`);
    // One event per page: every page is printed, not just the first.
    const timeline = await runCli(["jobs", "events", job._id, "--limit", "1"], cli);
    // Each line with the time it was printed (sent by the worker as lineTimes).
    expect(timeline.stdout).toMatch(/#\d+ \S+ log\n {4}\S+Z about to fail\n {4}\S+Z \[stderr\] something broke/);
    const retried = await runCli(["jobs", "retry", job._id, "--json"], cli);
    expect(retried.json().job).toMatchObject({ _id: job._id, status: "pending" });
    const canceled = await runCli(["jobs", "cancel", job._id], cli);
    expect(canceled.stdout).toBe(`Job ${job._id} canceled.\n`);
    const again = await runCli(["jobs", "cancel", job._id, "--json"], cli);
    expect(again.code).toBe(1);
    expect(again.json()).toMatchObject({ ok: false, error: "INVALID_JOB_STATE" });
    const unreadable = await runCli(["jobs", "enqueue", "--prompt-file", join(scratch, "no-such-prompt.md")], cli);
    expect(unreadable.code).toBe(2);
    expect(unreadable.stderr).toContain("Cannot read --prompt-file");
  });

  test("a job canceled mid-run: its processes, even one ignoring SIGTERM, are stopped and it ends canceled", async () => {
    const jobId = await enqueue("wait until canceled");
    const worker = startCli(["worker", "start", "--once", "--json"], cli);
    const [shellPid, sleepPid] = await pidsOf(jobId);
    expect(isAlive(shellPid!) && isAlive(sleepPid!)).toBe(true);

    const cancel = await runCli(["jobs", "cancel", jobId, "--reason", "no longer needed"], cli);
    expect(cancel.stdout).toContain("Cancel requested");
    expect((await worker.exited).code).toBe(1);

    expect(await getJob(jobId)).toMatchObject({
      status: "canceled",
      outcome: "canceled",
      outcomeReason: "cancel_requested",
    });
    expect(isAlive(shellPid!)).toBe(false);
    expect(isAlive(sleepPid!)).toBe(false); // the whole process group, SIGKILLed after the grace period
  });

  test("timeoutMs: a command that would run on is stopped and the job ends failed/timeout (server timers)", async () => {
    const { jobId } = await api("/v1/jobs/enqueue", {
      workspaceId,
      repoId,
      kind: "work",
      prompt: "wait: past the timeout",
      timeoutMs: 10_000,
      idempotencyKey: "e2e-timeout",
    });
    const worker = startCli(["worker", "start", "--once", "--json", "--lease-ms", "10000"], cli);
    const [shellPid, sleepPid] = await pidsOf(jobId);
    expect(isAlive(shellPid!) && isAlive(sleepPid!)).toBe(true);
    await worker.exited;
    expect(await getJob(jobId)).toMatchObject({
      status: "failed",
      outcome: "failed",
      timedOut: true,
      outcomeReason: { category: "failed", code: "timeout" },
    });
    const types = (await eventsOf(jobId)).map((event) => event.type);
    expect(types.slice(0, 2)).toEqual(["enqueued", "claimed"]);
    expect(types).toContain("timed_out");
    expect(types.at(-1)).toBe("failed");
    expect(isAlive(shellPid!)).toBe(false);
    expect(isAlive(sleepPid!)).toBe(false);
  });

  test("SIGINT drains: no new claims, the running job finishes, then offline and exit 0", async () => {
    const jobId = await enqueue("gate: finish when released");
    const worker = startCli(["worker", "start", "--json"], cli);
    await pidsOf(jobId);
    const workerId = worker.events().find((event) => event.event === "online")!.workerId;

    worker.proc.kill("SIGINT");
    await worker.waitFor(
      (process) => process.events().some((event) => event.event === "draining"),
      "the draining event",
    );
    // The server sees the worker draining: it hands out nothing, even with a job waiting.
    await eventually(
      async () =>
        (await api("/v1/jobs/claim-next", { workspaceId, workerId })).reason === "WORKER_NOT_ONLINE" ? true : undefined,
      "status draining",
    );
    const waiting = await enqueue("commit: must stay queued while draining");

    writeFileSync(join(scratch, `gate-${jobId}`), "");
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(worker.events().map((event) => event.event)).toEqual([
      "online",
      "claimed",
      "draining",
      "finished",
      "offline",
    ]);
    expect(await getJob(jobId)).toMatchObject({ status: "done" });
    expect(await getJob(waiting)).toMatchObject({ status: "pending", attempts: 0 });
    expect((await api("/v1/jobs/claim-next", { workspaceId, workerId })).reason).toBe("WORKER_NOT_ONLINE");
    await api("/v1/jobs/cancel", { workspaceId, jobId: waiting });
  });

  test("SIGHUP (terminal closed) drains like SIGINT", async () => {
    const worker = startCli(["worker", "start", "--json"], cli);
    await worker.waitFor((process) => process.events().some((event) => event.event === "online"), "the online event");
    worker.proc.kill("SIGHUP");
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(worker.events().map((event) => event.event)).toEqual(["online", "draining", "offline"]);
  });

  test("a worker killed mid-job: the lease expires and a second worker finishes the job", async () => {
    const jobId = await enqueue("recover after the first worker dies");
    const first = startCli(["worker", "start", "--json", "--name", "first"], cli);
    await pidsOf(jobId);
    const firstWorkerId = first.events().find((event) => event.event === "online")!.workerId;
    first.proc.kill("SIGKILL");
    await first.exited;

    const second = startCli(["worker", "start", "--once", "--json", "--name", "second"], cli);
    expect(await second.exited).toEqual({ code: 0, signal: null });
    const secondWorkerId = second.events().find((event) => event.event === "online")!.workerId;
    expect(secondWorkerId).not.toBe(firstWorkerId);
    expect(await getJob(jobId)).toMatchObject({ status: "done", attempts: 2 });
    const events = await eventsOf(jobId);
    const claims = events.filter((event) => event.type === "claimed").map((event) => event.data.workerId);
    expect(claims).toEqual([firstWorkerId, secondWorkerId]);
    expect(
      events.map((event) => event.type).filter((type) => ["claimed", "recovered", "completed"].includes(type)),
    ).toEqual(["claimed", "recovered", "claimed", "completed"]);
    const logged = events.filter((event) => event.type === "log").flatMap((event) => event.data.lines);
    expect(logged).toEqual(["attempt 2 finished"]);
  });

  test("a worker that lost its lease (paused past expiry) stops its command and abandons the job", async () => {
    const jobId = await enqueue("recover after the first worker stalls");
    const stalled = startCli(["worker", "start", "--once", "--json", "--name", "stalled"], cli);
    const [shellPid, sleepPid] = await pidsOf(jobId);
    stalled.proc.kill("SIGSTOP");

    // The job is recovered and claimed again, but the stalled worker's command still runs in the
    // checkout (and holds its lock): the healthy worker waits for it, keeping its own lease.
    const healthy = startCli(["worker", "start", "--once", "--json", "--name", "healthy"], cli);
    await healthy.waitFor(
      (process) => process.stderr().includes("is busy with another job"),
      "the healthy worker to wait for the checkout",
    );
    expect(healthy.events().find((event) => event.event === "claimed")).toMatchObject({ jobId });

    stalled.proc.kill("SIGCONT"); // its next job heartbeat answers LEASE_MISMATCH: it stops its command, frees the checkout
    expect((await stalled.exited).code).toBe(1);
    expect(stalled.events().find((event) => event.event === "finished")).toMatchObject({ jobId, outcome: "abandoned" });
    expect(isAlive(shellPid!) || isAlive(sleepPid!)).toBe(false);

    expect((await healthy.exited).code).toBe(0);
    expect(await getJob(jobId)).toMatchObject({ status: "done", attempts: 2 });
  });
});
