/**
 * The job counters (SPEC §9b). Owns `jobCounterDeltas` and `jobCounters`.
 *
 * jobState.ts calls `countJobChange` on every birth, move and deletion of a counted job; the
 * change is written as one new `jobCounterDeltas` document (per (workspace, lane), per
 * transaction: `withCounterBatch` gathers a batch's changes). A move inserts and reads nothing
 * shared, so two moves of different jobs never conflict through the counters, whatever their
 * repos: nobody on a hot path reads the deltas, and inserts nobody read do not conflict.
 *
 * `rollup` (a cron every ROLLUP_INTERVAL_SECONDS, going on through the scheduler while a backlog
 * remains) folds the oldest settled deltas, in creation order, into one `jobCounters` total per
 * (workspace, lane) and deletes them, in one transaction: a reader sees a delta either pending or
 * folded, never both. `countsOfWorkspace` (metrics.ts) is a workspace's totals plus its pending
 * deltas, so the numbers are exact before and after a fold. Nothing here reads jobs: the counts
 * are kept, never scanned.
 */
import { v } from "convex/values";
import { internal } from "./_generated/api";
import type { Doc, Id } from "./_generated/dataModel";
import { internalMutation, type MutationCtx, type QueryCtx } from "./_generated/server";
import {
  LEGACY_COUNTER_SHARDS,
  MAX_PENDING_DELTAS_READ,
  addDelta,
  compactDelta,
  emptyDelta,
  laneCounts,
  type CounterDelta,
  type LaneCounts,
} from "./model/jobCounters";
import { LANES, type Lane } from "./model/jobs";

/**
 * Deltas one rollup folds. Worst case (every delta its own lane, each with 16 legacy shards) ≈ 1,700
 * documents read and written. Kept small so one fold is short (~4 ms in local mode, where
 * transactions run one at a time: 500 held every request for ~20 ms a batch, and a backlog's
 * chain for 150-250 ms); a chain of short folds still drains ~25,000 deltas a second there.
 */
export const ROLLUP_BATCH = 100;

/**
 * A rollup folds only deltas at least this old, so its read range ends before the inserts of
 * transactions running alongside it (their creation times are later): a rollup with less than a
 * batch to fold does not conflict with a concurrent move. A transaction longer than this could
 * still land in the range; then the rollup (never the move, which reads no delta) is retried.
 */
export const ROLLUP_SETTLE_MS = 5_000;

/** How often the cron folds (crons.ts). */
export const ROLLUP_INTERVAL_SECONDS = 5;

type CountedJob = Pick<Doc<"jobs">, "_id" | "workspaceId" | "lane">;
type LaneChange = { workspaceId: Id<"workspaces">; lane: Lane; delta: CounterDelta };

/** The changes of the transaction's open batch, by (workspace, lane), keyed by its `ctx.db` (as jobState.ts's batches). */
const openBatches = new WeakMap<object, Map<string, LaneChange>>();

const laneKey = (workspaceId: string, lane: string) => `${workspaceId}/${lane}`;

/** Records `delta` for the job's (workspace, lane): now, or, inside `withCounterBatch`, once at the batch's end. */
export async function countJobChange(ctx: MutationCtx, job: CountedJob, delta: CounterDelta): Promise<void> {
  const change: LaneChange = { workspaceId: job.workspaceId, lane: job.lane, delta };
  const batch = openBatches.get(ctx.db);
  if (batch === undefined) return await insertDelta(ctx, change);
  const key = laneKey(change.workspaceId, change.lane);
  const open = batch.get(key);
  batch.set(key, open === undefined ? change : { ...open, delta: addDelta(open.delta, delta) });
}

/**
 * Runs `work` with its counter changes gathered: one delta per (workspace, lane) it touches,
 * inserted at the end (the lease sweep and complete-and-enqueue-children move up to 100 jobs at a time).
 */
export async function withCounterBatch<T>(ctx: MutationCtx, work: () => Promise<T>): Promise<T> {
  if (openBatches.has(ctx.db)) return await work();
  const batch = new Map<string, LaneChange>();
  openBatches.set(ctx.db, batch);
  try {
    const result = await work();
    for (const change of batch.values()) await insertDelta(ctx, change);
    return result;
  } finally {
    openBatches.delete(ctx.db);
  }
}

