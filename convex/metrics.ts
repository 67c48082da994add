/**
 * The numbers of `/control-plane/metrics` and the Console `stats` query (SPEC §9, §9b), read the
 * same way for both: a workspace's job counters (jobCounters.ts: its totals and its not yet folded
 * deltas, two bounded index ranges), the first pending job of each lane in `pendingSince` order (one document per lane)
 * and its online workers (a bounded index range). Nothing here reads more as jobs accumulate.
 */
import { paginationOptsValidator } from "convex/server";
import { v } from "convex/values";
import type { Doc, Id } from "./_generated/dataModel";
import type { QueryCtx } from "./_generated/server";
import { callerInternalQuery, workspaceInternalQuery, workspaceQuery } from "./functions";
import { countsOfWorkspace } from "./jobCounters";
import { apiError } from "./model/errors";
import { LANES, type Lane } from "./model/jobs";
import type { LaneStats, WorkspaceStats } from "./model/metricsText";

/** Online workers counted per workspace; a workspace with more shows this many. */
export const MAX_COUNTED_WORKERS = 1_000;

async function oldestPendingSince(ctx: QueryCtx, workspaceId: Id<"workspaces">, lane: Lane): Promise<number | null> {
  const oldest = await ctx.db
    .query("jobs")
    .withIndex("by_workspace_lane_status_pending", (q) =>
      q.eq("workspaceId", workspaceId).eq("lane", lane).eq("status", "pending"),
    )
    .first();
  // Jobs not yet backfilled have no `pendingSince` (they sort first); their last change stands in.
  return oldest === null ? null : (oldest.pendingSince ?? oldest.updatedAt);
}

async function workersOnline(ctx: QueryCtx, workspaceId: Id<"workspaces">): Promise<number> {
  const online = await ctx.db
    .query("workers")
    .withIndex("by_workspace_online", (q) => q.eq("workspaceId", workspaceId).eq("online", true))
    .take(MAX_COUNTED_WORKERS);
  return online.length;
}

async function workspaceStats(ctx: QueryCtx, workspace: Doc<"workspaces">): Promise<WorkspaceStats> {
  const counts = await countsOfWorkspace(ctx, workspace._id);
  const lanes = {} as Record<Lane, LaneStats>;
  for (const lane of LANES) {
    lanes[lane] = { ...counts.lanes[lane], oldestPendingSince: await oldestPendingSince(ctx, workspace._id, lane) };
  }
  return {
    workspaceId: workspace._id,
    slug: workspace.slug,
    lanes,
    workersOnline: await workersOnline(ctx, workspace._id),
    pendingCounterDeltas: counts.pendingDeltas,
  };
}

async function requireWorkspace(ctx: QueryCtx, workspaceId: Id<"workspaces">): Promise<Doc<"workspaces">> {
  const workspace = await ctx.db.get("workspaces", workspaceId);
  if (workspace === null) throw apiError("WORKSPACE_NOT_FOUND", "No workspace has this id.");
  return workspace;
}

/**
 * Console: the metrics of one workspace, for its members. `oldestPendingSince` is a time, not an
 * age, so the answer changes only when the counts do (a query that read the clock would not update).
 */
export const stats = workspaceQuery({
  args: {},
  handler: async (ctx) => await workspaceStats(ctx, await requireWorkspace(ctx, ctx.workspace.workspaceId)),
});

/** `/metrics`: one workspace's numbers, for its admins (a workspace's service token, an admin's device token) and deployment-wide callers. */
export const workspaceMetrics = workspaceInternalQuery({
  minRole: "admin",
  args: {},
  handler: async (ctx) => await workspaceStats(ctx, await requireWorkspace(ctx, ctx.access.workspaceId)),
});

/** `/metrics` for deployment-wide callers (the service token, dev mode): the workspaces, a page at a time. */
export const workspacePage = callerInternalQuery({
  args: { paginationOpts: paginationOptsValidator },
  returns: v.object({ workspaceIds: v.array(v.id("workspaces")), continueCursor: v.string(), isDone: v.boolean() }),
  handler: async (ctx, { paginationOpts }) => {
    if (ctx.caller.kind === "token")
      throw apiError("FORBIDDEN", "Only the deployment's service token lists every workspace.");
    const page = await ctx.db.query("workspaces").withIndex("by_slug").paginate(paginationOpts);
    return {
      workspaceIds: page.page.map((workspace) => workspace._id),
      continueCursor: page.continueCursor,
      isDone: page.isDone,
    };
  },
});
