// @vitest-environment node
/**
 * Local mode loading a data directory written by the previous version (SPEC §6 statuses): a job
 * its journal holds as `claimed` is `running` once the server starts on it, over HTTP, in
 * `jobs/list` by `running` and by the older name `claimed`, and its worker can still finish it.
 */
import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { localServerPool, makeTempDir, removeTempDirs, type LocalProcess } from "../support/local-process";

const servers = localServerPool();
afterAll(async () => {
  await servers.killAll();
  removeTempDirs();
});

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
  const first = await servers.start({ dataDir });
  const { workspaceId } = await call(first, "/v1/workspaces/resolve", { slug: "local" });
  const { repoId } = await call(first, "/v1/repos/upsert", { workspaceId, remoteUrlHash: "origin", status: "active" });
  const { workerId } = await call(first, "/v1/workers/heartbeat", {
    workspaceId,
    displayName: "laptop",
    status: "online",
    capabilities: { reposAllowed: [repoId] },
  });
  expect(await first.stop()).toBe(0);

  // The previous version claimed a job: its document says `claimed`, with its two timeline events.
  const { n, c } = journalClock(dataDir);
  const now = Date.now();
  const jobId = idOf(n, "jobs");
  const job = {
    _id: jobId,
    _creationTime: c + 1,
    workspaceId,
    repoId,
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
    [[jobId, job], event(n + 1, 1, "enqueued", c + 2) as [string, Record<string, unknown>]],
    n + 2,
    c + 2,
  );
  appendOldCommit(dataDir, [event(n + 2, 2, "claimed", c + 3) as [string, Record<string, unknown>]], n + 3, c + 3);

  const upgraded = await servers.start({ dataDir, serviceToken: first.serviceToken });
  const { job: loaded } = await call(upgraded, "/v1/jobs/get", { workspaceId, jobId });
  expect(loaded).toMatchObject({ _id: jobId, status: "running", claimedBy: workerId, claimGeneration: 1 });
  for (const status of ["running", "claimed"]) {
    const { jobs } = await call(upgraded, "/v1/jobs/list", { workspaceId, status });
    expect(jobs.map((listed: { _id: string }) => listed._id)).toEqual([jobId]);
  }
  expect((await call(upgraded, "/v1/jobs/list", { workspaceId, status: "pending" })).jobs).toEqual([]);
  const { events } = await call(upgraded, "/v1/job-events/list-for-job", { workspaceId, jobId });
  expect(events.map((listed: { type: string }) => listed.type)).toEqual(["enqueued", "claimed"]);

  // Its worker still holds the lease and finishes it; that sticks across a restart.
  const lease = { workspaceId, jobId, workerId, claimGeneration: 1 };
  expect(await call(upgraded, "/v1/jobs/heartbeat", lease)).toMatchObject({ cancelRequested: false });
  await call(upgraded, "/v1/jobs/complete", { ...lease, outcome: "done" });
  expect(await upgraded.stop()).toBe(0);

  const again = await servers.start({ dataDir, serviceToken: first.serviceToken });
  expect((await call(again, "/v1/jobs/get", { workspaceId, jobId })).job).toMatchObject({ status: "done" });
  expect((await call(again, "/v1/jobs/list", { workspaceId, status: "running" })).jobs).toEqual([]);
  expect(await again.stop()).toBe(0);
});
