/**
 * The job queue against the real local server over sockets: concurrent workers racing for jobs,
 * and lease recovery with nobody calling (the scheduled timer and the cron of local mode).
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { apiClient, enqueueMany, runWorkerPool, type Api } from "../../scripts/bench/socket-workers";
import { removeTempDirs, spawnLocalServer, type LocalProcess } from "../support/local-process";

let server: LocalProcess;
let api: Api;
let workspaceId: string;
beforeAll(async () => {
  server = await spawnLocalServer();
  api = apiClient(server.apiUrl, server.serviceToken);
  workspaceId = (await api("/v1/workspaces/resolve", { slug: "local" })).workspaceId;
});
afterAll(async () => {
  await server?.stop();
  removeTempDirs();
});

test("24 workers racing for 200 jobs: each claimed exactly once, all completed, none lost", async () => {
  const repoId = (await api("/v1/repos/upsert", { workspaceId, remoteUrlHash: "race", status: "active" })).repoId;
  const jobIds = await enqueueMany(api, workspaceId, repoId, 200);

  const { claims } = await runWorkerPool({ api, workspaceId, repoId, workers: 24 });

  const claimedIds = claims.map((claim) => claim.jobId);
  expect(new Set(claimedIds).size).toBe(claimedIds.length);
  expect([...claimedIds].sort()).toEqual([...jobIds].sort());
  expect(claims.every((claim) => claim.claimGeneration === 1)).toBe(true);
  expect(new Set(claims.map((claim) => claim.workerId)).size).toBeGreaterThan(1);

  const finished = [];
  let cursor: string | undefined;
  do {
    const page = await api("/v1/jobs/list", { workspaceId, repoId, limit: 200, ...(cursor ? { cursor } : {}) });
    finished.push(...page.jobs);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  expect(finished).toHaveLength(200);
  expect(finished.every((job) => job.status === "done" && job.attempts === 1)).toBe(true);
  const events = await api("/v1/job-events/list-for-job", { workspaceId, jobId: jobIds[0]! });
  expect(events.events.map((event: { type: string }) => event.type)).toEqual([
    "enqueued",
    "claimed",
    "heartbeat",
    "completed",
  ]);
}, 120_000);

test("an abandoned claim is recovered within 5 s of its expiry without any worker calling", async () => {
  const repoId = (await api("/v1/repos/upsert", { workspaceId, remoteUrlHash: "abandoned", status: "active" })).repoId;
  const [jobId] = await enqueueMany(api, workspaceId, repoId, 1);
  const body = { workspaceId, displayName: "vanishing", status: "online", capabilities: { reposAllowed: [repoId] } };
  const { workerId } = await api("/v1/workers/heartbeat", body);
  const claim = await api("/v1/jobs/claim-next", { workspaceId, workerId, leaseMs: 10_000 });
  expect(claim.jobId).toBe(jobId);

  let job: Record<string, any>;
  do {
    await new Promise((resolve) => setTimeout(resolve, 250));
    job = (await api("/v1/jobs/get", { workspaceId, jobId })).job;
  } while (job.status === "running" && Date.now() < claim.leaseExpiresAt + 8_000);
  expect(job.status).toBe("pending");
  const events = await api("/v1/job-events/list-for-job", { workspaceId, jobId: jobId! });
  expect(events.events.map((event: { type: string }) => event.type)).toEqual(["enqueued", "claimed", "recovered"]);
  // Judged by the server's own timestamp of the recovery, not by when this loop noticed it.
  expect(events.events[2].at - claim.leaseExpiresAt).toBeGreaterThanOrEqual(0);
  expect(events.events[2].at - claim.leaseExpiresAt).toBeLessThan(5_000);
}, 30_000);
