/**
 * What clients ask of the job queue (SPEC §6): enqueue (`enqueueJob`, also used by other
 * domains), get, list, cancel, retry and a job's timeline. The `jobs` table is written through
 * jobState.ts; lease state changes live in leases.ts, lost-lease recovery in recovery.ts.
 */
import type { PaginationResult } from "convex/server";
import type { Doc, Id } from "./_generated/dataModel";
import type { MutationCtx } from "./_generated/server";
import { requireId } from "./access";
import { requestArgs } from "./api/convexArgs";
import { cancelRequest, enqueueRequest, jobEventsRequest, jobRequest, listJobsRequest } from "./api/requests/jobs";
import { workspaceInternalMutation, workspaceInternalQuery } from "./functions";
import { eventsAfter } from "./jobEvents";
import { insertJob, jobView, moveJob, pageOfJobs, requireJob } from "./jobState";
import { apiError } from "./model/errors";
import { RETRYABLE_STATUSES } from "./model/jobStates";
import {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_PRIORITY,
  DEFAULT_ROLE,
  MAX_CONCURRENCY_KEY_CHARS,
  MAX_PROMPT_BYTES,
  utf8Bytes,
  type JobKind,
  type Lane,
} from "./model/jobs";
import { canonicalRequirements, requirementsKey, requirementsProblem, type RequirementsInput } from "./model/matching";
import { SYSTEM_REASON_CODES, systemReason } from "./model/outcomeReasons";
import {
  MAX_DELAY_MS,
  MAX_TIMEOUT_MS,
  MIN_TIMEOUT_MS,
  availableAtOf,
  retryPolicyOf,
  type RetryPolicy,
} from "./model/scheduling";
import { requireRepo } from "./repos";
import { requireRun } from "./runs";
import { requestCancel } from "./timeouts";
import { startCascade } from "./cascadeStart";

export type EnqueueFields = {
  workspaceId: Id<"workspaces">;
  repoId: string;
  kind: JobKind;
  prompt: string;
  runId?: string;
  role?: string;
  /** Either spelling (SPEC §12); stored in canonical form. */
  requirements?: RequirementsInput;
  priority?: number;
  maxAttempts?: number;
  idempotencyKey?: string;
  lane?: Lane;
  parentJobId?: Id<"jobs">;
  /** Delayed enqueue (SPEC §6 "Scheduling"): at most one of the two. */
  runAt?: number;
  delayMs?: number;
  retry?: Partial<RetryPolicy> & Pick<RetryPolicy, "backoff"> & { maxAttempts?: number };
  timeoutMs?: number;
  /** SPEC §6 "Concurrency": 1–200 characters; jobs of a full key wait (concurrency.ts). */
  concurrencyKey?: string;
};

function invalid(path: string, message: string) {
  return apiError("INVALID_REQUEST", `${path}: ${message}`, { issues: [{ path, message }] });
}

/**
 * Enqueues a job: the one entry point for the HTTP route, the Console and other domains
 * (decisions enqueue `apply_decision` jobs, integrations enqueue from triggers). Call it from a
 * mutation whose caller already passed the workspace access check. Repo and run ids (typed or
 * raw) must belong to the workspace (REPO_NOT_FOUND / RUN_NOT_FOUND). With an `idempotencyKey`
 * already used in the workspace it returns that job (`deduplicated: true`), or
 * IDEMPOTENCY_KEY_REUSED when the payload differs. Reads ≤ 4 documents.
 */
