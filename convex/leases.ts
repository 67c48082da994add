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
import { reportOf, type ProposedChild } from "./jobReports";
import { enqueueJob } from "./jobs";
import { heartbeatJob, jobView, moveJob, requireJob, updateJob, withJobBatch, type JobPatch } from "./jobState";
import { apiError, refusal, type Refusal } from "./model/errors";
import { MAX_WORKER_CONCURRENT_JOBS, OUTCOME_EVENT, laneValidator, type JobOutcome } from "./model/jobs";
import { mergeReport, mintJobToken, spawnsProposedChildren, type WorkerCompletion } from "./model/jobTokens";
import { checkLease, clampLeaseMs, type LeaseHolder, type NoClaimReason } from "./model/leases";
import { MAX_HEADS_READ, nextClaimableJob } from "./queue";
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
 * `POST /v1/jobs/claim-next` (and the cloud AI lane's): the worker, the lane's pause document, one
 * head per non-empty stream of its unpaused repos (at most MAX_HEADS_READ) and the claimed job's
 * patch, whatever the queue holds; it writes only the claimed job and its event (see queue.ts).
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
    // `capabilities.maxConcurrentJobs` (SPEC §6 "Concurrency"): the worker's own running jobs, at most that many read.
    const held = await heldJobCount(ctx, workspaceId, worker);
    if (held.atCapacity) return none("WORKER_AT_CAPACITY");
    const reposAllowed = worker.capabilities.reposAllowed ?? [];
    if (reposAllowed.length === 0) return none("NO_REPOS_ALLOWED");
    // Paused repos leave the allowlist before any stream is read (queuePauses.ts).
    const paused = await pausedFor(ctx, workspaceId, lane);
    if (paused.lanePaused) return none("QUEUE_PAUSED");
    const unpaused = reposAllowed.filter((repoId) => !paused.pausedRepoIds.has(repoId));
    const someRepoPaused = unpaused.length < reposAllowed.length;
    const now = Date.now();
    // The poll's second turns the window of repos when they hold more streams than one claim reads.
    const job =
      unpaused.length === 0
        ? null
        : await nextClaimableJob(
            ctx,
            workspaceId,
            lane,
            { ...worker.capabilities, reposAllowed: unpaused },
            Math.floor(now / 1000),
            MAX_HEADS_READ - held.read,
          );
    if (job === null) return none(someRepoPaused ? "QUEUE_PAUSED" : "NO_JOBS");
    const grantedMs = clampLeaseMs(leaseMs);
    const leaseExpiresAt = now + grantedMs;
    const claimGeneration = job.claimGeneration + 1;
    const attempt = job.attempts + 1;
    // The job's command gets it (IAS_JOB_TOKEN): good for this claim only (model/jobTokens.ts).
    const { token: jobToken, tokenHash: jobTokenHash } = await mintJobToken(job._id);
    const claimed = await moveJob(ctx, job, "running", {
      patch: {
        ...(await missingRunRef(ctx, job)),
        jobTokenHash,
        attempts: attempt,
        claimGeneration,
        claimedBy: worker._id,
        claimedAt: now,
        leaseMs: grantedMs,
        leaseExpiresAt,
      },
      event: { type: "claimed", data: { workerId: worker._id, claimGeneration, attempt, leaseExpiresAt } },
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
    return { jobId: job._id, job: jobView(claimed), claimGeneration, leaseExpiresAt, jobToken };
  },
});

/**
 * Whether the worker holds `capabilities.maxConcurrentJobs` running jobs: a range of its own
 * running jobs (`by_workspace_claimed_by_status`), at most that many (≤ MAX_WORKER_CONCURRENT_JOBS)
 * documents, which claim-next takes off the stream heads it reads, so it stays within its budget.
 * Without the capability nothing is read. The range is the worker's own: another worker's claims
 * and completions never touch it.
 */
async function heldJobCount(ctx: MutationCtx, workspaceId: Id<"workspaces">, worker: Doc<"workers">) {
  const max = worker.capabilities.maxConcurrentJobs;
  if (max === undefined) return { atCapacity: false, read: 0 };
  const cap = Math.max(0, Math.min(Math.floor(max), MAX_WORKER_CONCURRENT_JOBS));
  const held = await ctx.db
    .query("jobs")
    .withIndex("by_workspace_claimed_by_status", (q) =>
      q.eq("workspaceId", workspaceId).eq("claimedBy", worker._id).eq("status", "running"),
    )
    .take(cap);
  return { atCapacity: held.length >= cap, read: held.length };
}

/**
 * Jobs enqueued before jobs carried `runRef` get it at their claim (one read of the run, only for
 * them): the runner cannot work on a job of a run without it (SPEC §12).
 */
