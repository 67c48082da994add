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
import { moveJob, updateJob } from "./jobState";
import { SYSTEM_REASON_CODES, systemReason } from "./model/outcomeReasons";
import { DEFAULT_CANCEL_GRACE_MS } from "./model/scheduling";
import { retryPolicyFor, scheduleRetry } from "./scheduling";

async function cancelGraceMs(ctx: MutationCtx, workspaceId: Id<"workspaces">): Promise<number> {
  const workspace = await ctx.db.get(workspaceId);
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
    const job = await ctx.db.get(jobId);
    if (job === null || job.status !== "running" || job.claimGeneration !== claimGeneration) return null;
    await requestCancel(ctx, job, { timedOut: true });
    return null;
  },
});

/** Scheduled `cancelGraceMs` after a cancel request: ends the claim if the worker has not. */
export const endAfterCancelGrace = internalMutation({
  args: { jobId: v.id("jobs"), claimGeneration: v.number() },
  handler: async (ctx, { jobId, claimGeneration }): Promise<null> => {
    const job = await ctx.db.get(jobId);
    if (job === null || job.status !== "running" || job.claimGeneration !== claimGeneration) return null;
    if (!job.cancelRequested) return null;
    const ended = { workerId: job.claimedBy, claimGeneration, cancelRequestedAt: job.cancelRequestedAt };
    if (job.timedOut) {
      const policy = retryPolicyFor(job);
      if (policy !== null) {
        await scheduleRetry(ctx, job, policy, { cause: "timeout", data: { timeoutMs: job.timeoutMs } });
        return null;
      }
    }
    const outcome = job.timedOut ? ("failed" as const) : ("canceled" as const);
    const summary = job.timedOut
      ? `Attempt ${job.attempts} passed its timeout of ${job.timeoutMs} ms and was still running after the cancel grace.`
      : "Still running after the cancel grace; ended by the server.";
    await moveJob(ctx, job, outcome, {
      patch: {
        outcome,
        outcomeReason: systemReason(
          outcome,
          job.timedOut ? SYSTEM_REASON_CODES.timeout : SYSTEM_REASON_CODES.cancelGrace,
          summary,
        ),
        leaseExpiresAt: undefined,
        finishedAt: Date.now(),
      },
      event: { type: outcome, message: summary, data: { ...ended, by: "server" } },
    });
    return null;
  },
});
