/**
 * Transactions that move many jobs under Convex's transaction limits (the harness enforces them):
 * the lease sweep of 100 jobs, complete-and-enqueue-children with 100 children in 100 streams, a
 * sweep of large jobs that stops at its byte budget, and dropping the retired claim directories.
 */
import { beforeEach, expect, test, vi } from "vitest";
import { internal } from "../convex/_generated/api";
import { ok } from "./support/api";
import { useFreshConvex } from "./support/harness";
import { queueWorkspace, type QueueWorkspace } from "./support/queue-fixtures";

const t = useFreshConvex();
let acme: QueueWorkspace;
beforeEach(async () => {
  vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"] });
  acme = await queueWorkspace(t, "acme");
});

async function jobsByStatus(): Promise<Record<string, number>> {
  const jobs = await t.run((ctx) => ctx.db.query("jobs").collect());
  const counts: Record<string, number> = {};
  for (const job of jobs) counts[job.status] = (counts[job.status] ?? 0) + 1;
  return counts;
}

test("100 expired leases are recovered in one sweep, inside the limits", async () => {
  const workerId = await acme.worker("w1");
  for (let i = 0; i < 100; i++) await acme.enqueue({ prompt: `job ${i}` });
  for (let i = 0; i < 100; i++) await acme.claimJob(workerId, { leaseMs: 10_000 });

  // The per-claim timers never fire (fake timers); the cron sweep is the one recovering.
  vi.setSystemTime(Date.now() + 10_001);
  expect(await t.mutation(internal.recovery.sweepExpiredLeases, {})).toEqual({ recovered: 100 });
  expect(await jobsByStatus()).toEqual({ pending: 100 });

  // Every recovered job is pending in its stream again: the oldest is claimable first.
  const claimed = await acme.claimJob(workerId);
  expect(claimed.job.prompt).toBe("job 0");
});

test("complete-and-enqueue-children spawns 100 children in 100 streams, inside the limits", async () => {
  const workerId = await acme.worker("w1", { models: Array.from({ length: 100 }, (_, i) => `child-${i}`) });
  const parent = await acme.enqueue({ prompt: "parent" });
  const { claimGeneration } = await acme.claimJob(workerId);

  const children = Array.from({ length: 100 }, (_, i) => ({
    repoId: acme.repoId,
    kind: "work",
    prompt: `child ${i}`,
    requirements: { model: `child-${i}` },
  }));
  const { result } = await ok(acme.call, "/v1/jobs/complete-and-enqueue-children", {
    workspaceId: acme.workspaceId,
    jobId: parent,
    workerId,
    claimGeneration,
    outcome: "done",
    idempotencyKey: "fan-out",
    children,
  });
  expect(result.spawnedJobIds).toHaveLength(100);
  expect(await jobsByStatus()).toEqual({ done: 1, pending: 100 });
  // Each child heads its own stream: the worker offering every model claims them all. (100 streams
  // in one repo are more than one claim reads, 60, so the order holds within each claim's window.)
  const claimed = [];
  for (let i = 0; i < 100; i++) claimed.push((await acme.claimJob(workerId)).jobId);
  expect(claimed.slice(0, 7)).toEqual(result.spawnedJobIds.slice(0, 7));
  expect([...claimed].sort()).toEqual([...result.spawnedJobIds].sort());
  expect(await acme.claim(workerId)).toMatchObject({ reason: "NO_JOBS" });
});

test("a sweep of large jobs stops at its byte budget and hands the rest to the next transaction", async () => {
  const workerId = await acme.worker("w1");
  const prompt = "p".repeat(60_000);
  for (let i = 0; i < 100; i++) await acme.enqueue({ prompt: `${i} ${prompt}` });
  for (let i = 0; i < 100; i++) await acme.claimJob(workerId, { leaseMs: 10_000 });

  vi.setSystemTime(Date.now() + 10_001);
  const first = await t.mutation(internal.recovery.sweepExpiredLeases, {});
  // 4 MiB of 60 KB jobs: about 70 per transaction, not all 100 (6 MB read and 6 MB written).
  expect(first.recovered).toBeGreaterThan(50);
  expect(first.recovered).toBeLessThan(100);
  const scheduled = await t.run((ctx) => ctx.db.system.query("_scheduled_functions").collect());
  const sweeps = scheduled.filter((fn) => fn.name.includes("sweepExpiredLeases") && fn.state.kind === "pending");
  expect(sweeps).toHaveLength(1);
  const second = await t.mutation(internal.recovery.sweepExpiredLeases, {});
  expect(first.recovered + second.recovered).toBe(100);
  expect(await jobsByStatus()).toEqual({ pending: 100 });
});

test("the retired claim directories are dropped 100 per run, the rest by a scheduled run", async () => {
  await t.run(async (ctx) => {
    for (let i = 0; i < 150; i++)
      await ctx.db.insert("jobQueues", { workspaceId: acme.workspaceId as never, lane: "worker", heads: [] });
  });
  expect(await t.mutation(internal.queue.dropRetiredClaimDirectories, {})).toEqual({ deleted: 100 });
  const scheduled = await t.run((ctx) => ctx.db.system.query("_scheduled_functions").collect());
  expect(scheduled.filter((fn) => fn.name.includes("dropRetiredClaimDirectories"))).toHaveLength(1);
  expect(await t.mutation(internal.queue.dropRetiredClaimDirectories, {})).toEqual({ deleted: 50 });
  expect(await t.run((ctx) => ctx.db.query("jobQueues").collect())).toEqual([]);
  // Claims never needed them.
  await acme.enqueue({ prompt: "after" });
  expect((await acme.claimJob(await acme.worker("w1"))).job.prompt).toBe("after");
});
