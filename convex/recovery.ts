/**
 * Lost leases (SPEC §6 "Recovery"). A claim schedules `recoverIfLeaseExpired` at its lease
 * expiry; when the lease was extended meanwhile, that run re-schedules itself at the new expiry,
 * so each claim has exactly one pending timer however often it heartbeats. The cron sweep
 * (crons.ts) is the safety net for timers lost in a restart or a failure.
 */
import { v } from "convex/values";
import type { Doc } from "./_generated/dataModel";
import { internal } from "./_generated/api";
import { internalMutation, type MutationCtx } from "./_generated/server";
import { onJobFinished } from "./jobHooks";
import { recordJobChange } from "./jobEvents";
import { afterLeaseLoss, isLeaseExpired } from "./model/leases";
import { SYSTEM_REASON_CODES, systemReason } from "./model/outcomeReasons";
import { jobBecamePending } from "./queue";

/** Jobs recovered per sweep transaction; a full batch schedules the next one at once. */
export const SWEEP_BATCH = 100;

/**
 * Ends the claim of a job whose lease has expired: `recovered` event, then back to `pending`
 * while attempts remain, else `failed`, or `canceled` if a cancel was requested (reason code `lease_expired`).
 * Callers check that the job is running and its lease expired.
 */
export async function recoverExpiredLease(ctx: MutationCtx, job: Doc<"jobs">): Promise<Doc<"jobs">> {
  const next = afterLeaseLoss(job);
  const finished =
    next === "pending"
      ? {}
      : {
          outcomeReason: systemReason(
            next,
            SYSTEM_REASON_CODES.leaseExpired,
            `The lease of attempt ${job.attempts} of ${job.maxAttempts} expired.`,
          ),
          finishedAt: Date.now(),
        };
  const recovered = await recordJobChange(
    ctx,
    job,
    { status: next, claimedBy: undefined, claimedAt: undefined, leaseExpiresAt: undefined, ...finished },
    {
      type: "recovered",
      message: `Lease of attempt ${job.attempts} expired; the job is now ${next}.`,
      data: { workerId: job.claimedBy, claimGeneration: job.claimGeneration, attempt: job.attempts, status: next },
    },
  );
  if (next === "pending") await jobBecamePending(ctx, recovered);
  else await onJobFinished(ctx, recovered);
  return recovered;
}

/** Scheduled at a claim's lease expiry. A newer claim or a finished job make it a no-op. */
export const recoverIfLeaseExpired = internalMutation({
  args: { jobId: v.id("jobs"), claimGeneration: v.number() },
  handler: async (ctx, { jobId, claimGeneration }) => {
    const job = await ctx.db.get(jobId);
    if (job === null || job.status !== "running" || job.claimGeneration !== claimGeneration) return null;
    if (!isLeaseExpired(job.leaseExpiresAt, Date.now())) {
      await ctx.scheduler.runAt(job.leaseExpiresAt!, internal.recovery.recoverIfLeaseExpired, {
        jobId,
        claimGeneration,
      });
      return null;
    }
    await recoverExpiredLease(ctx, job);
    return null;
  },
});

/** Cron safety net: recovers running jobs whose lease expired, oldest expiry first, in batches. */
export const sweepExpiredLeases = internalMutation({
  args: {},
  handler: async (ctx) => {
    const expired = await ctx.db
      .query("jobs")
      .withIndex("by_status_lease", (q) => q.eq("status", "running").lte("leaseExpiresAt", Date.now()))
      .take(SWEEP_BATCH);
    for (const job of expired) await recoverExpiredLease(ctx, job);
    if (expired.length === SWEEP_BATCH) await ctx.scheduler.runAfter(0, internal.recovery.sweepExpiredLeases, {});
    return { recovered: expired.length };
  },
});