export async function enqueueJob(
  ctx: MutationCtx,
  fields: EnqueueFields,
): Promise<{ jobId: Id<"jobs">; deduplicated: boolean }> {
  const { workspaceId } = fields;
  const sent = fields.requirements ?? {};
  const problem = requirementsProblem(sent);
  if (problem !== null) throw invalid(problem.key ? `requirements.${problem.key}` : "requirements", problem.message);
  const requirements = canonicalRequirements(sent);
  if (utf8Bytes(fields.prompt) > MAX_PROMPT_BYTES)
    throw invalid("prompt", `must be at most ${MAX_PROMPT_BYTES} bytes.`);
  const priority = fields.priority ?? DEFAULT_PRIORITY;
  const { retry } = fields;
  if (retry?.maxAttempts !== undefined && fields.maxAttempts !== undefined && retry.maxAttempts !== fields.maxAttempts)
    throw invalid("retry.maxAttempts", "must equal maxAttempts when both are given.");
  const maxAttempts = retry?.maxAttempts ?? fields.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const now = Date.now();
  if (fields.runAt !== undefined && fields.delayMs !== undefined)
    throw invalid("runAt", "give runAt or delayMs, not both.");
  if (fields.runAt !== undefined && !(fields.runAt <= now + MAX_DELAY_MS))
    throw invalid("runAt", "must be at most 365 days ahead.");
  if (fields.delayMs !== undefined && !(fields.delayMs >= 0 && fields.delayMs <= MAX_DELAY_MS))
    throw invalid("delayMs", "must be between 0 and 365 days.");
  if (fields.timeoutMs !== undefined && !(fields.timeoutMs >= MIN_TIMEOUT_MS && fields.timeoutMs <= MAX_TIMEOUT_MS))
    throw invalid("timeoutMs", "must be between 10 seconds and 7 days.");
  if (
    fields.concurrencyKey !== undefined &&
    !(fields.concurrencyKey.length >= 1 && fields.concurrencyKey.length <= MAX_CONCURRENCY_KEY_CHARS)
  )
    throw invalid("concurrencyKey", `must be 1 to ${MAX_CONCURRENCY_KEY_CHARS} characters.`);
  const availableAt = availableAtOf(now, fields);
  if (!Number.isSafeInteger(priority)) throw invalid("priority", "must be an integer.");
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) throw invalid("maxAttempts", "must be an integer ≥ 1.");

  const repo = await requireRepo(ctx, workspaceId, fields.repoId);
  const run = fields.runId === undefined ? undefined : await requireRun(ctx, workspaceId, fields.runId);
  const job = {
    workspaceId,
    repoId: repo._id,
    runId: run?._id,
    runRef: run?.runRef,
    parentJobId: fields.parentJobId,
    kind: fields.kind,
    role: fields.role ?? DEFAULT_ROLE,
    prompt: fields.prompt,
    requirements,
    requirementsKey: requirementsKey(requirements),
    priority,
    lane: fields.lane ?? "worker",
    maxAttempts,
    idempotencyKey: fields.idempotencyKey,
    retryPolicy: retry === undefined ? undefined : retryPolicyOf(retry),
    timeoutMs: fields.timeoutMs,
    concurrencyKey: fields.concurrencyKey,
  };
  if (fields.idempotencyKey !== undefined) {
    const existing = await ctx.db
      .query("jobs")
      .withIndex("by_workspace_idempotency_key", (q) =>
        q.eq("workspaceId", workspaceId).eq("idempotencyKey", fields.idempotencyKey),
      )
      .first();
    if (existing !== null) {
      const same = (
        ["repoId", "runId", "kind", "role", "prompt", "requirementsKey", "priority", "lane", "concurrencyKey"] as const
      ).every((key) => existing[key] === job[key]);
      if (!same) {
        throw apiError("IDEMPOTENCY_KEY_REUSED", "This idempotencyKey was already used for a different job.");
      }
      return { jobId: existing._id, deduplicated: true };
    }
  }
  const delayed = availableAt > now;
  const inserted = await insertJob(
    ctx,
    { ...job, attempts: 0, claimGeneration: 0, cancelRequested: false, availableAt: delayed ? availableAt : undefined },
    delayed ? "scheduled" : "pending",
    delayed ? { type: "enqueued", data: { availableAt } } : { type: "enqueued" },
  );
  return { jobId: inserted._id, deduplicated: false };
}

/**
 * Cancels a job: a scheduled or pending one is `canceled` at once; a running one gets `cancelRequested`
 * (its worker sees it on heartbeat and completes `canceled`; else the lease runs out or the cancel
 * grace ends it, timeouts.ts). A finished
 * job answers INVALID_JOB_STATE. Canceling a running job twice is harmless.
 */
export async function cancelJob(ctx: MutationCtx, job: Doc<"jobs">, reason?: string): Promise<Doc<"jobs">> {
  const canceled = await cancelThisJob(ctx, job, reason);
  // Its spawned children (and theirs) are canceled too, in scheduled batches (cascade.ts).
  if ((job.spawnedJobIds ?? []).length > 0)
    await startCascade(ctx, job.workspaceId, { parentJobId: job._id }, reason ?? `Parent job ${job._id} canceled.`);
  return canceled;
}

async function cancelThisJob(ctx: MutationCtx, job: Doc<"jobs">, reason?: string): Promise<Doc<"jobs">> {
  if (job.status === "pending" || job.status === "scheduled" || job.status === "waiting") {
    return await moveJob(ctx, job, "canceled", {
      patch: {
        outcomeReason: systemReason(
          "canceled",
          SYSTEM_REASON_CODES.canceled,
          reason ?? "Canceled before a worker claimed it.",
        ),
        finishedAt: Date.now(),
        availableAt: undefined,
      },
      event: { type: "canceled", message: reason },
    });
  }
  if (job.status === "running") return await requestCancel(ctx, job, { reason });
  // A finished job that spawned children: the cancel reaches them; the job itself stays as it ended.
  if ((job.spawnedJobIds ?? []).length > 0) return job;
  throw apiError(
    "INVALID_JOB_STATE",
    `Only scheduled, waiting, pending or running jobs can be canceled; this one is ${job.status}.`,
  );
}

