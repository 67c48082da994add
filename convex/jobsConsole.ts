/**
 * Console functions for the job queue (signed-in members; SPEC §9): paginated list with
 * filters, counts by status, the last hour's activity, one job with its timeline, enqueue,
 * cancel, retry. The logic is shared with the HTTP routes.
 */
import { paginationOptsValidator } from "convex/server";
import { v } from "convex/values";
import { recordConsoleChange } from "./audit";
import { workspaceMutation, workspaceQuery } from "./functions";
import { eventView, eventsAfter } from "./jobEvents";
import { requestArgs } from "./api/convexArgs";
import { enqueueRequest } from "./api/requests/jobs";
import { cancelJob, enqueueJob, retryJob } from "./jobs";
import { jobView, pageOfJobs, requireJob } from "./jobState";
import { requireRepo } from "./repos";
import { apiError } from "./model/errors";
import {
  ACTIVITY_BUCKET_MS,
  ACTIVITY_MAX_BYTES,
  ACTIVITY_MAX_JOBS,
  STATUS_COUNT_BYTES,
  STATUS_COUNT_CAP,
  bucketJobsByStatus,
  takeWithinBudget,
} from "./model/jobActivity";
import {
  JOB_STATUSES,
  SYSTEM_KEY_PREFIX,
  isSystemIdempotencyKey,
  jobKindValidator,
  jobStatusFilterValidator,
  statusOfFilter,
  utf8Bytes,
} from "./model/jobs";
import { boundedPage } from "./model/pages";

const documentBytes = (document: unknown) => utf8Bytes(JSON.stringify(document));

/**
 * Jobs of the workspace, newest first, optionally of one status, repo and kind (pageOfJobs: the
 * repo's index when both repo and kind are given, the kind applied to each page, so a page may
 * hold fewer jobs than asked, even none, while `isDone` is false; the Console loads on).
 */
export const list = workspaceQuery({
  args: {
    status: v.optional(jobStatusFilterValidator),
    repoId: v.optional(v.id("repos")),
    kind: v.optional(jobKindValidator),
    paginationOpts: paginationOptsValidator,
  },
  handler: async (ctx, { status, repoId, kind, paginationOpts }) => {
    const { workspaceId } = ctx.workspace;
    if (repoId !== undefined) await requireRepo(ctx, workspaceId, repoId);
    const filters = { status: status === undefined ? undefined : statusOfFilter(status), repoId, kind };
    const page = await pageOfJobs(ctx, workspaceId, filters, paginationOpts);
    return { ...page, page: page.page.map(jobView) };
  },
});

/**
 * How many jobs of the workspace are in each status. A count stops at 1,000 (or 2 MiB of jobs
 * read) with `complete: false`, meaning "at least": finished jobs accumulate without bound.
 */
export const counts = workspaceQuery({
  args: {},
  handler: async (ctx) => {
    const { workspaceId } = ctx.workspace;
    return await Promise.all(
      JOB_STATUSES.map(async (status) => {
        const range = ctx.db
          .query("jobs")
          .withIndex("by_workspace_status", (q) => q.eq("workspaceId", workspaceId).eq("status", status));
        const { items, complete } = await takeWithinBudget(
          range,
          { maxItems: STATUS_COUNT_CAP, maxBytes: STATUS_COUNT_BYTES },
          documentBytes,
        );
        return { status, count: items.length, complete };
      }),
    );
  },
});

/**
 * The chart: jobs created in the hour from `since` (the Console passes "an hour ago", rounded
 * to the minute, so the subscription stays cached), in 5-minute buckets by their status now.
 * At most 2,000 jobs (4 MiB) are read, newest first; `complete: false` says older ones were left out.
 */
export const activity = workspaceQuery({
  args: { since: v.number() },
  handler: async (ctx, { since }) => {
    const range = ctx.db
      .query("jobs")
      .withIndex("by_workspace", (q) => q.eq("workspaceId", ctx.workspace.workspaceId).gte("_creationTime", since))
      .order("desc");
    const { items, complete } = await takeWithinBudget(
      range,
      { maxItems: ACTIVITY_MAX_JOBS, maxBytes: ACTIVITY_MAX_BYTES },
      documentBytes,
    );
    const jobs = items.map((job) => ({ createdAt: job._creationTime, status: job.status }));
    return { since, bucketMs: ACTIVITY_BUCKET_MS, buckets: bucketJobsByStatus(jobs, since), complete };
  },
});

/** A job's timeline page by page, oldest first; the last page grows as events arrive. */
export const events = workspaceQuery({
  args: { jobId: v.id("jobs"), paginationOpts: paginationOptsValidator },
  handler: async (ctx, { jobId, paginationOpts }) => {
    const job = await requireJob(ctx, ctx.workspace.workspaceId, jobId);
    const page = await ctx.db
      .query("jobEvents")
      .withIndex("by_job_seq", (q) => q.eq("jobId", job._id))
      .paginate(boundedPage(paginationOpts));
    return { ...page, page: page.page.map(eventView) };
  },
});

/** One job with the first `limit` events of its timeline (default 200, at most 500), or null. */
export const get = workspaceQuery({
  args: { jobId: v.id("jobs"), limit: v.optional(v.number()) },
  handler: async (ctx, { jobId, limit }) => {
    const job = await ctx.db.get("jobs", jobId);
    if (job === null || job.workspaceId !== ctx.workspace.workspaceId) return null;
    return { job: jobView(job), events: await eventsAfter(ctx, job, 0, Math.min(Math.max(limit ?? 200, 1), 500)) };
  },
});

/** Takes the fields of `POST /v1/jobs/enqueue` (validated here by Convex only; enqueueJob checks the rest). */
export const enqueue = workspaceMutation({
  args: requestArgs(enqueueRequest),
  handler: async (ctx, { workspaceId: _checked, ...fields }) => {
    if (fields.idempotencyKey !== undefined && isSystemIdempotencyKey(fields.idempotencyKey)) {
      throw apiError(
        "INVALID_REQUEST",
        `idempotencyKey: must not start with "${SYSTEM_KEY_PREFIX}" (reserved for jobs the system enqueues).`,
      );
    }
    const enqueued = await enqueueJob(ctx, { ...fields, workspaceId: ctx.workspace.workspaceId });
    if (!enqueued.deduplicated)
      await recordConsoleChange(ctx, "job.enqueued", { jobId: enqueued.jobId, kind: fields.kind });
    return enqueued;
  },
});

export const cancel = workspaceMutation({
  args: { jobId: v.id("jobs"), reason: v.optional(v.string()) },
  handler: async (ctx, { jobId, reason }) => {
    const job = await requireJob(ctx, ctx.workspace.workspaceId, jobId);
    const canceled = await cancelJob(ctx, job, reason);
    // A second cancel of a running job changes nothing and is not recorded again.
    if (canceled !== job) {
      await recordConsoleChange(ctx, "job.canceled", { jobId, status: canceled.status, ...(reason ? { reason } : {}) });
    }
    return jobView(canceled);
  },
});

export const retry = workspaceMutation({
  args: { jobId: v.id("jobs") },
  handler: async (ctx, { jobId }) => {
    const job = await requireJob(ctx, ctx.workspace.workspaceId, jobId);
    const retried = await retryJob(ctx, job);
    await recordConsoleChange(ctx, "job.retried", { jobId, previousStatus: job.status });
    return jobView(retried);
  },
});
