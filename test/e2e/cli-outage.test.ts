// @vitest-environment node
/**
 * `ias worker start` through control-plane outages, against the real local server stopped and
 * restarted on the same data directory and port: no output line is lost (they wait in the
 * worker's spool and arrive in order with the times they were printed), a full spool says how
 * many lines it dropped (`log_gap`), and an outcome that could not be reported is reported by
 * the next worker process.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { eventually, killCliProcesses, loginAsService, makeCheckout, runCli, startCli } from "../support/cli-process";
import {
  callAsService,
  localServerPool,
  makeTempDir,
  removeTempDirs,
  type LocalProcess,
} from "../support/local-process";

const JOB_SCRIPT = `#!/bin/bash
set -e
gate() { while [ ! -e "$SCRATCH/$1-$IAS_JOB_ID" ]; do sleep 0.05; done; }
case "$IAS_JOB_PROMPT" in
  outage*)
    echo before
    gate down
    for i in $(seq 1 30); do echo "line $i"; sleep 0.5; done
    touch "$SCRATCH/printed-$IAS_JOB_ID"
    gate up
    echo after
    ;;
  flood*)
    seq 1 1000
    ;;
  restart*)
    echo working
    gate finish
    echo finished
    ;;
esac
`;

const servers = localServerPool();
let server: LocalProcess;
let workspaceId: string;
let repoId: string;
const home = makeTempDir("ias-outage-home-");
const scratch = makeTempDir("ias-outage-scratch-");
const checkout = join(makeTempDir("ias-outage-repo-"), "app");
const cli = { home, cwd: checkout, env: { SCRATCH: scratch } };

const api = (route: string, body: object) => callAsService(server, route, body);
const events = async (jobId: string) =>
  (await api("/v1/job-events/list-for-job", { workspaceId, jobId, limit: 500 })).events as Array<Record<string, any>>;
const loggedLines = async (jobId: string) =>
  (await events(jobId)).filter((event) => event.type === "log").flatMap((event) => event.data.lines as string[]);
const enqueue = async (prompt: string) =>
  (await api("/v1/jobs/enqueue", { workspaceId, repoId, kind: "work", prompt })).jobId as string;
const open = (gate: string, jobId: string) => writeFileSync(join(scratch, `${gate}-${jobId}`), "");

/** The same server again: same data directory, port and token. */
async function restart() {
  server = await servers.start({ dataDir: server.dataDir, port: server.port, serviceToken: server.serviceToken });
}

/** Worker settings, in worker.json's `ias` section. */
function configure(settings: Record<string, unknown>) {
  const path = join(home, "worker.json");
  const config = JSON.parse(readFileSync(path, "utf8"));
  config.ias = { command: ["bash", join(scratch, "job.sh")], idleBackoffMs: { min: 100, max: 300 }, ...settings };
  writeFileSync(path, JSON.stringify(config));
}

beforeAll(async () => {
  server = await servers.start();
  makeCheckout(checkout, "https://example.com/team/outage-app.git");
  writeFileSync(join(scratch, "job.sh"), JOB_SCRIPT, { mode: 0o755 });
  workspaceId = await loginAsService(server, cli);
  const linked = await runCli(["repo", "link", "--json"], cli);
  expect(linked.code, linked.stderr).toBe(0);
  repoId = linked.json().repoId;
});
afterEach(async () => {
  await killCliProcesses();
});
afterAll(async () => {
  await killCliProcesses();
  await servers.killAll();
  removeTempDirs();
});

describe("a control-plane outage while a job prints", () => {
  test("30 lines printed during a 20 s outage all arrive, in order, with the times they were printed", async () => {
    configure({});
    const jobId = await enqueue("outage: print through it");
    const worker = startCli(["worker", "start", "--once", "--json", "--lease-ms", "120000"], cli);
    await eventually(async () => ((await loggedLines(jobId)).includes("before") ? true : undefined), "the first line");

    await server.stop();
    const downAt = Date.now();
    open("down", jobId);
    await eventually(
      () => (existsSync(join(scratch, `printed-${jobId}`)) ? true : undefined),
      "30 lines printed",
      60_000,
    );
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, downAt + 20_000 - Date.now()))); // a 20 s outage
    await restart();
    const upAt = Date.now();
    open("up", jobId);

    expect((await worker.exited).code, worker.stderr()).toBe(0);
    const logEvents = (await events(jobId)).filter((event) => event.type === "log");
    const lines = logEvents.flatMap((event) => event.data.lines as string[]);
    expect(lines).toEqual(["before", ...Array.from({ length: 30 }, (_, i) => `line ${i + 1}`), "after"]);
    // Sent after the outage, each line keeps when it was printed: during it, half a second apart.
    const times = logEvents.flatMap((event) => event.data.lineTimes as number[]);
    const during = times.slice(1, 31);
    expect(during.every((time) => time >= downAt && time < upAt)).toBe(true);
    expect(during.every((time, i) => i === 0 || time > during[i - 1]!)).toBe(true);
    expect(during.at(-1)! - during[0]!).toBeGreaterThanOrEqual(29 * 400);
    const arrivedAt = logEvents.filter((event) => (event.data.lines as string[]).includes("line 1"))[0]!.at;
    expect(arrivedAt).toBeGreaterThanOrEqual(upAt - 1_000); // appended once the server was back
    expect((await api("/v1/jobs/get", { workspaceId, jobId })).job).toMatchObject({ status: "done" });
    expect(worker.stderr()).toContain("cannot send log lines");
  });
});

