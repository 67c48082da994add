/**
 * Lease state changes (SPEC §6 "Lease"), each named by its precondition: a worker claims the
 * next matching job, then extends, logs to and completes it only while it holds the lease
 * (same worker, same `claimGeneration`, lease not expired). A call that arrives after the lease
 * expired recovers the job in its own transaction and answers LEASE_MISMATCH: such results are
 * returned as `{ committedError }` (a thrown error would roll the recovery back) and the route
 * turns them into the error response.
 */
import { v, type ObjectType } from "convex/values";
import type { Doc, Id } from "./_generated/dataModel";
import { internal } from "./_generated/api";
import { internalMutation, type MutationCtx } from "./_generated/server";
import { callerValidator, requireId, requireWorkspaceAccess } from "./access";
import { onJobFinished } from "./jobHooks";
import { recordHeartbeat, recordJobChange } from "./jobEvents";
import { enqueueJob, jobView, requireJob, type EnqueueFields } from "./jobs";
import { apiError } from "./model/errors";
import { OUTCOME_EVENT, isFinished, jobOutcomeValidator, laneValidator } from "./model/jobs";
import { checkLease, clampLeaseMs, type LeaseHolder, type NoClaimReason } from "./model/leases";
import { outcomeReasonValidator, reasonMismatch } from "./model/outcomeReasons";
import { jobLeftPending, nextClaimableJob, withDirectoryBatch } from "./queue";
import { recoverExpiredLease } from "./recovery";
import { requireRun } from "./runs";
import { requireWorker } from "./workers";

export type CommittedError = { committedError: { code: "LEASE_MISMATCH"; message: string } };

const LEASE_LOST: CommittedError = {
  committedError: { code: "LEASE_MISMATCH", message: "The lease expired before this call; the job was recovered." },
};

const holderArgs = {
  caller: callerValidator,
  workspaceId: v.string(),
  jobId: v.string(),
  workerId: v.string(),
  claimGeneration: v.optional(v.number()),
  /** Set by the cloud AI routes: a job of the other lane answers JOB_NOT_FOUND. */
  lane: v.optional(laneValidator),
};

type HolderArgs = ObjectType<typeof holderArgs>;

