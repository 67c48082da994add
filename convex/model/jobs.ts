/**
 * The job queue's vocabularies (SPEC §6), each listed once: kinds, lanes, statuses, outcomes,
 * event types. Validators for the schema and zod enums for the routes are derived from these.
 */
import { v } from "convex/values";

export const JOB_KINDS = [
  "work",
  "pr_review",
  "install_ias",
  "create_run",
  "init_repo_context",
  "context_architect",
  "update_git_policy",
  "git_repair",
  "screenshot",
  "apply_decision",
  "validate_checkpoints",
] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** `worker`: claimed through /v1/jobs; `cloud_ai`: through /v1/cloud-ai-jobs. */
export const LANES = ["worker", "cloud_ai"] as const;
export type Lane = (typeof LANES)[number];

/**
 * `scheduled`: waiting for its `availableAt` (a delayed enqueue, a retry's back-off); never claimable.
 * `waiting`: its `concurrencyKey` is full (SPEC §6 "Concurrency"); never claimable, admitted (→ `pending`)
 * when a job of the key leaves (concurrency.ts).
 */
export const JOB_STATUSES = [
  "scheduled",
  "waiting",
  "pending",
  "running",
  "done",
  "failed",
  "blocked",
  "canceled",
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/**
 * What status filters accept: the statuses plus `claimed`, the name earlier versions used for
 * `running` (SPEC §6), so callers written against them keep working.
 */
export const JOB_STATUS_FILTERS = [...JOB_STATUSES, "claimed"] as const;
export type JobStatusFilter = (typeof JOB_STATUS_FILTERS)[number];

export function statusOfFilter(filter: JobStatusFilter): JobStatus {
  return filter === "claimed" ? "running" : filter;
}

/** What a worker may report on complete; each is also the job's final status. */
export const JOB_OUTCOMES = ["done", "failed", "blocked", "canceled"] as const;
export type JobOutcome = (typeof JOB_OUTCOMES)[number];

export function isFinished(status: JobStatus): status is JobOutcome {
  return (JOB_OUTCOMES as readonly string[]).includes(status);
}

export const JOB_EVENT_TYPES = [
  "enqueued",
  "claimed",
  "heartbeat",
  "log",
  /** Log lines the worker had to drop (its spool was full): `data.droppedLines`. */
  "log_gap",
  "completed",
  "failed",
  "blocked",
  "canceled",
  "recovered",
  "cancel_requested",
  "retried",
  /** A running job goes `scheduled` for a retry after its back-off: `data.delayMs`, `data.attempt`, `data.cause`. */
  "retry_scheduled",
  /** A running job passed its `timeoutMs`: its cancel is requested. */
  "timed_out",
  /** A scheduled job became pending (its `availableAt` came). */
  "released",
  /** A waiting job became pending: its concurrency key had room again (concurrency.ts). */
  "admitted",
] as const;
export type JobEventType = (typeof JOB_EVENT_TYPES)[number];

/** The event a completion with this outcome appends. */
export const OUTCOME_EVENT: Record<JobOutcome, JobEventType> = {
  done: "completed",
  failed: "failed",
  blocked: "blocked",
  canceled: "canceled",
};

/**
 * Idempotency keys the system enqueues under (a decision's apply job, a trigger's job) start with
 * this; clients may not use it, so no client key can collide with one and block that job.
 */
export const SYSTEM_KEY_PREFIX = "ias:";

export function systemIdempotencyKey(...parts: string[]): string {
  return SYSTEM_KEY_PREFIX + parts.join(":");
}

export function isSystemIdempotencyKey(key: string): boolean {
  return key.startsWith(SYSTEM_KEY_PREFIX);
}

export const DEFAULT_ROLE = "implementer";
export const DEFAULT_PRIORITY = 0;
export const DEFAULT_MAX_ATTEMPTS = 3;
export const MAX_PROMPT_BYTES = 64 * 1024;
export const MAX_LOG_LINES = 500;
export const MAX_LOG_BYTES = 64 * 1024;
/** SPEC §6 "Concurrency": the longest `concurrencyKey`, and a key's limit when no admin set one. */
export const MAX_CONCURRENCY_KEY_CHARS = 200;
export const DEFAULT_CONCURRENCY_LIMIT = 1;
/** The highest per-key limit an admin may set, and the highest `capabilities.maxConcurrentJobs`. */
export const MAX_CONCURRENCY_LIMIT = 1_000;
export const MAX_WORKER_CONCURRENT_JOBS = 32;

export const jobKindValidator = v.union(...JOB_KINDS.map((kind) => v.literal(kind)));
export const laneValidator = v.union(...LANES.map((lane) => v.literal(lane)));
export const jobStatusValidator = v.union(...JOB_STATUSES.map((status) => v.literal(status)));
export const jobStatusFilterValidator = v.union(...JOB_STATUS_FILTERS.map((status) => v.literal(status)));
export const jobOutcomeValidator = v.union(...JOB_OUTCOMES.map((outcome) => v.literal(outcome)));
export const jobEventTypeValidator = v.union(...JOB_EVENT_TYPES.map((type) => v.literal(type)));

export function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).length;
}
