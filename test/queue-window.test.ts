/**
 * claim-next's read bound when a worker's repos hold many streams (SPEC §6 cost budget, queue.ts):
 * at most 58 stream heads per claim, so ≤ 64 documents even for 64 or 100 non-empty repos, and a
 * window that turns from poll to poll, so a job beyond the first window is still found.
 */
import { afterEach, beforeEach, expect, test, vi } from "vitest";
import type { Id } from "../convex/_generated/dataModel";
import { enqueueJob } from "../convex/jobs";
import { claimNext } from "../convex/leases";
import { metered, seedWorkload, type Runner, type Workload } from "../scripts/bench/queue-workload";
import { newConvex } from "./support/harness";

let t: Runner;
beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  t = newConvex() as unknown as Runner;
});
afterEach(() => vi.useRealTimers());

/** A workspace whose one worker allows `repos` repos; `model(i)` is what repo i's job requires. */
async function repos(count: number, model: (i: number) => string | undefined): Promise<Workload> {
  const workload = await seedWorkload(t, {
    repos: count,
    workers: 1,
    pendingJobs: 0,
    unclaimableJobs: 0,
    finishedJobs: 0,
  });
  await t.run(async (ctx) => {
    for (const [i, repoId] of workload.repoIds.entries()) {
      const needs = model(i);
      await enqueueJob(ctx, {
        workspaceId: workload.workspaceId,
        repoId,
        kind: "work",
        prompt: `job of repo ${i}`,
        requirements: needs === undefined ? {} : { model: needs },
      });
    }
  });
  return workload;
}

const claim = (workload: Workload) =>
  metered(t, claimNext, {
    caller: workload.caller,
    workspaceId: workload.workspaceId,
    workerId: workload.busyWorkerId,
    lane: "worker",
  });

async function urgentJob(workload: Workload, repo: number) {
  return await t.run(async (ctx) => {
    const job = await enqueueJob(ctx, {
      workspaceId: workload.workspaceId,
      repoId: workload.repoIds[repo]!,
      kind: "work",
      prompt: "urgent",
      priority: -1,
    });
    return job.jobId;
  });
}

test("58 non-empty repos (58 streams): one claim sees them all and takes the best job", async () => {
  const workload = await repos(58, () => undefined);
  const best = await urgentJob(workload, 57);
  vi.setSystemTime(0);
  const { result, metrics } = await claim(workload);
  expect(result.jobId).toBe(best);
  // The workspace, the worker, the lane's pause document, 58 heads and the claimed job's patch; its
  // counter delta is an insert (jobCounters.ts), which reads nothing.
  expect(metrics.documentsRead).toBe(4 + 58);
});

test("64 non-empty repos: every claim reads at most 64 documents; the best job is taken once in the window", async () => {
  const workload = await repos(64, () => undefined);
  const best = await urgentJob(workload, 63);
  const claimed: string[] = [];
  for (let poll = 0; poll < 7; poll++) {
    vi.setSystemTime(poll * 1000);
    const { result, metrics } = await claim(workload);
    expect(metrics.documentsRead).toBeLessThanOrEqual(64);
    claimed.push(result.jobId);
  }
  // Polls 0-5 start at repos 0-5 and read 58 heads, not repo 63's; poll 6 starts at repo 6 and does.
  expect(claimed.slice(0, 6)).not.toContain(best);
  expect(claimed[6]).toBe(best);
});

test("100 repos whose jobs it cannot take but one: each poll reads ≤ 64 documents, and the window finds it", async () => {
  const workload = await repos(100, (i) => (i === 99 ? undefined : "huge"));
  let found: Id<"jobs"> | null = null;
  let polls = 0;
  for (; polls < 100 && found === null; polls++) {
    vi.setSystemTime(polls * 1000);
    const { result, metrics } = await claim(workload);
    expect(metrics.documentsRead).toBeLessThanOrEqual(64);
    if (result.jobId === null) expect(metrics.documentsWritten).toBe(0);
    found = result.jobId;
  }
  expect(found).not.toBeNull();
  // The first poll starts at repo 0 and reads 58 heads: repo 99 is out of its window.
  expect(polls).toBeGreaterThan(1);
});
