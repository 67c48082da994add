/**
 * Lease state changes (SPEC §6 "Lease"), each named by its precondition: a worker claims the
 * next matching job, then extends, logs to and completes it only while it holds the lease
 * (same worker, same `claimGeneration`, lease not expired). A call that arrives after the lease
 * expired recovers the job in its own transaction and answers LEASE_MISMATCH: such results are
 * returned as a `Refusal` (a thrown error would roll the recovery back) and the route turns them
 * into the error response (`unlessRefused`).
 */
import { v, type ObjectType } from "convex/values";
import type { Doc, Id } from "./_generated/dataModel";
import { internal } from "./_generated/api";
import type { MutationCtx } from "./_generated/server";
import { requireId, type WorkspaceAccess } from "./access";
import { requestArgs } from "./api/convexArgs";
import {
  claimNextRequest,
  completeAndEnqueueChildrenRequest,
  completeRequest,
  heartbeatRequest,
  logRequest,
} from "./api/requests/jobs";
import { workspaceInternalMutation } from "./functions";
import { enqueueJob } from "./jobs";
import { jobView, moveJob, requireJob, updateJob, withJobBatch } from "./jobState";
import { apiError, refusal, type Refusal } from "./model/errors";
import { OUTCOME_EVENT, isFinished, laneValidator } from "./model/jobs";
import { checkLease, clampLeaseMs, type LeaseHolder, type NoClaimReason } from "./model/leases";
import { nextClaimableJob } from "./queue";
import { pausedFor } from "./queuePauses";
import { recoverExpiredLease } from "./recovery";
import { requireRun } from "./runs";
import { retryPolicyFor, scheduleRetry } from "./scheduling";
import { endTimedOut } from "./timeouts";
import { requireWorker } from "./workers";

const LEASE_LOST: Refusal = refusal("LEASE_MISMATCH", "The lease expired before this call; the job was recovered.");

/** Set by the cloud AI routes on the lease calls: a job of the other lane answers JOB_NOT_FOUND. */
const onlyLane = { lane: v.optional(laneValidator) };

type HolderArgs = {
  jobId: string;
  workerId: string;
  claimGeneration?: number;
  lane?: ObjectType<typeof onlyLane>["lane"];
};
type AccessCtx = MutationCtx & { access: WorkspaceAccess };

/** The job and the caller's claim on it (the builder checked access: member, for worker calls). */
async function loadClaim(ctx: AccessCtx, args: HolderArgs) {
  const { workspaceId } = ctx.access;
  const job = await requireJob(ctx, workspaceId, args.jobId, args.lane);
  const holder: LeaseHolder = {
    workerId: requireId(ctx, "workers", args.workerId, "workerId"),
    claimGeneration: args.claimGeneration,
  };
  return { workspaceId, job, holder };
}

/**
 * Fences a call on the lease: throws LEASE_MISMATCH / CLAIM_GENERATION_MISMATCH, or recovers a
 * job whose lease just expired and returns false (the caller answers LEASE_LOST).
 */
async function leaseStillHeld(ctx: MutationCtx, job: Doc<"jobs">, holder: LeaseHolder, now: number): Promise<boolean> {
  const check = checkLease(job, holder, now);
  if (check.held) return true;
  if (check.expired) {
    await recoverExpiredLease(ctx, job);
    return false;
  }
  throw apiError(check.code, check.message);
}

/**
 * `POST /v1/jobs/claim-next` (and the cloud AI lane's): 8 document reads (patched documents
 * count), 4 when nothing is claimable, whatever the queue holds (see queue.ts; one is the pause
 * document of the lane).
 */
