/**
 * The job counters' one-time backfill (docs/deploying.md). Owns `jobCounterBackfills`. Jobs
 * created before the counters existed are in no counter; this pages through every job in
 * creation order, within the transaction limits, and counts each uncounted one in its status
 * (jobState.ts `countExistingJob`, which marks it in the same transaction), continuing through
 * scheduled functions. Moves made meanwhile are exact: a job's moves count only once it is
 * marked, so nothing is counted twice or missed. Move counters (claims, completions...) start at
 * zero: history is not rebuilt.
 */
import { v } from "convex/values";
import { internal } from "./_generated/api";
import type { Doc } from "./_generated/dataModel";
import { internalMutation, type MutationCtx, type QueryCtx } from "./_generated/server";
import { withCounterBatch } from "./jobCounters";
import { countExistingJob } from "./jobState";

/** Jobs per page, and the bytes a page may read (jobs may be up to 1 MiB; each is also written back). */
const PAGE_JOBS = 200;
const PAGE_BYTES = 4 * 1024 * 1024;

async function stateOf(ctx: QueryCtx): Promise<Doc<"jobCounterBackfills"> | null> {
  return await ctx.db.query("jobCounterBackfills").withIndex("by_creation_time").first();
}

/** Starts a chain of pages from `cursor`, ending any chain before it (its generation no longer matches). */
async function startChain(ctx: MutationCtx, cursor: string | null): Promise<number> {
  const state = await stateOf(ctx);
  const generation = (state?.generation ?? 0) + 1;
  const fields = { generation, cursor, counted: cursor === null ? 0 : (state?.counted ?? 0), startedAt: Date.now() };
  if (state === null) await ctx.db.insert("jobCounterBackfills", fields);
  else await ctx.db.replace("jobCounterBackfills", state._id, fields);
  await ctx.scheduler.runAfter(0, internal.metricsBackfill.page, { generation });
  return generation;
}

/** Deployments: `npx convex run metricsBackfill:start` once after deploying the counters (safe to repeat). */
export const start = internalMutation({
  args: {},
  returns: v.object({ generation: v.number() }),
  handler: async (ctx) => ({ generation: await startChain(ctx, null) }),
});

/**
 * Local mode's start: a data directory whose jobs were never backfilled (they predate the
 * counters) starts the backfill, one whose backfill was interrupted (the process stopped) goes on
 * from where it was. An empty one records that nothing needs it: every job from now on is counted
 * at birth.
 */
export const resume = internalMutation({
  args: {},
  returns: v.union(v.literal("started"), v.literal("resumed"), v.literal("not_needed")),
  handler: async (ctx) => {
    const state = await stateOf(ctx);
    if (state !== null && state.finishedAt !== undefined) return "not_needed";
    if (state !== null) {
      await startChain(ctx, state.cursor);
      return "resumed";
    }
    const anyJob = (await ctx.db.query("jobs").withIndex("by_creation_time").first()) !== null;
    if (!anyJob) {
      const now = Date.now();
      await ctx.db.insert("jobCounterBackfills", {
        generation: 0,
        cursor: null,
        counted: 0,
        startedAt: now,
        finishedAt: now,
      });
      return "not_needed";
    }
    await startChain(ctx, null);
    return "started";
  },
});

/** One page: counts its uncounted jobs, then schedules the next page or records the end. */
export const page = internalMutation({
  args: { generation: v.number() },
  returns: v.null(),
  handler: async (ctx, { generation }) => {
    const state = await stateOf(ctx);
    if (state === null || state.generation !== generation || state.finishedAt !== undefined) return null;
    const jobs = await ctx.db
      .query("jobs")
      .withIndex("by_creation_time")
      .paginate({ cursor: state.cursor, numItems: PAGE_JOBS, maximumBytesRead: PAGE_BYTES });
    let counted = 0;
    await withCounterBatch(ctx, async () => {
      for (const job of jobs.page) if (await countExistingJob(ctx, job)) counted++;
    });
    const progress = { cursor: jobs.continueCursor, counted: state.counted + counted };
    if (jobs.isDone) {
      await ctx.db.patch("jobCounterBackfills", state._id, { ...progress, finishedAt: Date.now() });
      return null;
    }
    await ctx.db.patch("jobCounterBackfills", state._id, progress);
    await ctx.scheduler.runAfter(0, internal.metricsBackfill.page, { generation });
    return null;
  },
});