describe("the spool cap", () => {
  test("lines beyond the cap are dropped and a log_gap event says how many; the rest arrive in order", async () => {
    configure({ logSpoolMaxBytes: 2_000 });
    const jobId = await enqueue("flood: more than the spool holds");
    const worker = await runCli(["worker", "start", "--once", "--json"], cli, 60_000);
    expect(worker.code, worker.stderr).toBe(0);

    const timeline = (await events(jobId)).filter((event) => event.type === "log" || event.type === "log_gap");
    const gaps = timeline.filter((event) => event.type === "log_gap");
    expect(gaps.length).toBeGreaterThanOrEqual(1);
    const dropped = gaps.reduce((sum, event) => sum + event.data.droppedLines, 0);
    const lines = timeline.filter((event) => event.type === "log").flatMap((event) => event.data.lines as string[]);
    expect(lines.length + dropped).toBe(1_000); // every printed line is either there or counted
    expect(lines[0]).toBe("1");
    const numbers = lines.map(Number);
    expect(numbers.every((n, i) => i === 0 || n > numbers[i - 1]!)).toBe(true);
    expect(gaps[0]!.message).toContain("log line(s) dropped");
  });
});

describe("an outcome that could not be reported", () => {
  test("is kept on disk and reported by the next worker process, after the log line before it", async () => {
    configure({ leaseMs: 120_000 });
    const jobId = await enqueue("restart: finish while the server is down");
    const first = startCli(["worker", "start", "--json"], cli);
    await eventually(async () => ((await loggedLines(jobId)).includes("working") ? true : undefined), "the first line");

    await server.stop();
    open("finish", jobId);
    const outcomeFile = await eventually(() => findOutcomeFile(jobId), "the outcome on disk", 60_000);
    const kept = JSON.parse(readFileSync(outcomeFile, "utf8"));
    expect(kept.body).toMatchObject({ jobId, outcome: "done", evidence: { exitCode: 0 } });
    first.proc.kill("SIGKILL"); // the worker dies with the outcome unreported
    await first.exited;

    await restart();
    const second = startCli(["worker", "start", "--json"], cli);
    const job = await eventually(async () => {
      const { job } = await api("/v1/jobs/get", { workspaceId, jobId });
      return job.status === "running" ? undefined : job;
    }, "the job to finish");
    expect(job).toMatchObject({
      status: "done",
      outcome: "done",
      message: kept.body.message,
      evidence: kept.body.evidence,
    });
    const types = (await events(jobId)).map((event) => event.type);
    expect(types.filter((type) => type === "claimed")).toHaveLength(1); // the first claim, not a re-run
    expect(types.lastIndexOf("log")).toBeLessThan(types.indexOf("completed"));
    expect(await loggedLines(jobId)).toEqual(["working", "finished"]);

    await second.waitFor((cli) => cli.events().some((event) => event.event === "resumed"), "the resumed event");
    expect(second.events().find((event) => event.event === "resumed")).toMatchObject({ jobId, result: "delivered" });
    second.proc.kill("SIGINT");
    expect((await second.exited).code).toBe(0);
    expect(existsSync(outcomeFile)).toBe(false);
  });
});

/** The outcome.json of `jobId` in any worker state directory under the CLI's home. */
function findOutcomeFile(jobId: string): string | undefined {
  const state = join(home, "state");
  if (!existsSync(state)) return undefined;
  for (const worker of readdirSync(state)) {
    const jobs = join(state, worker, "jobs");
    if (!existsSync(jobs)) continue;
    for (const dir of readdirSync(jobs).filter((name) => name.startsWith(`${jobId}-`))) {
      const file = join(jobs, dir, "outcome.json");
      if (existsSync(file)) return file;
    }
  }
  return undefined;
}