export const claimNext = workspaceInternalMutation({
  minRole: "member",
  args: { ...requestArgs(claimNextRequest), lane: laneValidator },
  handler: async (ctx, { workerId, leaseMs, lane }) => {
    const { workspaceId } = ctx.access;
    const worker = await requireWorker(ctx, workspaceId, workerId);
    const none = (reason: NoClaimReason) => ({ jobId: null, job: null, reason });
    // An admin's drain wins over the worker's own `online` (SPEC §6 "Drain from the Console").
    if (worker.drainRequested === true) return none("WORKER_DRAINING");
    if (worker.status !== "online") return none("WORKER_NOT_ONLINE");
    const reposAllowed = worker.capabilities.reposAllowed ?? [];
    if (reposAllowed.length === 0) return none("NO_REPOS_ALLOWED");
    // Paused repos leave the allowlist before the claim directory is read (queuePauses.ts).
    const paused = await pausedFor(ctx, workspaceId, lane);
    if (paused.lanePaused) return none("QUEUE_PAUSED");
    const unpaused = reposAllowed.filter((repoId) => !paused.pausedRepoIds.has(repoId));
    const someRepoPaused = unpaused.length < reposAllowed.length;
    const claimable =
      unpaused.length === 0
        ? null
        : await nextClaimableJob(ctx, workspaceId, lane, { ...worker.capabilities, reposAllowed: unpaused });
    if (claimable === null) return none(someRepoPaused ? "QUEUE_PAUSED" : "NO_JOBS");
    const { directory, job } = claimable;
    const now = Date.now();
    const grantedMs = clampLeaseMs(leaseMs);
    const leaseExpiresAt = now + grantedMs;
    const claimGeneration = job.claimGeneration + 1;
    const attempt = job.attempts + 1;
    const claimed = await moveJob(ctx, job, "running", {
      patch: {
        ...(await missingRunRef(ctx, job)),
        attempts: attempt,
        claimGeneration,
        claimedBy: worker._id,
        claimedAt: now,
        leaseMs: grantedMs,
        leaseExpiresAt,
      },
      event: { type: "claimed", data: { workerId: worker._id, claimGeneration, attempt, leaseExpiresAt } },
      directory,
    });
    await ctx.scheduler.runAt(leaseExpiresAt, internal.recovery.recoverIfLeaseExpired, {
      jobId: job._id,
      claimGeneration,
    });
    if (job.timeoutMs !== undefined) {
      await ctx.scheduler.runAt(now + job.timeoutMs, internal.timeouts.timeOutIfRunning, {
        jobId: job._id,
        claimGeneration,
      });
    }
    return { jobId: job._id, job: jobView(claimed), claimGeneration, leaseExpiresAt };
  },
});

/**
 * Jobs enqueued before jobs carried `runRef` get it at their claim (one read of the run, only for
 * them): the runner cannot work on a job of a run without it (SPEC §12).
 */
async function missingRunRef(ctx: MutationCtx, job: Doc<"jobs">): Promise<{ runRef?: string }> {
  if (job.runId === undefined || job.runRef !== undefined) return {};
  const run = await ctx.db.get(job.runId);
  return run === null ? {} : { runRef: run.runRef };
}

/** `POST /v1/jobs/heartbeat`: extends the lease (by `leaseMs`, else the claim's) and reports `cancelRequested`. */
export const extendLeaseIfHeld = workspaceInternalMutation({
  minRole: "member",
  args: { ...requestArgs(heartbeatRequest), ...onlyLane },
  handler: async (ctx, args) => {
    const { job, holder } = await loadClaim(ctx, args);
    const now = Date.now();
    if (!(await leaseStillHeld(ctx, job, holder, now))) return LEASE_LOST;
    const leaseExpiresAt = now + clampLeaseMs(args.leaseMs, job.leaseMs);
    const event = args.message === undefined ? undefined : { type: "heartbeat" as const, message: args.message };
    await updateJob(ctx, job, { leaseExpiresAt }, event);
    return { leaseExpiresAt, cancelRequested: job.cancelRequested };
  },
});

/**
 * `POST /v1/jobs/log`: appends the lines as one `log` event (with `lineTimes` when sent), after a
 * `log_gap` event when the worker says it dropped lines before them.
 */
export const appendLogIfLeaseHeld = workspaceInternalMutation({
  minRole: "member",
  args: { ...requestArgs(logRequest), ...onlyLane },
  handler: async (ctx, { lines, lineTimes, droppedLines, ...args }) => {
    const { job, holder } = await loadClaim(ctx, args);
    if (!(await leaseStillHeld(ctx, job, holder, Date.now()))) return LEASE_LOST;
    let current = job;
    if (droppedLines !== undefined) {
      const message = `${droppedLines} log line(s) dropped by the worker (its spool was full).`;
      current = await updateJob(ctx, current, {}, { type: "log_gap", message, data: { droppedLines } });
    }
    if (lines.length > 0)
      await updateJob(ctx, current, {}, { type: "log", data: lineTimes ? { lines, lineTimes } : { lines } });
    return { appended: lines.length };
  },
});

const completionArgs = { ...requestArgs(completeRequest), ...onlyLane };
type CompletionArgs = ObjectType<typeof completionArgs>;

type Completion = { job: Doc<"jobs">; idempotent: boolean };

/**
 * Finishes a claimed job with the worker's outcome (its reason names that outcome: the request
 * schema checks it). The same completion repeated (same worker, generation and outcome) answers
 * the finished job with `idempotent: true`.
 */
