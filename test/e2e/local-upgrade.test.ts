// @vitest-environment node
/**
 * Local mode loading a data directory written by the previous version (SPEC §6 statuses): a job
 * its journal holds as `claimed` is `running` once the server starts on it, over HTTP, in
 * `jobs/list` by `running` and by the older name `claimed`, and its worker can still finish it; the metrics backfill counts its stored jobs at start, and the rollup cron folds the counter deltas.
 */
import { appendFileSync, cpSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { afterAll, expect, test } from "vitest";
import { localServerPool, makeTempDir, removeTempDirs, type LocalProcess } from "../support/local-process";

const servers = localServerPool();
afterAll(async () => {
  await servers.killAll();
  removeTempDirs();
});

/** A data directory written by the real previous version (see its README). */
const PREVIOUS_VERSION = fileURLToPath(new URL("../fixtures/local-data-previous-version", import.meta.url));
const WORKSPACE_ID = "0000000000000000010001workspaces";
const REPO_ID = "000000000000000000000010003repos";

async function call(server: LocalProcess, route: string, body: unknown) {
  const response = await fetch(`${server.apiUrl}${route}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${server.serviceToken}` },
    body: JSON.stringify(body),
  });
  const json = (await response.json()) as Record<string, any>;
  expect(json, `${route} ${JSON.stringify(json)}`).toMatchObject({ ok: true });
  return json;
}

/** An id the way convex-test makes them (and so every journal holds): zero-padded counter, then the table. */
function idOf(counter: number, table: string) {
  return String(counter).padStart(32 - table.length, "0") + table;
}

/**
 * Appends one committed transaction to the journal in the previous version's format: one line
 * `{"n": next id counter, "c": last creation time, "w": [[id, document], ...]}`.
 */
function appendOldCommit(dataDir: string, writes: Array<[string, Record<string, unknown>]>, n: number, c: number) {
  appendFileSync(join(dataDir, "journal.jsonl"), JSON.stringify({ n, c, w: writes }) + "\n");
}

/** The id counter and creation clock after the journal's last commit. */
function journalClock(dataDir: string) {
  const lines = readFileSync(join(dataDir, "journal.jsonl"), "utf8").trim().split("\n");
  const last = JSON.parse(lines.at(-1)!) as { n: number; c: number };
  return { n: last.n, c: last.c };
}

test("a job stored as `claimed` by the previous version is `running` after the upgrade", async () => {
  const dataDir = join(makeTempDir(), "data");
  cpSync(PREVIOUS_VERSION, dataDir, { recursive: true });
  const workspaceId = WORKSPACE_ID;

  // The previous version registered a worker and claimed a job: its document says `claimed`.
  const { n, c } = journalClock(dataDir);
  const now = Date.now();
  const workerId = idOf(n, "workers");
  const jobId = idOf(n + 1, "jobs");
  const worker = {
    _id: workerId,
    _creationTime: c + 1,
    workspaceId,
    displayName: "laptop",
    status: "online",
    capabilities: { reposAllowed: [REPO_ID] },
    inventory: {},
    lastSeenAt: now,
  };
  const job = {
    _id: jobId,
    _creationTime: c + 2,
    workspaceId,
    repoId: REPO_ID,
    kind: "work",
    role: "implementer",
    prompt: "Started before the upgrade",
    requirements: {},
    requirementsKey: "{}",
    priority: 0,
    lane: "worker",
    status: "claimed",
    attempts: 1,
    maxAttempts: 3,
    claimGeneration: 1,
    claimedBy: workerId,
    claimedAt: now,
    leaseMs: 600_000,
    leaseExpiresAt: now + 600_000,
    cancelRequested: false,
    nextEventSeq: 3,
    updatedAt: now,
  };
  const event = (counter: number, seq: number, type: string, creation: number) => [
    idOf(counter, "jobEvents"),
    { _id: idOf(counter, "jobEvents"), _creationTime: creation, workspaceId, jobId, seq, type, at: now },
  ];
  appendOldCommit(
    dataDir,
    [[workerId, worker], [jobId, job], event(n + 2, 1, "enqueued", c + 3) as [string, Record<string, unknown>]],
    n + 3,
    c + 3,
  );
  appendOldCommit(dataDir, [event(n + 3, 2, "claimed", c + 4) as [string, Record<string, unknown>]], n + 4, c + 4);

  const upgraded = await servers.start({ dataDir });
  const { job: loaded } = await call(upgraded, "/v1/jobs/get", { workspaceId, jobId });
  expect(loaded).toMatchObject({ _id: jobId, status: "running", claimedBy: workerId, claimGeneration: 1 });
  for (const status of ["running", "claimed"]) {
    const { jobs } = await call(upgraded, "/v1/jobs/list", { workspaceId, status });
    expect(jobs.map((listed: { _id: string }) => listed._id)).toEqual([jobId]);
  }
  const pending = (await call(upgraded, "/v1/jobs/list", { workspaceId, status: "pending" })).jobs;
  expect(pending.map((listed: { _id: string }) => listed._id).sort()).toEqual([
    "0000000000000000000000010004jobs",
    "0000000000000000000000010007jobs",
  ]);
  const { events } = await call(upgraded, "/v1/job-events/list-for-job", { workspaceId, jobId });
  expect(events.map((listed: { type: string }) => listed.type)).toEqual(["enqueued", "claimed"]);

  // Its worker still holds the lease and finishes it; that sticks across a restart.
  const lease = { workspaceId, jobId, workerId, claimGeneration: 1 };
  expect(await call(upgraded, "/v1/jobs/heartbeat", lease)).toMatchObject({ cancelRequested: false });
  await call(upgraded, "/v1/jobs/complete", { ...lease, outcome: "done" });
  expect(await upgraded.stop()).toBe(0);

  const again = await servers.start({ dataDir, serviceToken: upgraded.serviceToken });
  expect((await call(again, "/v1/jobs/get", { workspaceId, jobId })).job).toMatchObject({ status: "done" });
  expect((await call(again, "/v1/jobs/list", { workspaceId, status: "running" })).jobs).toEqual([]);
  expect(await again.stop()).toBe(0);
});