/** The job and the caller's claim on it, after the access check (member: worker calls). */
async function loadClaim(ctx: MutationCtx, args: HolderArgs) {
  const { workspaceId } = await requireWorkspaceAccess(ctx, args.caller, args.workspaceId, "member");
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
 * `POST /v1/jobs/claim-next` (and the cloud AI lane's): 7 document reads (patched documents
 * count), 3 when nothing is claimable, whatever the queue holds (see queue.ts).
 */
export const claimNext = internalMutation({
  args: {
    caller: callerValidator,
    workspaceId: v.string(),
    workerId: v.string(),
    leaseMs: v.optional(v.number()),
    lane: laneValidator,
  },
  handler: async (ctx, { caller, workspaceId: rawWorkspaceId, workerId, leaseMs, lane }) => {
    const { workspaceId } = await requireWorkspaceAccess(ctx, caller, rawWorkspaceId, "member");
    const worker = await requireWorker(ctx, workspaceId, workerId);
    const none = (reason: NoClaimReason) => ({ jobId: null, job: null, reason });
    if (worker.status !== "online") return none("WORKER_NOT_ONLINE");
    if ((worker.capabilities.reposAllowed ?? []).length === 0) return none("NO_REPOS_ALLOWED");
    const claimable = await nextClaimableJob(ctx, workspaceId, lane, worker.capabilities);
    if (claimable === null) return none("NO_JOBS");
    const { directory, job } = claimable;
    const now = Date.now();
    const grantedMs = clampLeaseMs(leaseMs);
    const leaseExpiresAt = now + grantedMs;
    const claimGeneration = job.claimGeneration + 1;
    const attempt = job.attempts + 1;
    const claimed = await recordJobChange(
      ctx,
      job,
      {
        ...(await missingRunRef(ctx, job)),
        status: "running",
        attempts: attempt,
        claimGeneration,
        claimedBy: worker._id,
        claimedAt: now,
        leaseMs: grantedMs,
        leaseExpiresAt,
      },
      { type: "claimed", data: { workerId: worker._id, claimGeneration, attempt, leaseExpiresAt } },
    );
    await jobLeftPending(ctx, claimed, directory);
    await ctx.scheduler.runAt(leaseExpiresAt, internal.recovery.recoverIfLeaseExpired, {
      jobId: job._id,
      claimGeneration,
    });
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
export const extendLeaseIfHeld = internalMutation({
  args: { ...holderArgs, leaseMs: v.optional(v.number()), message: v.optional(v.string()) },
  handler: async (ctx, args) => {
    const { job, holder } = await loadClaim(ctx, args);
    const now = Date.now();
    if (!(await leaseStillHeld(ctx, job, holder, now))) return LEASE_LOST;
    const leaseExpiresAt = now + clampLeaseMs(args.leaseMs, job.leaseMs);
    await recordHeartbeat(ctx, job, { leaseExpiresAt }, args.message);
    return { leaseExpiresAt, cancelRequested: job.cancelRequested };
  },
});

/**
 * `POST /v1/jobs/log`: appends the lines as one `log` event (with `lineTimes` when sent), after a
 * `log_gap` event when the worker says it dropped lines before them.
 */
export const appendLogIfLeaseHeld = internalMutation({
  args: {
    ...holderArgs,
    lines: v.array(v.string()),
    lineTimes: v.optional(v.array(v.number())),
    droppedLines: v.optional(v.number()),
  },
  handler: async (ctx, { lines, lineTimes, droppedLines, ...args }) => {
    const { job, holder } = await loadClaim(ctx, args);
    if (!(await leaseStillHeld(ctx, job, holder, Date.now()))) return LEASE_LOST;
    let current = job;
    if (droppedLines !== undefined) {
      const message = `${droppedLines} log line(s) dropped by the worker (its spool was full).`;
      current = await recordJobChange(ctx, current, {}, { type: "log_gap", message, data: { droppedLines } });
    }
    if (lines.length > 0)
      await recordJobChange(ctx, current, {}, { type: "log", data: lineTimes ? { lines, lineTimes } : { lines } });
    return { appended: lines.length };
  },
});

const completionArgs = {
  ...holderArgs,
  outcome: jobOutcomeValidator,
  runId: v.optional(v.string()),
  message: v.optional(v.string()),
  outcomeReason: v.optional(outcomeReasonValidator),
  evidence: v.optional(v.any()),
};
type CompletionArgs = ObjectType<typeof completionArgs>;

type Completion = { job: Doc<"jobs">; idempotent: boolean };

/** A v1 `outcomeReason` must name the outcome it explains (SPEC §12); checked before anything is read or written. */
function requireReasonOfOutcome(args: Pick<CompletionArgs, "outcome" | "outcomeReason">) {
  const mismatch = reasonMismatch(args.outcome, args.outcomeReason);
  if (mismatch === null) return;
  const path = "outcomeReason.category";
  throw apiError("INVALID_REQUEST", `${path}: ${mismatch}`, { issues: [{ path, message: mismatch }] });
}

/**
 * Finishes a claimed job with the worker's outcome. The same completion repeated (same worker,
 * generation and outcome) answers the finished job with `idempotent: true`.
 */
async function completeIfLeaseHeld(ctx: MutationCtx, args: CompletionArgs): Promise<Completion | CommittedError> {
  requireReasonOfOutcome(args);
  const { workspaceId, job, holder } = await loadClaim(ctx, args);
  const repeated =
    isFinished(job.status) &&
    job.outcome === args.outcome &&
    job.claimedBy === holder.workerId &&
    (holder.claimGeneration === undefined || holder.claimGeneration === job.claimGeneration);
  if (repeated) return { job, idempotent: true };
  if (!(await leaseStillHeld(ctx, job, holder, Date.now()))) return LEASE_LOST;

  const run = args.runId === undefined ? undefined : await requireRun(ctx, workspaceId, args.runId);
  const finished = await recordJobChange(
    ctx,
    job,
    {
      status: args.outcome,
      outcome: args.outcome,
      message: args.message,
      outcomeReason: args.outcomeReason,
      evidence: args.evidence,
      leaseExpiresAt: undefined,
      finishedAt: Date.now(),
      ...(run === undefined ? {} : { runId: run._id, runRef: run.runRef }),
    },
    {
      type: OUTCOME_EVENT[args.outcome],
      message: args.message,
      data: { workerId: holder.workerId, claimGeneration: job.claimGeneration, outcomeReason: args.outcomeReason },
    },
  );
  await onJobFinished(ctx, finished);
  return { job: finished, idempotent: false };
}

/** `POST /v1/jobs/complete`. */
export const complete = internalMutation({
  args: completionArgs,
  handler: async (ctx, args) => {
    const completion = await completeIfLeaseHeld(ctx, args);
    if ("committedError" in completion) return completion;
    const { job, idempotent } = completion;
    return { result: { jobId: job._id, status: job.status, idempotent } };
  },
});

/**
 * `POST /v1/jobs/complete-and-enqueue-children`: the completion and every child commit together
 * or not at all (a child that fails validation rolls the completion back). The first answer is
 * kept on the job under `idempotencyKey`; the same key again returns it with `idempotent: true`.
 */
export const completeAndEnqueueChildren = internalMutation({
  args: {
    ...completionArgs,
    idempotencyKey: v.string(),
    children: v.array(v.any()),
  },
  handler: async (ctx, { idempotencyKey, children, ...args }) => {
    requireReasonOfOutcome(args);
    const { workspaceId } = await requireWorkspaceAccess(ctx, args.caller, args.workspaceId, "member");
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
    if ("committedError" in completion) return completion;
    if (completion.idempotent) return { result: resultOf(completion.job, true) };

    const spawnedJobIds: Id<"jobs">[] = [];
    // One read and one write of the claim directory for all children (it may be hundreds of KB).
    await withDirectoryBatch(ctx, async () => {
      for (const child of children as Omit<EnqueueFields, "workspaceId" | "parentJobId">[]) {
        const { jobId } = await enqueueJob(ctx, { ...child, workspaceId, parentJobId: completion.job._id });
        spawnedJobIds.push(jobId);
      }
    });
    await ctx.db.patch(completion.job._id, { completionKey: idempotencyKey, spawnedJobIds });
    return { result: resultOf({ ...completion.job, spawnedJobIds }, false) };
  },
});

function resultOf(job: Doc<"jobs">, idempotent: boolean) {
  return { jobId: job._id, status: job.status, idempotent, spawnedJobIds: job.spawnedJobIds ?? [] };
}
