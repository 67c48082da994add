/**
 * The job state machine (SPEC §6 "Statuses", convex/model/jobStates.ts): every (from, to, event)
 * triple is checked against the moves written out here by hand, so a row added, dropped or
 * widened by mistake fails; and moveJob itself refuses a forbidden move without writing anything.
 */
import { readFileSync } from "node:fs";
import { ConvexError } from "convex/values";
import { describe, expect, test } from "vitest";
import { moveJob } from "../convex/jobState";
import type { Id } from "../convex/_generated/dataModel";
import { JOB_EVENT_TYPES, JOB_STATUSES, type JobEventType, type JobStatus } from "../convex/model/jobs";
import {
  JOB_NOTE_EVENTS,
  RETRYABLE_STATUSES,
  birthProblem,
  eventRoles,
  isQueued,
  jobStateDiagram,
  moveProblem,
} from "../convex/model/jobStates";
import { useFreshConvex } from "./support/harness";
import { queueWorkspace } from "./support/queue-fixtures";

/** Every allowed move as `from > to: event`, written out by hand. */
const ALLOWED_MOVES = [
  "scheduled > pending: released",
  "scheduled > waiting: released",
  "scheduled > canceled: canceled",
  "waiting > pending: admitted",
  "waiting > canceled: canceled",
  "pending > running: claimed",
  "pending > canceled: canceled",
  "running > done: completed",
  "running > failed: failed",
  "running > failed: recovered",
  "running > blocked: blocked",
  "running > canceled: canceled",
  "running > canceled: recovered",
  "running > pending: recovered",
  "running > scheduled: retry_scheduled",
  "failed > pending: retried",
  "failed > waiting: retried",
  "blocked > pending: retried",
  "blocked > waiting: retried",
  "canceled > pending: retried",
  "canceled > waiting: retried",
];

describe("the transition table", () => {
  const triples = JOB_STATUSES.flatMap((from) =>
    JOB_STATUSES.flatMap((to) => JOB_EVENT_TYPES.map((event) => ({ from, to, event }))),
  );

  test("covers every status pair with every event type", () => {
    expect(triples).toHaveLength(8 * 8 * 16);
  });

  test("allows exactly the listed moves", () => {
    const allowed = triples
      .filter(({ from, to, event }) => moveProblem(from, to, event) === null)
      .map(({ from, to, event }) => `${from} > ${to}: ${event}`);
    expect(allowed.sort()).toEqual([...ALLOWED_MOVES].sort());
  });

  test.each(JOB_STATUSES.flatMap((from) => JOB_STATUSES.map((to) => [from, to] as const)))(
    "%s > %s: a forbidden pair or event answers INVALID_JOB_STATE naming both statuses",
    (from, to) => {
      for (const event of JOB_EVENT_TYPES) {
        if (ALLOWED_MOVES.includes(`${from} > ${to}: ${event}`)) continue;
        const problem = moveProblem(from, to, event);
        expect(problem?.code).toBe("INVALID_JOB_STATE");
        expect(problem?.message).toContain(from);
        expect(problem?.message).toContain(to);
      }
    },
  );

  test("a done job never moves again; a finished one only back to pending by a retry", () => {
    for (const to of JOB_STATUSES) {
      for (const event of JOB_EVENT_TYPES) expect(moveProblem("done", to, event)).not.toBeNull();
    }
    expect(RETRYABLE_STATUSES).toEqual(["failed", "blocked", "canceled"]);
  });

  test("a job is born pending, scheduled or waiting (a full concurrency key) with an enqueued event, and no other way", () => {
    for (const status of JOB_STATUSES) {
      for (const event of JOB_EVENT_TYPES) {
        const born = (status === "pending" || status === "scheduled" || status === "waiting") && event === "enqueued";
        expect(birthProblem(status, event) === null).toBe(born);
      }
    }
  });

  test("only pending jobs are claim-next's candidates", () => {
    expect(JOB_STATUSES.filter(isQueued)).toEqual(["pending"]);
  });

  test("every event type is exactly one of a birth, a move or a note", () => {
    for (const type of JOB_EVENT_TYPES) expect([type, eventRoles(type)]).toEqual([type, [expect.any(String)]]);
    expect([...JOB_NOTE_EVENTS].sort()).toEqual(["cancel_requested", "heartbeat", "log", "log_gap", "timed_out"]);
  });

  test("docs/job-states.md draws this very table", () => {
    const doc = readFileSync(new URL("../docs/job-states.md", import.meta.url), "utf8");
    expect(doc).toContain("```mermaid\n" + jobStateDiagram() + "\n```");
  });
});

describe("moveJob", () => {
  const t = useFreshConvex();

  async function pendingJob() {
    const acme = await queueWorkspace(t);
    return (await acme.enqueue()) as Id<"jobs">;
  }
  const stored = (jobId: Id<"jobs">) =>
    t.run(async (ctx) => ({
      job: await ctx.db.get(jobId),
      events: await ctx.db
        .query("jobEvents")
        .withIndex("by_job_seq", (q) => q.eq("jobId", jobId))
        .take(10),
    }));
  const attempt = (jobId: Id<"jobs">, to: JobStatus, event: JobEventType) =>
    t
      .run(async (ctx) => {
        await moveJob(ctx, (await ctx.db.get(jobId))!, to, { event: { type: event } });
      })
      .then(
        () => null,
        (error: unknown) => (error instanceof ConvexError ? error.data : error),
      );

  test("refuses a forbidden move with INVALID_JOB_STATE and writes nothing", async () => {
    const jobId = await pendingJob();
    const before = await stored(jobId);
    expect(await attempt(jobId, "done", "completed")).toEqual({
      code: "INVALID_JOB_STATE",
      message: "A pending job cannot become done.",
    });
    const after = await stored(jobId);
    expect(after).toEqual(before);
    expect(after.events.map((event) => event.type)).toEqual(["enqueued"]);
  });

  test("refuses an allowed pair recorded with another move's event", async () => {
    const jobId = await pendingJob();
    expect(await attempt(jobId, "canceled", "recovered")).toEqual({
      code: "INVALID_JOB_STATE",
      message: "A pending job becomes canceled with a canceled event, not recovered.",
    });
    expect((await stored(jobId)).job!.status).toBe("pending");
  });

  test("an allowed move patches the status and appends its event with the next seq", async () => {
    const jobId = await pendingJob();
    expect(await attempt(jobId, "canceled", "canceled")).toBeNull();
    const after = await stored(jobId);
    expect(after.job!.status).toBe("canceled");
    expect(after.events.map((event) => [event.seq, event.type])).toEqual([
      [1, "enqueued"],
      [2, "canceled"],
    ]);
  });
});
