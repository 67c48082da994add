/**
 * Cancels that bite (SPEC §6 "Scheduling": timeout, cancel grace). A cancel request on a running
 * job (`requestCancel`, by a person or by a timeout) starts the workspace's cancel grace; a job
 * still running on the same claim when it ends is ended by the server: `canceled` (code
 * `cancel_grace`), or for a timeout `failed` (code `timeout`) with the retry policy applied. The
 * worker's next lease call then answers LEASE_MISMATCH, so a worker that never reads
 * `cancelRequested` is stopped too. Timers carry the claim's generation: a later claim ignores them.
 */
import { v } from "convex/values";
import type { Doc, Id } from "./_generated/dataModel";
import { internal } from "./_generated/api";
import { internalMutation, type MutationCtx } from "./_generated/server";
import { moveJob, updateJob, type JobPatch } from "./jobState";
import { SYSTEM_REASON_CODES, systemReason } from "./model/outcomeReasons";
import { DEFAULT_CANCEL_GRACE_MS } from "./model/scheduling";
import { retryPolicyFor, scheduleRetry } from "./scheduling";

async function cancelGraceMs(ctx: MutationCtx, workspaceId: Id<"workspaces">): Promise<number> {
  const workspace = await ctx.db.get("workspaces", workspaceId);
  return workspace?.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS;
}

/**
 * Asks a running job to stop: `cancelRequested` (returned on every heartbeat), a
 * `cancel_requested` or `timed_out` note, and the grace timer. A second request changes nothing.
 */
export async function requestCancel(
  ctx: MutationCtx,
  job: Doc<"jobs">,
  request: { reason?: string; timedOut?: boolean },
): Promise<Doc<"jobs">> {
  if (job.cancelRequested) return job;
  const now = Date.now();
  const graceMs = await cancelGraceMs(ctx, job.workspaceId);
  const note = request.timedOut
    ? {
        type: "timed_out" as const,
        message: `The attempt passed its timeout of ${job.timeoutMs} ms; its cancel is requested.`,
        data: { timeoutMs: job.timeoutMs, graceMs },
      }
    : { type: "cancel_requested" as const, message: request.reason, data: { graceMs } };
  const asked = await updateJob(
    ctx,
    job,
    { cancelRequested: true, cancelRequestedAt: now, ...(request.timedOut ? { timedOut: true } : {}) },
    note,
  );
  await ctx.scheduler.runAt(now + graceMs, internal.timeouts.endAfterCancelGrace, {
    jobId: job._id,
    claimGeneration: job.claimGeneration,
  });
  return asked;
}

/** Scheduled at each claim of a job with `timeoutMs`: the attempt's time is up. */
export const timeOutIfRunning = internalMutation({
  args: { jobId: v.id("jobs"), claimGeneration: v.number() },
  handler: async (ctx, { jobId, claimGeneration }): Promise<null> => {
    const job = await ctx.db.get("jobs", jobId);
    if (job === null || job.status !== "running" || job.claimGeneration !== claimGeneration) return null;
    await requestCancel(ctx, job, { timedOut: true });
    return null;
  },
});

/**
 * Ends the claim of a timed-out job: `scheduled` under its retry policy with attempts left, else
 * `failed` with reason code `timeout`. Also used when its worker completes it `canceled` (it was
 * asked to stop by the timeout): that attempt failed, whatever word the worker chose. `patch` is
 * set with the move (the worker's completion records itself there).
 */
export async function endTimedOut(
  ctx: MutationCtx,
  job: Doc<"jobs">,
  data: Record<string, unknown>,
  patch: JobPatch = {},
) {
  const policy = retryPolicyFor(job);
  if (policy !== null)
    return await scheduleRetry(ctx, job, policy, {
      cause: "timeout",
      data: { ...data, timeoutMs: job.timeoutMs },
      patch,
    });
  const summary = `Attempt ${job.attempts} passed its timeout of ${job.timeoutMs} ms.`;
  return await moveJob(ctx, job, "failed", {
    patch: {
      ...patch,
      outcome: "failed",
      outcomeReason: systemReason("failed", SYSTEM_REASON_CODES.timeout, summary),
      leaseExpiresAt: undefined,
      finishedAt: Date.now(),
    },
    event: { type: "failed", message: summary, data },
  });
}

/** Scheduled `cancelGraceMs` after a cancel request: ends the claim if the worker has not. */
export const endAfterCancelGrace = internalMutation({
  args: { jobId: v.id("jobs"), claimGeneration: v.number() },
  handler: async (ctx, { jobId, claimGeneration }): Promise<null> => {
    const job = await ctx.db.get("jobs", jobId);
    if (job === null || job.status !== "running" || job.claimGeneration !== claimGeneration) return null;
    if (!job.cancelRequested) return null;
    const ended = { workerId: job.claimedBy, claimGeneration, cancelRequestedAt: job.cancelRequestedAt, by: "server" };
    if (job.timedOut) {
      await endTimedOut(ctx, job, ended);
      return null;
    }
    const summary = "Still running after the cancel grace; ended by the server.";
    await moveJob(ctx, job, "canceled", {
      patch: {
        outcome: "canceled",
        outcomeReason: systemReason("canceled", SYSTEM_REASON_CODES.cancelGrace, summary),
        leaseExpiresAt: undefined,
        finishedAt: Date.now(),
      },
      event: { type: "canceled", message: summary, data: ended },
    });
    return null;
  },
});
