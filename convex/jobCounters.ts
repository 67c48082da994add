/**
 * The job counters (SPEC §9b). Owns `jobCounters`: COUNTER_SHARDS documents per (workspace,
 * lane), each a job's share of the gauges (jobs per status) and counters (moves made) in the
 * shard its id hashes to (model/jobCounters.ts). jobState.ts calls `countJobChange` on every
 * birth, move and deletion of a counted job; metrics.ts sums a workspace's shards. Nothing here
 * reads jobs: the counts are kept, never scanned.
 */
import type { Doc, Id } from "./_generated/dataModel";
import type { MutationCtx, QueryCtx } from "./_generated/server";
import {
  COUNTER_SHARDS,
  addDelta,
  emptyDelta,
  laneCounts,
  shardOf,
  type CounterDelta,
  type LaneCounts,
} from "./model/jobCounters";
import { LANES, type Lane } from "./model/jobs";

type CountedJob = Pick<Doc<"jobs">, "_id" | "workspaceId" | "lane">;
type ShardChange = { workspaceId: Id<"workspaces">; lane: Lane; shard: number; delta: CounterDelta };

/** The changes of the transaction's open batch, by shard, keyed by its `ctx.db` (as jobState.ts's batches). */
const openBatches = new WeakMap<object, Map<string, ShardChange>>();

/** Adds `delta` to the job's shard, now or, inside `withCounterBatch`, once at the batch's end. */
export async function countJobChange(ctx: MutationCtx, job: CountedJob, delta: CounterDelta): Promise<void> {
  const change: ShardChange = { workspaceId: job.workspaceId, lane: job.lane, shard: shardOf(job._id), delta };
  const batch = openBatches.get(ctx.db);
  if (batch === undefined) return await writeShard(ctx, change);
  const key = `${change.workspaceId}/${change.lane}/${change.shard}`;
  const open = batch.get(key);
  batch.set(key, open === undefined ? change : { ...open, delta: addDelta(open.delta, delta) });
}

/**
 * Runs `work` with its counter changes gathered: each shard it touches is read and written once
 * at the end (the lease sweep and complete-and-enqueue-children move up to 100 jobs at a time).
 */
export async function withCounterBatch<T>(ctx: MutationCtx, work: () => Promise<T>): Promise<T> {
  if (openBatches.has(ctx.db)) return await work();
  const batch = new Map<string, ShardChange>();
  openBatches.set(ctx.db, batch);
  try {
    const result = await work();
    for (const change of batch.values()) await writeShard(ctx, change);
    return result;
  } finally {
    openBatches.delete(ctx.db);
  }
}

async function writeShard(ctx: MutationCtx, { workspaceId, lane, shard, delta }: ShardChange): Promise<void> {
  const existing = await ctx.db
    .query("jobCounters")
    .withIndex("by_workspace_lane_shard", (q) => q.eq("workspaceId", workspaceId).eq("lane", lane).eq("shard", shard))
    .unique();
  if (existing === null) return await createShards(ctx, { workspaceId, lane, shard, delta });
  await ctx.db.patch("jobCounters", existing._id, addDelta(existing, delta));
}

/**
 * The first change of a (workspace, lane) creates all its shards, so every later change finds its
 * shard and costs the same (one index read and one patch), whichever shard a job hashes to.
 */
async function createShards(ctx: MutationCtx, { workspaceId, lane, shard, delta }: ShardChange): Promise<void> {
  const existing = await ctx.db
    .query("jobCounters")
    .withIndex("by_workspace_lane_shard", (q) => q.eq("workspaceId", workspaceId).eq("lane", lane))
    .take(COUNTER_SHARDS);
  const present = new Set(existing.map((row) => row.shard));
  for (let each = 0; each < COUNTER_SHARDS; each++) {
    if (present.has(each)) continue;
    const counts = addDelta(emptyDelta(), each === shard ? delta : emptyDelta());
    await ctx.db.insert("jobCounters", { workspaceId, lane, shard: each, ...counts });
  }
}

/** The counts of each lane of a workspace: one bounded index range (at most LANES × COUNTER_SHARDS documents). */
export async function countsOfWorkspace(
  ctx: QueryCtx,
  workspaceId: Id<"workspaces">,
): Promise<Record<Lane, LaneCounts>> {
  const shards = await ctx.db
    .query("jobCounters")
    .withIndex("by_workspace_lane_shard", (q) => q.eq("workspaceId", workspaceId))
    .take(LANES.length * COUNTER_SHARDS);
  return Object.fromEntries(
    LANES.map((lane) => [lane, laneCounts(shards.filter((shard) => shard.lane === lane))]),
  ) as Record<Lane, LaneCounts>;
}