test("the metrics count the jobs the previous version stored: the backfill runs at start", async () => {
  const dataDir = join(makeTempDir(), "data");
  cpSync(PREVIOUS_VERSION, dataDir, { recursive: true });
  const server = await servers.start({ dataDir });
  const pendingCount = async () => {
    const response = await fetch(`${server.apiUrl}/metrics`, {
      headers: { authorization: `Bearer ${server.serviceToken}` },
    });
    expect(response.status).toBe(200);
    const families = parsePrometheusTextFormat(await response.text());
    const jobs = families.find((family) => family.name === "ias_jobs")!;
    const sample = jobs.metrics.find(
      (metric) =>
        metric.labels?.workspace_id === WORKSPACE_ID &&
        metric.labels.lane === "worker" &&
        metric.labels.status === "pending",
    );
    return Number(sample?.value);
  };
  // The backfill pages on in scheduled functions; the two pending jobs of the fixture appear once it is through.
  const deadline = Date.now() + 10_000;
  while ((await pendingCount()) !== 2 && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 100));
  expect(await pendingCount()).toBe(2);
  expect(await server.stop()).toBe(0);
});

test("local mode's rollup cron folds the counter deltas; the numbers stay exact while it does", async () => {
  const dataDir = join(makeTempDir(), "data");
  cpSync(PREVIOUS_VERSION, dataDir, { recursive: true });
  const server = await servers.start({ dataDir });
  const scrape = async () => {
    const response = await fetch(`${server.apiUrl}/metrics`, {
      headers: { authorization: `Bearer ${server.serviceToken}` },
    });
    expect(response.status).toBe(200);
    const families = parsePrometheusTextFormat(await response.text());
    const sample = (name: string, labels: Record<string, string>) =>
      Number(
        families
          .find((family) => family.name === name)!
          .metrics.find(
            (metric) =>
              metric.labels?.workspace_id === WORKSPACE_ID &&
              Object.entries(labels).every(([key, text]) => metric.labels?.[key] === text),
          )?.value,
      );
    return {
      pending: sample("ias_jobs", { lane: "worker", status: "pending" }),
      enqueued: sample("ias_jobs_enqueued_total", { lane: "worker" }),
      deltas: sample("ias_job_counter_pending_deltas", {}),
    };
  };
  const waitFor = async (done: (numbers: Awaited<ReturnType<typeof scrape>>) => boolean) => {
    // The rollup takes deltas older than 5 s, every 5 s: well inside this on a loaded machine.
    const deadline = Date.now() + 60_000;
    let numbers = await scrape();
    while (!done(numbers) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      numbers = await scrape();
    }
    return numbers;
  };
  await waitFor((numbers) => numbers.pending === 2);
  await call(server, "/v1/jobs/enqueue", {
    workspaceId: WORKSPACE_ID,
    repoId: REPO_ID,
    kind: "work",
    prompt: "Fold me",
  });
  // Counted at once (totals + pending deltas), folded later with the same numbers.
  const counted = await scrape();
  expect(counted).toMatchObject({ pending: 3, enqueued: 1 });
  expect(counted.deltas).toBeGreaterThan(0);
  expect(await waitFor((numbers) => numbers.deltas === 0)).toEqual({ pending: 3, enqueued: 1, deltas: 0 });
  expect(await server.stop()).toBe(0);
});
