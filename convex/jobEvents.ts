/**
 * The job timeline (SPEC §6 "Events"). Owns `jobEvents`. Events are appended only by jobState.ts
 * (with the job's write that they record); the `seq` comes from the job itself, so appending is
 * O(1), no scan.
 */
import type { Doc } from "./_generated/dataModel";
import type { MutationCtx, QueryCtx } from "./_generated/server";
import { utf8Bytes, type JobEventType } from "./model/jobs";
import { MAX_PAGE_BYTES } from "./model/pages";

export type JobEventFields = { type: JobEventType; message?: string; data?: unknown; count?: number; lastAt?: number };

/** Appends an event with `seq` to a job's timeline (the caller advances the job's `nextEventSeq`). */
export async function appendJobEvent(
  ctx: MutationCtx,
  job: Pick<Doc<"jobs">, "_id" | "workspaceId">,
  seq: number,
  at: number,
  event: JobEventFields,
): Promise<void> {
  await ctx.db.insert("jobEvents", { workspaceId: job.workspaceId, jobId: job._id, seq, at, ...event });
}

/**
 * A heartbeat's message that repeats the job's last event (a heartbeat with the same message)
 * bumps that event's `count` and `lastAt` instead of appending one (SPEC §6), so a long job's
 * timeline does not grow by one event per heartbeat. One read: the last event, by `seq`.
 * Returns false when the message is new and must be appended.
 */
export async function coalesceHeartbeat(ctx: MutationCtx, job: Doc<"jobs">, message: string, at: number) {
  const last = await ctx.db
    .query("jobEvents")
    .withIndex("by_job_seq", (q) => q.eq("jobId", job._id).eq("seq", job.nextEventSeq - 1))
    .unique();
  if (last?.type !== "heartbeat" || last.message !== message) return false;
  await ctx.db.patch("jobEvents", last._id, { count: (last.count ?? 1) + 1, lastAt: at });
  return true;
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

export function eventView(event: Doc<"jobEvents">) {
  const { seq, type, at, message, data, count, lastAt } = event;
  return { seq, type, at, message, data, ...(count === undefined ? {} : { count, lastAt }) };
}