async function missingRunRef(ctx: MutationCtx, job: Doc<"jobs">): Promise<{ runRef?: string }> {
  if (job.runId === undefined || job.runRef !== undefined) return {};
  const run = await ctx.db.get("runs", job.runId);
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
    await heartbeatJob(ctx, job, { leaseExpiresAt }, args.message);
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
    return { appended: await appendLogLines(ctx, job, { lines, lineTimes, droppedLines }) };
  },
});

/** Appends lines as one `log` event, after a `log_gap` event for lines dropped before them. Also a job token's `/v1/job/log`. */
export async function appendLogLines(
  ctx: MutationCtx,
  job: Doc<"jobs">,
  { lines, lineTimes, droppedLines }: { lines: string[]; lineTimes?: number[]; droppedLines?: number },
): Promise<number> {
  let current = job;
  if (droppedLines !== undefined) {
    const message = `${droppedLines} log line(s) dropped by the worker (its spool was full).`;
    current = await updateJob(ctx, current, {}, { type: "log_gap", message, data: { droppedLines } });
  }
  if (lines.length > 0)
    await updateJob(ctx, current, {}, { type: "log", data: lineTimes ? { lines, lineTimes } : { lines } });
  return lines.length;
}

const completionArgs = { ...requestArgs(completeRequest), ...onlyLane };
type CompletionArgs = ObjectType<typeof completionArgs>;

type Completion = { job: Doc<"jobs">; idempotent: boolean };

/** Children to enqueue with a completion, and the complete-and-enqueue-children key that records them. */
type Spawn = { children: ProposedChild[]; completionKey?: string };

/**
 * Finishes a claimed job with the worker's outcome (its reason names that outcome: the request
 * schema checks it), merged with what the job's command reported during this claim (a reported
 * `blocked` wins over `done` and `failed`; model/jobTokens.ts), and enqueues the children: the
 * ones the command proposed (when the job ends `done` or `blocked`), then `spawn`'s. The same
 * completion repeated (same worker, generation and outcome) answers the job as it is now with
 * `idempotent: true`, also after it became a retry (`repeatOfLastCompletion`).
 */
async function completeIfLeaseHeld(
  ctx: AccessCtx,
  args: CompletionArgs,
  spawn: Spawn = { children: [] },
): Promise<Completion | Refusal> {
  const { workspaceId, job, holder } = await loadClaim(ctx, args);
  const report = await reportOf(ctx, job);
  const recorded = mergeReport(args, report);
  if (spawn.completionKey !== undefined)
    await requireUnusedCompletionKey(ctx, job, recorded.outcome, spawn.completionKey);
  const repeat = repeatOfLastCompletion(job, holder, recorded.outcome);
  if (repeat === "same") return { job, idempotent: true };
  if (repeat === "other_outcome") {
    const outcome = job.lastCompletion!.outcome;
    throw apiError(
      "LEASE_MISMATCH",
      `This claim was already completed with outcome ${outcome}; the job is ${job.status}.`,
    );
  }
  if (!(await leaseStillHeld(ctx, job, holder, Date.now()))) return LEASE_LOST;

  const run = args.runId === undefined ? undefined : await requireRun(ctx, workspaceId, args.runId);
  // Remembered whatever the completion leads to (an end, a retry, a timeout's end), for its repeat.
  const lastCompletion = {
    workerId: job.claimedBy!,
    claimGeneration: job.claimGeneration,
    outcome: recorded.outcome,
  };
  const retried = await retryIfRetryable(ctx, job, recorded, { lastCompletion });
  if (retried !== null) return { job: retried, idempotent: false };
  if (job.timedOut === true && recorded.outcome === "canceled") {
    // The worker stopped because the timeout asked it to: the attempt timed out (timeouts.ts).
    const data = {
      workerId: holder.workerId,
      claimGeneration: job.claimGeneration,
      workerOutcomeReason: recorded.outcomeReason,
    };
    return { job: await endTimedOut(ctx, job, data, { lastCompletion }), idempotent: false };
  }
  const finished = await moveJob(ctx, job, recorded.outcome, {
    patch: {
      lastCompletion,
      outcome: recorded.outcome,
      message: recorded.message,
      outcomeReason: recorded.outcomeReason,
      evidence: recorded.evidence,
      leaseExpiresAt: undefined,
      finishedAt: Date.now(),
      ...(run === undefined ? {} : { runId: run._id, runRef: run.runRef }),
    },
    event: {
      type: OUTCOME_EVENT[recorded.outcome],
      message: recorded.message,
      data: {
        workerId: holder.workerId,
        claimGeneration: job.claimGeneration,
        outcomeReason: recorded.outcomeReason,
        ...(recorded.outcome === args.outcome ? {} : { workerOutcome: args.outcome }),
        // A completion that beat the cancel grace is kept with its outcome, next to the request.
        ...(job.cancelRequestedAt === undefined ? {} : { cancelRequestedAt: job.cancelRequestedAt }),
      },
    },
  });
  const proposed = report !== null && spawnsProposedChildren(recorded.outcome) ? report.children : [];
  const children = [...(proposed as ProposedChild[]), ...spawn.children];
  if (children.length === 0 && spawn.completionKey === undefined) return { job: finished, idempotent: false };

  const spawnedJobIds: Id<"jobs">[] = [];
  // One batch: the reactions of the children's moves run after all of them are written.
  await withJobBatch(ctx, async () => {
    for (const child of children) {
      const { jobId } = await enqueueJob(ctx, { ...child, workspaceId, parentJobId: finished._id });
      spawnedJobIds.push(jobId);
    }
  });
  const patch = { spawnedJobIds, ...(spawn.completionKey === undefined ? {} : { completionKey: spawn.completionKey }) };
  return { job: await updateJob(ctx, finished, patch), idempotent: false };
}

