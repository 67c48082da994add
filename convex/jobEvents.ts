/**
 * The job timeline (SPEC §6 "Events"). Owns `jobEvents`. Events are appended only by jobState.ts
 * (with the job's write that they record); the `seq` comes from the job itself, so appending is
 * O(1), no scan.
 */
import type { Doc } from "./_generated/dataModel";
import type { MutationCtx, QueryCtx } from "./_generated/server";
import { utf8Bytes, type JobEventType } from "./model/jobs";
import { MAX_PAGE_BYTES } from "./model/pages";

export type JobEventFields = { type: JobEventType; message?: string; data?: unknown };

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
  return { seq: event.seq, type: event.type, at: event.at, message: event.message, data: event.data };
}