/** Puts a failed, blocked or canceled job back to `pending`, allowing one more attempt. */
export async function retryJob(ctx: MutationCtx, job: Doc<"jobs">): Promise<Doc<"jobs">> {
  if (!RETRYABLE_STATUSES.includes(job.status)) {
    throw apiError(
      "INVALID_JOB_STATE",
      `Only failed, blocked or canceled jobs can be retried; this one is ${job.status}.`,
    );
  }
  return await moveJob(ctx, job, "pending", {
    patch: {
      maxAttempts: Math.max(job.maxAttempts, job.attempts + 1),
      cancelRequested: false,
      cancelRequestedAt: undefined,
      timedOut: undefined,
      claimedBy: undefined,
      claimedAt: undefined,
      leaseExpiresAt: undefined,
      outcome: undefined,
      outcomeReason: undefined,
      finishedAt: undefined,
      // The next attempt completes afresh; its children (if any) stay, linked by parentJobId.
      completionKey: undefined,
      spawnedJobIds: undefined,
    },
    event: { type: "retried", data: { previousStatus: job.status } },
  });
}

// ---- HTTP layer ------------------------------------------------------------------------------

/** `POST /v1/jobs/enqueue`. */
export const enqueue = workspaceInternalMutation({
  minRole: "member",
  args: requestArgs(enqueueRequest),
  handler: async (ctx, fields) => await enqueueJob(ctx, { workspaceId: ctx.access.workspaceId, ...fields }),
});

/** `POST /v1/jobs/list`: newest first; every filter applied (pageOfJobs picks the index). */
export const list = workspaceInternalQuery({
  minRole: "viewer",
  args: requestArgs(listJobsRequest),
  handler: async (ctx, { status, limit, cursor, kind, createdAfter, createdBefore, ...raw }) => {
    const { workspaceId } = ctx.access;
    const repoId = raw.repoId === undefined ? undefined : requireId(ctx, "repos", raw.repoId, "repoId");
    const runId = raw.runId === undefined ? undefined : requireId(ctx, "runs", raw.runId, "runId");
    const claimedBy = raw.workerId === undefined ? undefined : requireId(ctx, "workers", raw.workerId, "workerId");
    const filters = { status, repoId, runId, kind, claimedBy, createdAfter, createdBefore };
    let page: PaginationResult<Doc<"jobs">>;
    if (cursor === undefined) {
      page = await pageOfJobs(ctx, workspaceId, filters, { numItems: limit, cursor: null });
    } else {
      try {
        page = await pageOfJobs(ctx, workspaceId, filters, { numItems: limit, cursor });
      } catch {
        throw invalid("cursor", "is not a cursor this route returned for these filters.");
      }
    }
    const jobs = page.page.map(jobView);
    return { jobs, nextCursor: page.isDone ? null : page.continueCursor };
  },
});

/** `POST /v1/jobs/get`. */
export const get = workspaceInternalQuery({
  minRole: "viewer",
  args: requestArgs(jobRequest),
  handler: async (ctx, { jobId }) => ({ job: jobView(await requireJob(ctx, ctx.access.workspaceId, jobId)) }),
});

/** `POST /v1/job-events/list-for-job`. */
export const events = workspaceInternalQuery({
  minRole: "viewer",
  args: requestArgs(jobEventsRequest),
  handler: async (ctx, { jobId, limit, afterSeq }) => {
    const job = await requireJob(ctx, ctx.access.workspaceId, jobId);
    return { events: await eventsAfter(ctx, job, afterSeq ?? 0, limit) };
  },
});

/** `POST /v1/jobs/cancel`. */
export const cancel = workspaceInternalMutation({
  minRole: "member",
  args: requestArgs(cancelRequest),
  handler: async (ctx, { jobId, reason }) => ({
    job: jobView(await cancelJob(ctx, await requireJob(ctx, ctx.access.workspaceId, jobId), reason)),
  }),
});

/** `POST /v1/jobs/retry`. */
export const retry = workspaceInternalMutation({
  minRole: "member",
  args: requestArgs(jobRequest),
  handler: async (ctx, { jobId }) => ({
    job: jobView(await retryJob(ctx, await requireJob(ctx, ctx.access.workspaceId, jobId))),
  }),
});
