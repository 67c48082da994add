/**
 * The claim directory under Convex's transaction limits (the harness enforces them): a directory
 * of ~450 KB, under its 512 KiB cap, is read once and written once per transaction, so the lease
 * sweep of 100 jobs and complete-and-enqueue-children with 100 children stay far inside 16 MiB.
 * Re-reading it per job (45 MB) fails here exactly as it would on a deployment.
 */
import { beforeEach, expect, test, vi } from "vitest";
import { internal } from "../convex/_generated/api";
import type { Doc, Id } from "../convex/_generated/dataModel";
import { MAX_DIRECTORY_BYTES } from "../convex/queue";
import { ok } from "./support/api";
import { useFreshConvex } from "./support/harness";
import { queueWorkspace, type QueueWorkspace } from "./support/queue-fixtures";

const t = useFreshConvex();
let acme: QueueWorkspace;
beforeEach(async () => {
  vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"] });
  acme = await queueWorkspace(t, "acme");
});

/** Pads the lane's directory with heads of synthetic streams up to `bytes` of JSON. */
async function padDirectory(bytes: number) {
  const fillerJob = (await acme.enqueue({ prompt: "filler", requirements: { model: "filler" } })) as Id<"jobs">;
  const size = await t.run(async (ctx) => {
    const directory = (await ctx.db.query("jobQueues").first())!;
    const filler = directory.heads.find((head) => head.jobId === fillerJob)!;
    const heads: Doc<"jobQueues">["heads"] = [...directory.heads];
    for (let i = 0; JSON.stringify(heads).length < bytes; i++) {
      heads.push({ ...filler, requirementsKey: JSON.stringify({ model: `${"m".repeat(180)}-${i}` }) });
    }
    await ctx.db.patch(directory._id, { heads });
    return JSON.stringify(heads).length;
  });
  expect(size).toBeGreaterThanOrEqual(bytes);
  expect(size).toBeLessThan(MAX_DIRECTORY_BYTES);
}

async function jobsByStatus(): Promise<Record<string, number>> {
  const jobs = await t.run((ctx) => ctx.db.query("jobs").collect());
  const counts: Record<string, number> = {};
  for (const job of jobs) counts[job.status] = (counts[job.status] ?? 0) + 1;
  return counts;
}

test("100 expired leases with a 450 KB directory are recovered in one sweep, inside the limits", async () => {
  const workerId = await acme.worker("w1");
  for (let i = 0; i < 100; i++) await acme.enqueue({ prompt: `job ${i}` });
  for (let i = 0; i < 100; i++) await acme.claimJob(workerId, { leaseMs: 10_000 });
  await padDirectory(450_000);

  // The per-claim timers never fire (fake timers); the cron sweep is the one recovering.
  vi.setSystemTime(Date.now() + 10_001);
  expect(await t.mutation(internal.recovery.sweepExpiredLeases, {})).toEqual({ recovered: 100 });
  expect(await jobsByStatus()).toEqual({ pending: 101 });

  // The directory took every recovered job back: the oldest is claimable again.
  const claimed = await acme.claimJob(workerId);
  expect(claimed.job.prompt).toBe("job 0");
});

test("complete-and-enqueue-children spawns 100 children into a 446 KB directory, inside the limits", async () => {
  const workerId = await acme.worker("w1", { models: Array.from({ length: 100 }, (_, i) => `child-${i}`) });
  const parent = await acme.enqueue({ prompt: "parent" });
  const { claimGeneration } = await acme.claimJob(workerId);
  await padDirectory(446_000);

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
  expect(await jobsByStatus()).toEqual({ done: 1, pending: 101 });
  const heads = (await t.run((ctx) => ctx.db.query("jobQueues").first()))!.heads;
  for (const jobId of result.spawnedJobIds) expect(heads.some((head) => head.jobId === jobId)).toBe(true);
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