async function completeIfLeaseHeld(ctx: AccessCtx, args: CompletionArgs): Promise<Completion | Refusal> {
  const { workspaceId, job, holder } = await loadClaim(ctx, args);
  const repeated =
    isFinished(job.status) &&
    job.outcome === args.outcome &&
    job.claimedBy === holder.workerId &&
    (holder.claimGeneration === undefined || holder.claimGeneration === job.claimGeneration);
  if (repeated) return { job, idempotent: true };
  if (!(await leaseStillHeld(ctx, job, holder, Date.now()))) return LEASE_LOST;

  const run = args.runId === undefined ? undefined : await requireRun(ctx, workspaceId, args.runId);
  const retried = await retryIfRetryable(ctx, job, args);
  if (retried !== null) return { job: retried, idempotent: false };
  if (job.timedOut === true && args.outcome === "canceled") {
    // The worker stopped because the timeout asked it to: the attempt timed out (timeouts.ts).
    const data = {
      workerId: holder.workerId,
      claimGeneration: job.claimGeneration,
      workerOutcomeReason: args.outcomeReason,
    };
    return { job: await endTimedOut(ctx, job, data), idempotent: false };
  }
  const finished = await moveJob(ctx, job, args.outcome, {
    patch: {
      outcome: args.outcome,
      message: args.message,
      outcomeReason: args.outcomeReason,
      evidence: args.evidence,
      leaseExpiresAt: undefined,
      finishedAt: Date.now(),
      ...(run === undefined ? {} : { runId: run._id, runRef: run.runRef }),
    },
    event: {
      type: OUTCOME_EVENT[args.outcome],
      message: args.message,
      data: {
        workerId: holder.workerId,
        claimGeneration: job.claimGeneration,
        outcomeReason: args.outcomeReason,
        // A completion that beat the cancel grace is kept with its outcome, next to the request.
        ...(job.cancelRequestedAt === undefined ? {} : { cancelRequestedAt: job.cancelRequestedAt }),
      },
    },
  });
  return { job: finished, idempotent: false };
}

/**
 * A `failed` completion whose reason says `retryable: true`, of a job with a retry policy and
 * attempts left, schedules the next attempt (its `recommendedDelayMs` clamped) instead of ending it.
 */
async function retryIfRetryable(ctx: MutationCtx, job: Doc<"jobs">, args: CompletionArgs) {
  const reason = args.outcomeReason;
  if (args.outcome !== "failed" || typeof reason !== "object" || !reason.retryable) return null;
  const policy = retryPolicyFor(job);
  if (policy === null) return null;
  return await scheduleRetry(ctx, job, policy, {
    cause: "failed",
    recommendedDelayMs: reason.recommendedDelayMs,
    data: { outcomeReason: reason, ...(args.message === undefined ? {} : { workerMessage: args.message }) },
  });
}

/** `POST /v1/jobs/complete`. */
export const complete = workspaceInternalMutation({
  minRole: "member",
  args: completionArgs,
  handler: async (ctx, args) => {
    const completion = await completeIfLeaseHeld(ctx, args);
    if ("refused" in completion) return completion;
    const { job, idempotent } = completion;
    return { result: { jobId: job._id, status: job.status, idempotent } };
  },
});

/**
 * `POST /v1/jobs/complete-and-enqueue-children`: the completion and every child commit together
 * or not at all (a child that fails validation rolls the completion back). The first answer is
 * kept on the job under `idempotencyKey`; the same key again returns it with `idempotent: true`.
 */
export const completeAndEnqueueChildren = workspaceInternalMutation({
  minRole: "member",
  args: requestArgs(completeAndEnqueueChildrenRequest),
  handler: async (ctx, { idempotencyKey, children, ...args }) => {
    const { workspaceId } = ctx.access;
    const earlier = await ctx.db
      .query("jobs")
      .withIndex("by_workspace_completion_key", (q) =>
        q.eq("workspaceId", workspaceId).eq("completionKey", idempotencyKey),
      )
      .first();
    if (
      earlier !== null &&
      (earlier._id !== requireId(ctx, "jobs", args.jobId, "jobId") || earlier.outcome !== args.outcome)
    ) {
      throw apiError("IDEMPOTENCY_KEY_REUSED", "This idempotencyKey was already used for another completion.");
    }
    // A key already used on this job: completeIfLeaseHeld answers the first result (idempotent) only
    // to the same worker and generation, as a plain repeated complete; anyone else is fenced off.
    const completion = await completeIfLeaseHeld(ctx, args);
    if ("refused" in completion) return completion;
    if (completion.idempotent) return { result: resultOf(completion.job, true) };

    const spawnedJobIds: Id<"jobs">[] = [];
    // One read and one write of the claim directory for all children (it may be hundreds of KB).
    await withJobBatch(ctx, async () => {
      for (const child of children) {
        const { jobId } = await enqueueJob(ctx, { ...child, workspaceId, parentJobId: completion.job._id });
        spawnedJobIds.push(jobId);
      }
    });
    await updateJob(ctx, completion.job, { completionKey: idempotencyKey, spawnedJobIds });
    return { result: resultOf({ ...completion.job, spawnedJobIds }, false) };
  },
});

function resultOf(job: Doc<"jobs">, idempotent: boolean) {
  return { jobId: job._id, status: job.status, idempotent, spawnedJobIds: job.spawnedJobIds ?? [] };
}
