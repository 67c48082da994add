/**
 * The job state machine (SPEC §6 "Statuses"): which status a job may be born in, which moves it
 * may make and which event each move appends. `moveJob` (jobState.ts) refuses anything else with
 * INVALID_JOB_STATE; docs/job-states.md draws this table (a test keeps the drawing current).
 *
 * To add a status, add it to JOB_STATUSES (model/jobs.ts) and give it a row here; `queued` says
 * whether jobs in it are the ones claim-next picks among (the `by_queue` range queue.ts walks).
 */
import type { ApiErrorData } from "./errors";
import { JOB_STATUSES, type JobEventType, type JobStatus } from "./jobs";

type StateRow = {
  /** Jobs in this status are claim-next's candidates (queue.ts walks their `by_queue` range). */
  queued: boolean;
  /** The moves out of this status, each with the events that may record it. */
  moves: Partial<Record<JobStatus, readonly JobEventType[]>>;
};

export const JOB_STATES = {
  scheduled: { queued: false, moves: { pending: ["released"], waiting: ["released"], canceled: ["canceled"] } },
  waiting: { queued: false, moves: { pending: ["admitted"], canceled: ["canceled"] } },
  pending: { queued: true, moves: { running: ["claimed"], canceled: ["canceled"] } },
  running: {
    queued: false,
    moves: {
      done: ["completed"],
      failed: ["failed", "recovered"],
      blocked: ["blocked"],
      canceled: ["canceled", "recovered"],
      pending: ["recovered"],
      scheduled: ["retry_scheduled"],
    },
  },
  done: { queued: false, moves: {} },
  failed: { queued: false, moves: { pending: ["retried"], waiting: ["retried"] } },
  blocked: { queued: false, moves: { pending: ["retried"], waiting: ["retried"] } },
  canceled: { queued: false, moves: { pending: ["retried"], waiting: ["retried"] } },
} as const satisfies Record<JobStatus, StateRow>;

/** The statuses a job may be inserted in, with the event that records its birth. */
export const JOB_BIRTHS: Partial<Record<JobStatus, readonly JobEventType[]>> = {
  scheduled: ["enqueued"],
  pending: ["enqueued"],
  waiting: ["enqueued"],
};

/** Events that record something other than a status change (`updateJob`). */
export const JOB_NOTE_EVENTS = [
  "heartbeat",
  "log",
  "log_gap",
  "cancel_requested",
  "timed_out",
] as const satisfies JobEventType[];

function movesOf(from: JobStatus): Partial<Record<JobStatus, readonly JobEventType[]>> {
  return JOB_STATES[from].moves;
}

export function isQueued(status: JobStatus): boolean {
  return JOB_STATES[status].queued;
}

/** Why a job in `from` may not become `to` with `event` (INVALID_JOB_STATE), or null when it may. */
export function moveProblem(from: JobStatus, to: JobStatus, event: JobEventType): ApiErrorData | null {
  const events = movesOf(from)[to];
  if (events === undefined) {
    return { code: "INVALID_JOB_STATE", message: `A ${from} job cannot become ${to}.` };
  }
  if (!events.includes(event)) {
    return {
      code: "INVALID_JOB_STATE",
      message: `A ${from} job becomes ${to} with a ${events.join(" or ")} event, not ${event}.`,
    };
  }
  return null;
}

/** Why a job may not be born in `status` with `event`, or null when it may. */
export function birthProblem(status: JobStatus, event: JobEventType): ApiErrorData | null {
  const events = JOB_BIRTHS[status];
  if (events !== undefined && events.includes(event)) return null;
  return { code: "INVALID_JOB_STATE", message: `A job cannot be created ${status} with a ${event} event.` };
}

/** Statuses `jobs/retry` accepts: those with a `retried` move back to `pending`. */
export const RETRYABLE_STATUSES: readonly JobStatus[] = JOB_STATUSES.filter(
  (status) => moveProblem(status, "pending", "retried") === null,
);

/** Every event type is exactly one of: a birth, a move, a note (checked by the unit test). */
export function eventRoles(type: JobEventType): Array<"birth" | "move" | "note"> {
  const roles: Array<"birth" | "move" | "note"> = [];
  if (Object.values(JOB_BIRTHS).some((events) => events.includes(type))) roles.push("birth");
  if (JOB_STATUSES.some((from) => Object.values(movesOf(from)).some((events) => events.includes(type))))
    roles.push("move");
  if ((JOB_NOTE_EVENTS as readonly string[]).includes(type)) roles.push("note");
  return roles;
}

/** The table as a mermaid state diagram (docs/job-states.md holds exactly this). */
export function jobStateDiagram(): string {
  const lines = ["stateDiagram-v2"];
  for (const [status, events] of Object.entries(JOB_BIRTHS)) lines.push(`  [*] --> ${status}: ${events.join(", ")}`);
  for (const from of JOB_STATUSES) {
    for (const [to, events] of Object.entries(movesOf(from))) lines.push(`  ${from} --> ${to}: ${events.join(", ")}`);
  }
  for (const status of JOB_STATUSES) {
    if (Object.keys(movesOf(status)).length === 0) lines.push(`  ${status} --> [*]`);
  }
  return lines.join("\n");
}