/** The one write of a change: an insert, reading nothing. */
async function insertDelta(ctx: MutationCtx, { workspaceId, lane, delta }: LaneChange): Promise<void> {
  const compact = compactDelta(delta);
  if (compact === null) return;
  await ctx.db.insert("jobCounterDeltas", { workspaceId, lane, ...compact });
}

/**
 * Folds up to ROLLUP_BATCH settled deltas, oldest first, into their (workspace, lane) totals and
 * deletes them; a full batch schedules the next one at once. The first fold of a (workspace,
 * lane) that still has the legacy shards merges them into its total (docs/operations.md).
 */
export const rollup = internalMutation({
  args: {},
  returns: v.object({ folded: v.number(), more: v.boolean() }),
  handler: async (ctx) => {
    const settledBefore = Date.now() - ROLLUP_SETTLE_MS;
    const deltas = await ctx.db
      .query("jobCounterDeltas")
      .withIndex("by_creation_time", (q) => q.lt("_creationTime", settledBefore))
      .take(ROLLUP_BATCH);
    const sums = new Map<string, LaneChange>();
    for (const delta of deltas) {
      const key = laneKey(delta.workspaceId, delta.lane);
      const open = sums.get(key);
      sums.set(key, {
        workspaceId: delta.workspaceId,
        lane: delta.lane,
        delta: addDelta(open?.delta ?? emptyDelta(), delta),
      });
    }
    for (const change of sums.values()) await addToTotal(ctx, change);
    for (const delta of deltas) await ctx.db.delete("jobCounterDeltas", delta._id);
    const more = deltas.length === ROLLUP_BATCH;
    if (more) await ctx.scheduler.runAfter(0, internal.jobCounters.rollup, {});
    return { folded: deltas.length, more };
  },
});

/** Adds `delta` to the (workspace, lane) total, merging any legacy shards into it. */
async function addToTotal(ctx: MutationCtx, { workspaceId, lane, delta }: LaneChange): Promise<void> {
  const rows = await ctx.db
    .query("jobCounters")
    .withIndex("by_workspace_lane_shard", (q) => q.eq("workspaceId", workspaceId).eq("lane", lane))
    .take(LEGACY_COUNTER_SHARDS);
  const sum = compactDelta([...rows, delta].reduce<CounterDelta>(addDelta, emptyDelta())) ?? emptyDelta();
  const [total, ...merged] = rows;
  if (total === undefined) {
    await ctx.db.insert("jobCounters", { workspaceId, lane, ...sum });
    return;
  }
  await ctx.db.replace("jobCounters", total._id, { workspaceId, lane, ...sum });
  for (const row of merged) await ctx.db.delete("jobCounters", row._id);
}

/** What `countsOfWorkspace` read: each lane's numbers and how many changes were still pending. */
export type WorkspaceCounts = {
  lanes: Record<Lane, LaneCounts>;
  /** Deltas not yet folded that were added in (capped at MAX_PENDING_DELTAS_READ: at the cap, more wait). */
  pendingDeltas: number;
};

/**
 * The counts of each lane of a workspace: its totals (at most LANES × LEGACY_COUNTER_SHARDS
 * documents, one per lane once folded) plus its pending deltas (at most MAX_PENDING_DELTAS_READ), two bounded index ranges.
 */
export async function countsOfWorkspace(ctx: QueryCtx, workspaceId: Id<"workspaces">): Promise<WorkspaceCounts> {
  const totals = await ctx.db
    .query("jobCounters")
    .withIndex("by_workspace_lane_shard", (q) => q.eq("workspaceId", workspaceId))
    .take(LANES.length * LEGACY_COUNTER_SHARDS);
  const pending = await ctx.db
    .query("jobCounterDeltas")
    .withIndex("by_workspace", (q) => q.eq("workspaceId", workspaceId))
    .take(MAX_PENDING_DELTAS_READ);
  const parts = [...totals, ...pending];
  const lanes = Object.fromEntries(
    LANES.map((lane) => [lane, laneCounts(parts.filter((part) => part.lane === lane))]),
  ) as Record<Lane, LaneCounts>;
  return { lanes, pendingDeltas: pending.length };
}
