/**
 * Starts a cancel cascade (cascade.ts) below a run or a job. Its own module so the run and job
 * cancels can start one without importing cascade.ts, which cancels through jobs.ts.
 */
import type { Id } from "./_generated/dataModel";
import { internal } from "./_generated/api";
import type { MutationCtx } from "./_generated/server";

export type CascadeTarget = { runId?: Id<"runs">; parentJobId?: Id<"jobs"> };

/** Schedules the first batch of the cascade below `target`. */
export async function startCascade(
  ctx: MutationCtx,
  workspaceId: Id<"workspaces">,
  target: CascadeTarget,
  reason: string,
) {
  await ctx.scheduler.runAfter(0, internal.cascade.cancelBelow, {
    workspaceId,
    ...target,
    reason,
    runningCursor: null,
  });
}
