/**
 * The job timeline (SPEC §6 "Events"). Owns `jobEvents` and the `seq` numbering: a job is born
 * through `insertJob` (event 1) and every later change goes through `recordJobChange`, which
 * takes the next `seq` from the job itself: O(1), no scan.
 */
import type { WithoutSystemFields } from "convex/server";
import { v } from "convex/values";
import type { Doc } from "./_generated/dataModel";
import { internalQuery, type MutationCtx, type QueryCtx } from "./_generated/server";
import { callerValidator, requireWorkspaceAccess } from "./access";
import { requireJob } from "./jobs";
import { oversizedDocumentProblem } from "./model/convexValues";
import { apiError } from "./model/errors";
import { utf8Bytes, type JobEventType } from "./model/jobs";
import { MAX_PAGE_BYTES } from "./model/pages";

export type JobEventFields = { type: JobEventType; message?: string; data?: unknown; count?: number; lastAt?: number };
export type JobPatch = Partial<WithoutSystemFields<Doc<"jobs">>>;

/**
 * The one way a job changes: patches it and, when `event` is given, appends that event with the
 * job's next `seq` in the same write. Pass the job as read in this transaction; the returned
 * document is the job after the change.
 */
export async function recordJobChange(
  ctx: MutationCtx,
  job: Doc<"jobs">,
  patch: JobPatch,
  event?: JobEventFields,
): Promise<Doc<"jobs">> {
  const now = Date.now();
  const change: JobPatch = { ...patch, updatedAt: now };
  requireStorable({ ...job, ...change }, Object.keys(patch));
  if (event !== undefined) {
    const seq = job.nextEventSeq;
    await ctx.db.insert("jobEvents", { workspaceId: job.workspaceId, jobId: job._id, seq, at: now, ...event });
    change.nextEventSeq = seq + 1;
  }
  await ctx.db.patch(job._id, change);
  return { ...job, ...change };
}

/**
 * A heartbeat: patches the job and, when the worker sent a message, records it. The same message
 * as the job's last event (a heartbeat) bumps that event's `count` and `lastAt` instead of
 * appending one (SPEC §6), so a long job's timeline does not grow by one event per heartbeat.
 * One more read: the last event, found by the job's `nextEventSeq`.
 */
export async function recordHeartbeat(
  ctx: MutationCtx,
  job: Doc<"jobs">,
  patch: JobPatch,
  message: string | undefined,
): Promise<Doc<"jobs">> {
  if (message === undefined) return await recordJobChange(ctx, job, patch);
  const last = await ctx.db
    .query("jobEvents")
    .withIndex("by_job_seq", (q) => q.eq("jobId", job._id).eq("seq", job.nextEventSeq - 1))
    .unique();
  const now = Date.now();
  if (last?.type === "heartbeat" && last.message === message) {
    await ctx.db.patch(last._id, { count: (last.count ?? 1) + 1, lastAt: now });
    return await recordJobChange(ctx, job, patch);
  }
  return await recordJobChange(ctx, job, patch, { type: "heartbeat", message, count: 1, lastAt: now });
}

/**
 * Events of a job after `afterSeq` (exclusive), oldest first: at most `limit`, and fewer once they
 * pass MAX_PAGE_BYTES (500 log events of 64 KiB would not fit a response); the caller goes on
 * from the last `seq` it got.
 */
export async function eventsAfter(ctx: QueryCtx, job: Doc<"jobs">, afterSeq: number, limit: number) {
  const events: ReturnType<typeof eventView>[] = [];
  let bytes = 0;
  const range = ctx.db.query("jobEvents").withIndex("by_job_seq", (q) => q.eq("jobId", job._id).gt("seq", afterSeq));
  for await (const event of range) {
    events.push(eventView(event));
    bytes += utf8Bytes(JSON.stringify(event));
    if (events.length >= limit || bytes >= MAX_PAGE_BYTES) break;
  }
  return events;
}

/** Inserts a new job with its first event (`seq` 1) and returns it as stored. */
export async function insertJob(
  ctx: MutationCtx,
  fields: Omit<WithoutSystemFields<Doc<"jobs">>, "nextEventSeq" | "updatedAt">,
  event: JobEventFields,
): Promise<Doc<"jobs">> {
  const now = Date.now();
  requireStorable(fields, Object.keys(fields));
  const jobId = await ctx.db.insert("jobs", { ...fields, nextEventSeq: 2, updatedAt: now });
  await ctx.db.insert("jobEvents", { workspaceId: fields.workspaceId, jobId, seq: 1, at: now, ...event });
  return (await ctx.db.get(jobId))!;
}

/**
 * Jobs collect client data from several calls (prompt, message, evidence...), so each write is
 * measured whole against Convex's 1 MiB per document; too large is a 400 naming the field.
 */
function requireStorable(job: object, written: string[]) {
  const problem = oversizedDocumentProblem(job, written);
  if (problem !== null) {
    throw apiError("INVALID_REQUEST", `${problem.path}: ${problem.message}`, {
      issues: [{ path: problem.path, message: problem.message }],
    });
  }
}

export function eventView(event: Doc<"jobEvents">) {
  const { seq, type, at, message, data, count, lastAt } = event;
  return { seq, type, at, message, data, ...(count === undefined ? {} : { count, lastAt }) };
}

// ---- HTTP layer ------------------------------------------------------------------------------

/** `POST /v1/job-events/list-for-job`. */
export const listForJob = internalQuery({
  args: {
    caller: callerValidator,
    workspaceId: v.string(),
    jobId: v.string(),
    limit: v.number(),
    afterSeq: v.optional(v.number()),
  },
  handler: async (ctx, { caller, workspaceId: rawWorkspaceId, jobId, limit, afterSeq }) => {
    const { workspaceId } = await requireWorkspaceAccess(ctx, caller, rawWorkspaceId, "viewer");
    const job = await requireJob(ctx, workspaceId, jobId);
    return { events: await eventsAfter(ctx, job, afterSeq ?? 0, limit) };
  },
});
