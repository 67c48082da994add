/**
 * Console functions for the job queue (signed-in members; SPEC §9): paginated list by status,
 * one job with its timeline, enqueue, cancel, retry. The logic is shared with the HTTP routes.
 */
import { paginationOptsValidator } from "convex/server";
import { v } from "convex/values";
import { workspaceMutation, workspaceQuery } from "./functions";
import { eventsAfter } from "./jobEvents";
import { cancelJob, enqueueArgs, enqueueJob, jobView, pageOfJobs, requireJob, retryJob } from "./jobs";
import { apiError } from "./model/errors";
import { SYSTEM_KEY_PREFIX, isSystemIdempotencyKey, jobStatusFilterValidator, statusOfFilter } from "./model/jobs";

/** Jobs of the workspace, newest first, optionally of one status. */
export const list = workspaceQuery({
  args: { status: v.optional(jobStatusFilterValidator), paginationOpts: paginationOptsValidator },
  handler: async (ctx, { status, paginationOpts }) => {
    const filters = { status: status === undefined ? undefined : statusOfFilter(status) };
    const page = await pageOfJobs(ctx, ctx.workspace.workspaceId, filters, paginationOpts);
    return { ...page, page: page.page.map(jobView) };
  },
});

/** One job with the first `limit` events of its timeline (default 200, at most 500), or null. */
export const get = workspaceQuery({
  args: { jobId: v.id("jobs"), limit: v.optional(v.number()) },
  handler: async (ctx, { jobId, limit }) => {
    const job = await ctx.db.get(jobId);
    if (job === null || job.workspaceId !== ctx.workspace.workspaceId) return null;
    return { job: jobView(job), events: await eventsAfter(ctx, job, 0, Math.min(Math.max(limit ?? 200, 1), 500)) };
  },
});

export const enqueue = workspaceMutation({
  args: enqueueArgs,
  handler: async (ctx, { workspaceId: _checked, ...fields }) => {
    if (fields.idempotencyKey !== undefined && isSystemIdempotencyKey(fields.idempotencyKey)) {
      throw apiError(
        "INVALID_REQUEST",
        `idempotencyKey: must not start with "${SYSTEM_KEY_PREFIX}" (reserved for jobs the system enqueues).`,
      );
    }
    return await enqueueJob(ctx, { ...fields, workspaceId: ctx.workspace.workspaceId });
  },
});

export const cancel = workspaceMutation({
  args: { jobId: v.id("jobs"), reason: v.optional(v.string()) },
  handler: async (ctx, { jobId, reason }) =>
    jobView(await cancelJob(ctx, await requireJob(ctx, ctx.workspace.workspaceId, jobId), reason)),
});

export const retry = workspaceMutation({
  args: { jobId: v.id("jobs") },
  handler: async (ctx, { jobId }) =>
    jobView(await retryJob(ctx, await requireJob(ctx, ctx.workspace.workspaceId, jobId))),
});
