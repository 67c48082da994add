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
import { moveJob, withJobBatch } from "./jobState";
import { afterLeaseLoss, isLeaseExpired } from "./model/leases";
import { convexSize } from "./model/convexValues";
import { SYSTEM_REASON_CODES, systemReason } from "./model/outcomeReasons";
import { retryPolicyFor, scheduleRetry } from "./scheduling";

/** Jobs recovered per sweep transaction; a full batch schedules the next one at once. */
export const SWEEP_BATCH = 100;
/** Bytes of jobs (as Convex counts them) a sweep transaction recovers before it hands on. */
export const SWEEP_BATCH_BYTES = 4 * 1024 * 1024;

/**
 * Ends the claim of a job whose lease has expired: with a retry policy and attempts left,
 * `scheduled` after its back-off (`retry_scheduled`, cause `lease_expired`); else a `recovered`
 * event, then back to `pending` while attempts remain, else `failed`, or `canceled` if a cancel
 * was requested (reason code `lease_expired`).
 * Callers check that the job is running and its lease expired.
 */
export async function recoverExpiredLease(ctx: MutationCtx, job: Doc<"jobs">): Promise<Doc<"jobs">> {
  const policy = retryPolicyFor(job);
  if (policy !== null) return await scheduleRetry(ctx, job, policy, { cause: "lease_expired" });
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
  return await moveJob(ctx, job, next, {
    patch: { claimedBy: undefined, claimedAt: undefined, leaseExpiresAt: undefined, ...finished },
    event: {
      type: "recovered",
      message: `Lease of attempt ${job.attempts} expired; the job is now ${next}.`,
      data: { workerId: job.claimedBy, claimGeneration: job.claimGeneration, attempt: job.attempts, status: next },
    },
  });
}

/** Scheduled at a claim's lease expiry. A newer claim or a finished job make it a no-op. */
export const recoverIfLeaseExpired = internalMutation({
  args: { jobId: v.id("jobs"), claimGeneration: v.number() },
  handler: async (ctx, { jobId, claimGeneration }) => {
    const job = await ctx.db.get("jobs", jobId);
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
    const now = Date.now();
    const expiredLeases = ctx.db
      .query("jobs")
      .withIndex("by_status_lease", (q) => q.eq("status", "running").lte("leaseExpiresAt", now));
    // Each job is read, then written back (with an event): bound both by bytes, not only by count,
    // so a batch of large jobs stays far inside the transaction's 16 MiB.
    let recovered = 0;
    let bytes = 0;
    await withJobBatch(ctx, async () => {
      for await (const job of expiredLeases) {
        await recoverExpiredLease(ctx, job);
        recovered++;
        bytes += convexSize(job);
        if (recovered >= SWEEP_BATCH || bytes >= SWEEP_BATCH_BYTES) break;
      }
    });
    const full = recovered >= SWEEP_BATCH || bytes >= SWEEP_BATCH_BYTES;
    if (full) await ctx.scheduler.runAfter(0, internal.recovery.sweepExpiredLeases, {});
    return { recovered };
  },
});
