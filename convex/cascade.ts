/**
 * Cancel cascades (SPEC §6 "Scheduling": cascade). Canceling a run cancels its scheduled and
 * pending jobs and requests cancel of its running ones; canceling a job does the same to the
 * children it spawned, and each child canceled passes it on to its own, so a tree of any depth is
 * reached. Every step is a scheduled mutation over one bounded batch (index ranges of the run's or
 * the parent's jobs by status), continued while a batch is full, so a fan-out of thousands stays
 * inside the transaction limits.
 */
import { v } from "convex/values";
import type { Doc, Id } from "./_generated/dataModel";
import { internal } from "./_generated/api";
import { internalMutation, type MutationCtx } from "./_generated/server";
import { withJobBatch } from "./jobState";
import type { CascadeTarget } from "./cascadeStart";
import { cancelJob } from "./jobs";
import type { JobStatus } from "./model/jobs";

/** Jobs canceled per transaction. */
export const CASCADE_BATCH = 100;
/** Statuses a cascade cancels at once (running jobs are asked to stop). */
const WAITING: readonly JobStatus[] = ["scheduled", "waiting", "pending"];

type Target = CascadeTarget;

/** The jobs of `target` in `status`, as an index range (the run's, or the parent's). */
function jobsIn(ctx: MutationCtx, workspaceId: Id<"workspaces">, target: Target, status: JobStatus) {
  if (target.runId !== undefined) {
    return ctx.db
      .query("jobs")
      .withIndex("by_workspace_run_status", (q) =>
        q.eq("workspaceId", workspaceId).eq("runId", target.runId).eq("status", status),
      );
  }
  return ctx.db
    .query("jobs")
    .withIndex("by_parent_status", (q) => q.eq("parentJobId", target.parentJobId).eq("status", status));
}

/**
 * One batch (a job's children: `cancelChildren`; a run's jobs:) scheduled and pending jobs first (each canceled job leaves its range, so the next
 * batch starts over), then running ones page by page (asked to stop, they stay in the range).
 */
export const cancelBelow = internalMutation({
  args: {
    workspaceId: v.id("workspaces"),
    runId: v.optional(v.id("runs")),
    parentJobId: v.optional(v.id("jobs")),
    reason: v.string(),
    runningCursor: v.union(v.string(), v.null()),
  },
  handler: async (ctx, { workspaceId, reason, runningCursor, ...target }): Promise<{ canceled: number }> => {
    if (target.parentJobId !== undefined)
      return await cancelChildren(ctx, workspaceId, target.parentJobId, reason, runningCursor);
    const batch: Doc<"jobs">[] = [];
    if (runningCursor === null) {
      for (const status of WAITING) {
        const room = CASCADE_BATCH - batch.length;
        if (room > 0) batch.push(...(await jobsIn(ctx, workspaceId, target, status).take(room)));
      }
    }
    let next: string | null = null;
    let more = batch.length === CASCADE_BATCH;
    if (!more) {
      const running = await jobsIn(ctx, workspaceId, target, "running").paginate({
        numItems: CASCADE_BATCH - batch.length,
        cursor: runningCursor,
      });
      batch.push(...running.page);
      if (!running.isDone) [more, next] = [true, running.continueCursor];
    }
    await withJobBatch(ctx, async () => {
      for (const job of batch) await cancelJob(ctx, job, reason);
    });
    if (more) {
      await ctx.scheduler.runAfter(0, internal.cascade.cancelBelow, {
        workspaceId,
        ...target,
        reason,
        runningCursor: next,
      });
    }
    return { canceled: batch.length };
  },
});

/**
 * One page of a job's children, whatever their status: live ones are canceled (cancelJob passes
 * the cascade on to theirs), finished ones that spawned children pass it on too, so a tree is
 * reached through finished levels. Continued from `cursor` while pages remain.
 */
async function cancelChildren(
  ctx: MutationCtx,
  workspaceId: Id<"workspaces">,
  parentJobId: Id<"jobs">,
  reason: string,
  cursor: string | null,
) {
  const children = await ctx.db
    .query("jobs")
    .withIndex("by_parent_status", (q) => q.eq("parentJobId", parentJobId))
    .paginate({ numItems: CASCADE_BATCH, cursor });
  let canceled = 0;
  await withJobBatch(ctx, async () => {
    for (const child of children.page) {
      if (isLive(child.status) || (child.spawnedJobIds ?? []).length > 0) {
        await cancelJob(ctx, child, reason);
        canceled++;
      }
    }
  });
  if (!children.isDone) {
    await ctx.scheduler.runAfter(0, internal.cascade.cancelBelow, {
      workspaceId,
      parentJobId,
      reason,
      runningCursor: children.continueCursor,
    });
  }
  return { canceled };
}

function isLive(status: JobStatus): boolean {
  return status === "running" || WAITING.includes(status);
}