/**
 * Whether this completion repeats the last one a worker made (SPEC §6 "Lease": network retries
 * are safe): same worker, same outcome, and the claim it completed is still the job's latest one
 * (a job claimed again since is the new claim's to complete; a repeat of the old generation is
 * fenced like any stale call). When the repeat names its generation it must be that claim's. Only
 * a worker's completion counts: a job the server ended (cancel grace, timeout, lost lease) answers
 * its worker's late completion LEASE_MISMATCH. A repeat with another outcome is `other_outcome`
 * (LEASE_MISMATCH: the claim is over).
 */
function repeatOfLastCompletion(
  job: Doc<"jobs">,
  holder: LeaseHolder,
  outcome: JobOutcome,
): "same" | "other_outcome" | null {
  const last = job.lastCompletion;
  const sameClaim =
    last !== undefined &&
    job.status !== "running" &&
    last.claimGeneration === job.claimGeneration &&
    last.workerId === holder.workerId &&
    (holder.claimGeneration === undefined || holder.claimGeneration === last.claimGeneration);
  if (!sameClaim) return null;
  return last.outcome === outcome ? "same" : "other_outcome";
}

/**
 * A `failed` completion whose reason says `retryable: true`, of a job with a retry policy and
 * attempts left, schedules the next attempt (its `recommendedDelayMs` clamped) instead of ending it.
 */
async function retryIfRetryable(ctx: MutationCtx, job: Doc<"jobs">, completion: WorkerCompletion, patch: JobPatch) {
  const reason = completion.outcomeReason;
  if (completion.outcome !== "failed" || typeof reason !== "object" || !reason.retryable) return null;
  const policy = retryPolicyFor(job);
  if (policy === null) return null;
  return await scheduleRetry(ctx, job, policy, {
    cause: "failed",
    recommendedDelayMs: reason.recommendedDelayMs,
    patch,
    data: { outcomeReason: reason, ...(completion.message === undefined ? {} : { workerMessage: completion.message }) },
  });
}

/** A complete-and-enqueue-children key already used for another job or outcome is IDEMPOTENCY_KEY_REUSED. */
async function requireUnusedCompletionKey(ctx: AccessCtx, job: Doc<"jobs">, outcome: string, key: string) {
  const earlier = await ctx.db
    .query("jobs")
    .withIndex("by_workspace_completion_key", (q) => q.eq("workspaceId", job.workspaceId).eq("completionKey", key))
    .first();
  if (earlier !== null && (earlier._id !== job._id || earlier.outcome !== outcome)) {
    throw apiError("IDEMPOTENCY_KEY_REUSED", "This idempotencyKey was already used for another completion.");
  }
}

/** `POST /v1/jobs/complete`; `spawnedJobIds` is there when the job's command proposed children. */
export const complete = workspaceInternalMutation({
  minRole: "member",
  args: completionArgs,
  handler: async (ctx, args) => {
    const completion = await completeIfLeaseHeld(ctx, args);
    if ("refused" in completion) return completion;
    const { job, idempotent } = completion;
    const spawned = job.spawnedJobIds ?? [];
    return { result: { ...resultOf(job, idempotent), ...(spawned.length === 0 ? {} : { spawnedJobIds: spawned }) } };
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
    // A key already used on this job: completeIfLeaseHeld answers the first result (idempotent) only
    // to the same worker and generation, as a plain repeated complete; anyone else is fenced off.
    const completion = await completeIfLeaseHeld(ctx, args, { children, completionKey: idempotencyKey });
    if ("refused" in completion) return completion;
    const { job, idempotent } = completion;
    return { result: { ...resultOf(job, idempotent), spawnedJobIds: job.spawnedJobIds ?? [] } };
  },
});

function resultOf(job: Doc<"jobs">, idempotent: boolean) {
  return { jobId: job._id, status: job.status, idempotent };
}
