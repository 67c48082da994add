/**
 * Delayed jobs and retries with back-off (SPEC §6 "Scheduling"). A `scheduled` job waits for its
 * `availableAt`: jobState.ts schedules `releaseIfDue` at that time whenever a job enters
 * `scheduled`, and it moves the job to `pending` (event `released`); the cron sweep releases any
 * whose timer was lost. `scheduleRetry` is the move of a running job back to `scheduled` after a
 * lost lease, a retryable failure or a timeout, under the job's retry policy.
 */
import { v } from "convex/values";
import type { Doc } from "./_generated/dataModel";
import { internal } from "./_generated/api";
import { internalMutation, type MutationCtx } from "./_generated/server";
import { moveJob, withJobBatch, type JobPatch } from "./jobState";
import { retryDelayMs, type RetryPolicy } from "./model/scheduling";
import { sweepBatch } from "./sweeps";

/** Scheduled jobs released per sweep transaction; a full batch continues at once. */
export const RELEASE_BATCH = 100;

/** Moves a scheduled job whose time has come to `pending`. Callers checked both. */
async function release(ctx: MutationCtx, job: Doc<"jobs">) {
  return await moveJob(ctx, job, "pending", {
    patch: { availableAt: undefined },
    event: { type: "released", data: { availableAt: job.availableAt } },
  });
}

/**
 * Scheduled for a job's `availableAt`. A job that moved on (canceled, or scheduled again for
 * another time, which has its own timer) makes it a no-op.
 */
export const releaseIfDue = internalMutation({
  args: { jobId: v.id("jobs"), availableAt: v.number() },
  handler: async (ctx, { jobId, availableAt }): Promise<null> => {
    const job = await ctx.db.get("jobs", jobId);
    if (job === null || job.status !== "scheduled" || job.availableAt !== availableAt) return null;
    if (availableAt > Date.now()) {
      // Ran early (a clock step): wait for the time again.
      await ctx.scheduler.runAt(availableAt, internal.scheduling.releaseIfDue, { jobId, availableAt });
      return null;
    }
    await release(ctx, job);
    return null;
  },
});

/** Cron safety net: releases scheduled jobs already due, earliest first, in batches. */
export const sweepDueJobs = internalMutation({
  args: {},
  handler: async (ctx): Promise<{ released: number }> => {
    const due = await ctx.db
      .query("jobs")
      .withIndex("by_status_available", (q) => q.eq("status", "scheduled").lte("availableAt", Date.now()))
      .take(RELEASE_BATCH);
    const released: number = await withJobBatch(ctx, () =>
      sweepBatch(ctx, { documents: due, size: RELEASE_BATCH, again: internal.scheduling.sweepDueJobs }, (job) =>
        release(ctx, job),
      ),
    );
    return { released };
  },
});

/** Why a running job is retried later. */
export type RetryCause = "lease_expired" | "failed" | "timeout";

/**
 * Whether the job's retry policy takes it back (it has one, attempts remain, no cancel was
 * requested by a person): the policy, or null when the job ends instead.
 */
export function retryPolicyFor(job: Doc<"jobs">): RetryPolicy | null {
  if (job.retryPolicy === undefined || job.attempts >= job.maxAttempts) return null;
  if (job.cancelRequested && !job.timedOut) return null;
  return job.retryPolicy;
}

/**
 * Ends the running claim of `job` and schedules its next attempt after the policy's delay (the
 * worker's `recommendedDelayMs` when it sent one): event `retry_scheduled {delayMs, attempt, cause}`.
 */
export async function scheduleRetry(
  ctx: MutationCtx,
  job: Doc<"jobs">,
  policy: RetryPolicy,
  retry: {
    cause: RetryCause;
    recommendedDelayMs?: number;
    message?: string;
    data?: Record<string, unknown>;
    /** More fields to set with the move (a worker's completion records itself: `lastCompletion`). */
    patch?: JobPatch;
  },
): Promise<Doc<"jobs">> {
  const delayMs = retryDelayMs(policy, job.attempts, retry.recommendedDelayMs);
  const availableAt = Date.now() + delayMs;
  return await moveJob(ctx, job, "scheduled", {
    patch: {
      ...retry.patch,
      availableAt,
      claimedBy: undefined,
      claimedAt: undefined,
      leaseExpiresAt: undefined,
      cancelRequested: false,
      cancelRequestedAt: undefined,
      timedOut: undefined,
    },
    event: {
      type: "retry_scheduled",
      message: retry.message ?? `Attempt ${job.attempts} ended (${retry.cause}); retrying in ${delayMs} ms.`,
      data: {
        ...retry.data,
        cause: retry.cause,
        delayMs,
        availableAt,
        attempt: job.attempts,
        workerId: job.claimedBy,
        claimGeneration: job.claimGeneration,
      },
    },
  });
}
