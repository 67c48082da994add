/**
 * Concurrency keys against the real local server over sockets (SPEC §6 "Concurrency"): workers
 * racing for a repo's jobs never run two jobs of a key of limit 1 at once (judged by the server's
 * own `claimed` / `completed` times), while unkeyed jobs of the same repo and stream run beside
 * them; every job ends done exactly once. A capped worker (`maxConcurrentJobs: 1`) is answered
 * WORKER_AT_CAPACITY while it holds a job.
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { apiClient, type Api } from "../../scripts/bench/socket-workers";
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("8 workers racing: a key of limit 1 never runs two at once; unkeyed jobs run beside it; each job done once", async () => {
  const repoId = (await api("/v1/repos/upsert", { workspaceId, remoteUrlHash: "keyed-race", status: "active" })).repoId;
  const keyed: string[] = [];
  const plain: string[] = [];
  for (let i = 0; i < 6; i++) {
    const body = { workspaceId, repoId, kind: "work", prompt: `keyed ${i}`, concurrencyKey: "deploy", priority: -1 };
    keyed.push((await api("/v1/jobs/enqueue", body)).jobId);
  }
  for (let i = 0; i < 10; i++)
    plain.push((await api("/v1/jobs/enqueue", { workspaceId, repoId, kind: "work", prompt: `plain ${i}` })).jobId);
  const all = new Set([...keyed, ...plain]);
  const completed: string[] = [];
  const deadline = Date.now() + 90_000;
  async function worker(name: string) {
    const { workerId } = await api("/v1/workers/heartbeat", {
      workspaceId,
      displayName: name,
      machineFingerprint: `fp-${name}`,
      status: "online",
      capabilities: { reposAllowed: [repoId] },
    });
    while (completed.length < all.size && Date.now() < deadline) {
      const claim = await api("/v1/jobs/claim-next", { workspaceId, workerId });
      if (claim.jobId === null) {
        await sleep(50);
        continue;
      }
      await sleep(150);
      const done = await api("/v1/jobs/complete", {
        workspaceId,
        jobId: claim.jobId,
        workerId,
        claimGeneration: claim.claimGeneration,
        outcome: "done",
      });
      expect(done.result.status).toBe("done");
      completed.push(claim.jobId);
    }
  }
  await Promise.all(Array.from({ length: 8 }, (_, i) => worker(`racer-${i}`)));
  expect([...completed].sort()).toEqual([...all].sort());

  const spans: Array<{ jobId: string; claimed: number; completed: number }> = [];
  for (const jobId of keyed) {
    const { events } = await api("/v1/job-events/list-for-job", { workspaceId, jobId });
    const at = (type: string) => events.find((event: { type: string }) => event.type === type).at as number;
    spans.push({ jobId, claimed: at("claimed"), completed: at("completed") });
  }
  spans.sort((a, b) => a.claimed - b.claimed);
  for (let i = 1; i < spans.length; i++) expect(spans[i]!.claimed).toBeGreaterThanOrEqual(spans[i - 1]!.completed);
  // The plain jobs did not wait for the key: some ran while a keyed job was running.
  const plainClaims: number[] = [];
  for (const jobId of plain) {
    const { events } = await api("/v1/job-events/list-for-job", { workspaceId, jobId });
    plainClaims.push(events.find((event: { type: string }) => event.type === "claimed").at as number);
  }
  expect(plainClaims.some((claimed) => claimed < spans[spans.length - 1]!.claimed)).toBe(true);
}, 120_000);

test("a worker with maxConcurrentJobs 1 gets WORKER_AT_CAPACITY while it holds a job", async () => {
  const repoId = (await api("/v1/repos/upsert", { workspaceId, remoteUrlHash: "capped", status: "active" })).repoId;
  for (let i = 0; i < 2; i++) await api("/v1/jobs/enqueue", { workspaceId, repoId, kind: "work", prompt: `c${i}` });
  const { workerId } = await api("/v1/workers/heartbeat", {
    workspaceId,
    displayName: "capped",
    machineFingerprint: "fp-capped",
    status: "online",
    capabilities: { reposAllowed: [repoId], maxConcurrentJobs: 1 },
  });
  const first = await api("/v1/jobs/claim-next", { workspaceId, workerId });
  expect(first.jobId).not.toBeNull();
  expect(await api("/v1/jobs/claim-next", { workspaceId, workerId })).toMatchObject({
    jobId: null,
    reason: "WORKER_AT_CAPACITY",
  });
  await api("/v1/jobs/complete", {
    workspaceId,
    jobId: first.jobId,
    workerId,
    claimGeneration: first.claimGeneration,
    outcome: "done",
  });
  expect((await api("/v1/jobs/claim-next", { workspaceId, workerId })).jobId).not.toBeNull();
}, 30_000);
