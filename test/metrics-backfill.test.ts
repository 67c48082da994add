/**
 * The job counters' one-time backfill (docs/deploying.md): jobs stored before the counters are
 * counted in pages within the transaction limits, moves made while it runs are counted exactly
 * once, a repeated or interrupted backfill counts nothing twice, and local mode's `resume` starts
 * it only for a data directory that needs it.
 */
import { beforeEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { JOB_STATUSES, type JobStatus } from "../convex/model/jobs";
import { ok } from "./support/api";
import { useFreshConvex } from "./support/harness";
import { storedJob } from "./support/job-documents";
import { queueWorkspace, type QueueWorkspace } from "./support/queue-fixtures";

const t = useFreshConvex();

let acme: QueueWorkspace;
beforeEach(async () => {
  vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"], now: 1_900_000_000_000 });
  acme = await queueWorkspace(t, "acme");
});

/** 450 jobs written as an older version stored them (no `counted`, no `pendingSince`): more than two pages. */
async function storeOldJobs(): Promise<Array<Id<"jobs">>> {
  const statuses: JobStatus[] = ["pending", "pending", "done", "failed", "running", "canceled"];
  const ids: Array<Id<"jobs">> = [];
  await t.run(async (ctx) => {
    for (let i = 0; i < 450; i++) {
      const status = statuses[i % statuses.length]!;
      const fields = { status, updatedAt: Date.now() - 3_600_000 + i, prompt: `old job ${i} `.padEnd(600, "x") };
      ids.push(await ctx.db.insert("jobs", storedJob(acme.workspaceId, acme.repoId as Id<"repos">, fields)));
    }
  });
  return ids;
}

/** Jobs per status as the database holds them (what the counters must say). */
async function trueCounts(): Promise<Record<string, number>> {
  return await t.run(async (ctx) => {
    const counts: Record<string, number> = {};
    for (const status of JOB_STATUSES) {
      const jobs = await ctx.db
        .query("jobs")
        .withIndex("by_workspace_status", (q) => q.eq("workspaceId", acme.workspaceId).eq("status", status))
        .take(10_000);
      counts[status] = jobs.length;
    }
    return counts;
  });
}

async function countedStatuses() {
  const stats = await t.withIdentity(acme.owner.identity).query(api.metrics.stats, { workspaceId: acme.workspaceId });
  return stats.lanes.worker;
}

async function backfillState() {
  return await t.run((ctx) => ctx.db.query("jobCounterBackfills").withIndex("by_creation_time").first());
}

describe("the backfill", () => {
  test("counts old jobs in pages, with moves made meanwhile counted exactly once", async () => {
    const old = await storeOldJobs();
    await acme.enqueue(); // counted at birth
    expect((await countedStatuses()).jobs.pending).toBe(1);

    const { generation } = await t.mutation(internal.metricsBackfill.start, {});
    // The first page, run by hand (fake timers hold the scheduled one back).
    await t.mutation(internal.metricsBackfill.page, { generation });
    expect((await backfillState())?.counted).toBe(200);
    // Canceled while the backfill runs: old[0] was counted (its move counts), old[420] not yet (the backfill counts it canceled).
    for (const jobId of [old[0]!, old[420]!])
      await ok(acme.call, "/v1/jobs/cancel", { workspaceId: acme.workspaceId, jobId });

    await t.finishAllScheduledFunctions(vi.runAllTimers);
    const state = await backfillState();
    expect(state).toMatchObject({ generation, counted: 450, finishedAt: expect.any(Number) });
    const lane = await countedStatuses();
    expect(lane.jobs).toEqual(await trueCounts());
    expect(lane.jobs).toMatchObject({ pending: 149, done: 75, failed: 75, running: 75, canceled: 77 });
    // The oldest pending job is old[1] (old[0] was canceled): its `pendingSince` came from its last change.
    expect(lane.oldestPendingSince).toBe(Date.now() - 3_600_000 + 1);
    // Only old[0]'s cancel was a counted move (history before the counters is not rebuilt).
    expect(lane.transitions.find((move) => move.from === "pending" && move.to === "canceled")?.count).toBe(1);
    const updatedAt = await t.run(async (ctx) => (await ctx.db.get("jobs", old[2]!))?.updatedAt);
    expect(updatedAt).toBe(Date.now() - 3_600_000 + 2);
  });

  test("running it again counts nothing twice", async () => {
    await storeOldJobs();
    await t.mutation(internal.metricsBackfill.start, {});
    await t.finishAllScheduledFunctions(vi.runAllTimers);
    const once = (await countedStatuses()).jobs;
    const { generation } = await t.mutation(internal.metricsBackfill.start, {});
    await t.finishAllScheduledFunctions(vi.runAllTimers);
    expect((await countedStatuses()).jobs).toEqual(once);
    expect(once).toEqual(await trueCounts());
    expect(await backfillState()).toMatchObject({ generation, counted: 0, finishedAt: expect.any(Number) });
  });
});

describe("local mode's resume at start", () => {
  test("an empty data directory needs none, and never will", async () => {
    expect(await t.mutation(internal.metricsBackfill.resume, {})).toBe("not_needed");
    await acme.enqueue();
    expect(await t.mutation(internal.metricsBackfill.resume, {})).toBe("not_needed");
    expect((await countedStatuses()).jobs.pending).toBe(1);
  });

  test("jobs from before the counters start it; an interrupted one goes on; a finished one stays finished", async () => {
    await storeOldJobs();
    expect(await t.mutation(internal.metricsBackfill.resume, {})).toBe("started");
    const { generation } = (await backfillState())!;
    await t.mutation(internal.metricsBackfill.page, { generation });
    // The process stops here; at the next start the chain goes on from its cursor under a new generation.
    expect(await t.mutation(internal.metricsBackfill.resume, {})).toBe("resumed");
    const resumed = (await backfillState())!;
    expect(resumed).toMatchObject({ generation: generation + 1, counted: 200 });
    // A page of the stopped chain does nothing now.
    await t.mutation(internal.metricsBackfill.page, { generation });
    expect((await backfillState())!.cursor).toBe(resumed.cursor);

    await t.finishAllScheduledFunctions(vi.runAllTimers);
    expect(await backfillState()).toMatchObject({ counted: 450, finishedAt: expect.any(Number) });
    expect((await countedStatuses()).jobs).toEqual(await trueCounts());
    expect(await t.mutation(internal.metricsBackfill.resume, {})).toBe("not_needed");
  });
});
