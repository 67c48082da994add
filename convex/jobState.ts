/**
 * The one writer of the `jobs` table (SPEC §6). A job is born through `insertJob`, changes status
 * only through `moveJob` (the moves model/jobStates.ts allows) and changes anything else through
 * `updateJob`; retention deletes it through `deleteFinishedJob`. Each write appends its event
 * (jobEvents.ts) in the same transaction, keeps the metrics counters (jobCounters.ts) in step, and
 * a move runs the reactions other domains registered (jobReactions.ts). claim-next finds pending
 * jobs through their own `by_queue` index (queue.ts), so no queue document needs keeping in step.
 * Also the reads other domains share: requireJob, jobView, jobsOfRun, pageOfJobs.
 */
import type { PaginationOptions, PaginationResult, WithoutSystemFields } from "convex/server";
import type { Doc, Id } from "./_generated/dataModel";
import { internal } from "./_generated/api";
import type { MutationCtx, QueryCtx } from "./_generated/server";
import { requireId } from "./access";
import { admitIfRoom, isAdmitted } from "./concurrencyKeys";
import { countJobChange, withCounterBatch } from "./jobCounters";
import { appendJobEvent, coalesceHeartbeat, type JobEventFields } from "./jobEvents";
import { JOB_REACTIONS, type JobMoved } from "./jobReactions";
import { oversizedDocumentProblem } from "./model/convexValues";
import { apiError, type ApiErrorData } from "./model/errors";
import { JOB_NOTE_EVENTS, birthProblem, moveProblem } from "./model/jobStates";
import { isFinished, type JobKind, type JobStatus, type Lane } from "./model/jobs";
import { requirementsForWorkers } from "./model/matching";
import { birthDelta, moveDelta, presenceDelta } from "./model/jobCounters";
import { boundedPage } from "./model/pages";

type JobFields = WithoutSystemFields<Doc<"jobs">>;
/** Fields only this file writes: the status (moveJob's alone) and the bookkeeping of events and counters. */
type KeptHere = "status" | "nextEventSeq" | "updatedAt" | "pendingSince" | "counted";
/** What a write may set: anything but the fields kept here. */
export type JobPatch = Partial<Omit<JobFields, KeptHere>>;
/** A new job's fields, without its status (insertJob's argument) and the bookkeeping kept here. */
export type NewJob = Omit<JobFields, KeptHere>;

/** How a job moves: the event that records it, the other fields it sets. */
export type JobChange = { event: JobEventFields; patch?: JobPatch };

/** An event that records no status change (heartbeat, log lines, a cancel request). */
export type JobNote = JobEventFields & { type: (typeof JOB_NOTE_EVENTS)[number] };

function refuse(problem: ApiErrorData): never {
  throw apiError(problem.code, problem.message);
}

/**
 * Inserts a job in `status` with its first event (`seq` 1). A job of a full concurrency key asked
 * to be born `pending` is born `waiting` (concurrencyKeys.ts).
 */
export async function insertJob(
  ctx: MutationCtx,
  fields: NewJob,
  asked: JobStatus,
  event: JobEventFields,
): Promise<Doc<"jobs">> {
  const problem = birthProblem(asked, event.type);
  if (problem !== null) refuse(problem);
  const status =
    asked === "pending" && fields.concurrencyKey !== undefined
      ? (await admitIfRoom(ctx, fields.workspaceId, fields.concurrencyKey))
        ? "pending"
        : "waiting"
      : asked;
  const now = Date.now();
  const born = { ...fields, status, ...(status === "pending" ? { pendingSince: now } : {}), counted: true };
  requireStorable(born, Object.keys(born));
  const stored = { ...born, nextEventSeq: 2, updatedAt: now };
  const jobId = await ctx.db.insert("jobs", stored);
  await appendJobEvent(ctx, { _id: jobId, workspaceId: fields.workspaceId }, 1, now, event);
  // Not read back (enqueue's budget, SPEC §6: a keyed enqueue also reads its key): `_creationTime`
  // here is the insert's clock, within the transaction of the stored one; read the job for the exact value.
  const job = { ...stored, _id: jobId, _creationTime: now } as Doc<"jobs">;
  await countJobChange(ctx, job, birthDelta(status, event.type));
  await startTimers(ctx, job);
  return job;
}

/** A job entering `scheduled` gets its release timer (scheduling.ts), so none waits past its time. */
async function startTimers(ctx: MutationCtx, job: Doc<"jobs">) {
  if (job.status !== "scheduled") return;
  if (job.availableAt === undefined) throw new Error(`Job ${job._id} is scheduled without an availableAt.`);
  await ctx.scheduler.runAt(job.availableAt, internal.scheduling.releaseIfDue, {
    jobId: job._id,
    availableAt: job.availableAt,
  });
}

/**
 * Moves a job to `to`: refuses a move the table does not allow (INVALID_JOB_STATE), patches the
 * job with the change and appends its event, and queues the move for the reactions, run when the
 * transaction's batch of job changes is done. Pass the job as read in this transaction; the
 * result is the job after the move.
 * Concurrency keys (concurrencyKeys.ts): a keyed job asked back to `pending` from outside its
 * key's admitted jobs (released, retried) goes `waiting` instead when the key is full; an admitted
 * job leaving (finished, canceled, retry-scheduled) schedules its key's recount and next admission.
 */
export async function moveJob(
  ctx: MutationCtx,
  job: Doc<"jobs">,
  asked: JobStatus,
  change: JobChange,
): Promise<Doc<"jobs">> {
  const problem = moveProblem(job.status, asked, change.event.type);
  if (problem !== null) refuse(problem);
  const key = job.concurrencyKey;
  let to = asked;
  if (key !== undefined && asked === "pending" && !isAdmitted(job.status) && job.status !== "waiting") {
    if (!(await admitIfRoom(ctx, job.workspaceId, key))) to = "waiting";
    const redirected = moveProblem(job.status, to, change.event.type);
    if (redirected !== null) refuse(redirected);
  }
  if (key !== undefined && isAdmitted(job.status) && !isAdmitted(to)) {
    await ctx.scheduler.runAfter(0, internal.concurrency.jobLeft, { workspaceId: job.workspaceId, key });
  }
  return await withJobBatch(ctx, async () => {
    const since = to === "pending" ? { pendingSince: Date.now() } : {};
    const moved = await writeJob(ctx, job, { ...change.patch, ...since, status: to }, change.event);
    if (job.counted === true) await countJobChange(ctx, moved, moveDelta(job.status, to, change.event.type));
    await startTimers(ctx, moved);
    openBatches.get(ctx.db)!.push({ job: moved, from: job.status });
    return moved;
  });
}

/** Changes a job without moving it, appending `note` when given (a heartbeat's message, log lines). */
export async function updateJob(
  ctx: MutationCtx,
  job: Doc<"jobs">,
  patch: JobPatch,
  note?: JobNote,
): Promise<Doc<"jobs">> {
  return await writeJob(ctx, job, patch, note);
}

/** A heartbeat: patches the job; its message is appended, or coalesced into the last one it repeats. */
export async function heartbeatJob(
  ctx: MutationCtx,
  job: Doc<"jobs">,
  patch: JobPatch,
  message: string | undefined,
): Promise<Doc<"jobs">> {
  const now = Date.now();
  if (message === undefined || (await coalesceHeartbeat(ctx, job, message, now)))
    return await updateJob(ctx, job, patch);
  return await updateJob(ctx, job, patch, { type: "heartbeat", message, count: 1, lastAt: now });
}

/** Retention's end of a job (SPEC §6): only a finished job goes; its events are deleted first by the caller. */
export async function deleteFinishedJob(ctx: MutationCtx, job: Doc<"jobs">): Promise<void> {
  if (!isFinished(job.status)) refuse({ code: "INVALID_JOB_STATE", message: `A ${job.status} job is not deleted.` });
  await ctx.db.delete("jobs", job._id);
  if (job.counted === true) await countJobChange(ctx, job, presenceDelta(job.status, -1));
}

/**
 * The counters' backfill (metricsBackfill.ts): counts a job older than the counters in its status
 * and marks it counted, in one transaction, so its later moves count and it is never counted
 * twice. A pending job gets `pendingSince` from its last change. Not a change of the job:
 * `updatedAt` stays. Returns whether it counted the job (false: it already was).
 */
export async function countExistingJob(ctx: MutationCtx, job: Doc<"jobs">): Promise<boolean> {
  if (job.counted === true) return false;
  const since = job.status === "pending" && job.pendingSince === undefined ? { pendingSince: job.updatedAt } : {};
  await ctx.db.patch("jobs", job._id, { counted: true, ...since });
  await countJobChange(ctx, job, presenceDelta(job.status, 1));
  return true;
}

/** The one patch of a job: every write is measured whole and stamped, its event takes the next `seq`. */
async function writeJob(
  ctx: MutationCtx,
  job: Doc<"jobs">,
  change: Partial<JobFields>,
  event: JobEventFields | undefined,
): Promise<Doc<"jobs">> {
  const now = Date.now();
  const written: Partial<JobFields> = { ...change, updatedAt: now };
  requireStorable({ ...job, ...written }, Object.keys(change));
  if (event !== undefined) {
    await appendJobEvent(ctx, job, job.nextEventSeq, now, event);
    written.nextEventSeq = job.nextEventSeq + 1;
  }
  await ctx.db.patch("jobs", job._id, written);
  return { ...job, ...written };
}

/** The moves of the transaction's open batch, by its `ctx.db` (the same object however `ctx` is wrapped). */
const openBatches = new WeakMap<object, JobMoved[]>();

/**
 * Runs `work` as one batch of job changes (the lease sweep and complete-and-enqueue-children move
 * up to 100 jobs), then the reactions of every move run, in move order, after all of its writes.
 */
export async function withJobBatch<T>(ctx: MutationCtx, work: () => Promise<T>): Promise<T> {
  if (openBatches.has(ctx.db)) return await work();
  const moves: JobMoved[] = [];
  openBatches.set(ctx.db, moves);
  let result: T;
  try {
    result = await withCounterBatch(ctx, work);
  } finally {
    openBatches.delete(ctx.db);
  }
  for (const move of moves) {
    for (const reaction of JOB_REACTIONS) {
      if (reaction.when(move)) await ctx.runMutation(reaction.run, move);
    }
  }
  return result;
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

// ---- Reads shared with other domains ---------------------------------------------------------

/**
 * A job as clients see it: without the queue's bookkeeping fields, its requirements in both
 * spellings (SPEC §6 matching), `runRef` next to `runId`.
 */
export function jobView(job: Doc<"jobs">) {
  const {
    requirementsKey: _key,
    nextEventSeq: _seq,
    completionKey: _completion,
    leaseMs: _lease,
    jobTokenHash: _tokenHash,
    pendingSince: _since,
    counted: _counted,
    lastCompletion: _lastCompletion,
    ...visible
  } = job;
  return { ...visible, requirements: requirementsForWorkers(job.requirements) };
}
export type JobView = ReturnType<typeof jobView>;

/** The job `rawJobId` names in this workspace (and lane, when given); anything else is JOB_NOT_FOUND. */
export async function requireJob(
  ctx: QueryCtx,
  workspaceId: Id<"workspaces">,
  rawJobId: string,
  lane?: Lane,
): Promise<Doc<"jobs">> {
  const job = await ctx.db.get("jobs", requireId(ctx, "jobs", rawJobId, "jobId"));
  if (job === null || job.workspaceId !== workspaceId || (lane !== undefined && job.lane !== lane)) {
    throw apiError("JOB_NOT_FOUND", "jobId: no job with this id in this workspace.");
  }
  return job;
}

/** The latest jobs of a run, newest first (runs' detail view). */
export async function jobsOfRun(ctx: QueryCtx, workspaceId: Id<"workspaces">, runId: Id<"runs">, limit: number) {
  const jobs = await ctx.db
    .query("jobs")
    .withIndex("by_workspace_run", (q) => q.eq("workspaceId", workspaceId).eq("runId", runId))
    .order("desc")
    .take(limit);
  return jobs.map(jobView);
}

/** What `jobs/list` and the Console filter jobs by; every filter given is applied. */
export type JobFilters = {
  status?: JobStatus;
  repoId?: Id<"repos">;
  runId?: Id<"runs">;
  kind?: JobKind;
  /** The worker that claimed it (kept on finished jobs). */
  claimedBy?: Id<"workers">;
  /** `_creationTime` bounds, both exclusive. */
  createdAfter?: number;
  createdBefore?: number;
};

/**
 * The index for the filters: the first of run, repo, kind, worker that is given (each with and
 * without status), else the workspace's. The creation-time bounds are a range on every one of
 * them (`_creationTime` ends every index), so they are always index-backed.
 */
function indexFor(filters: JobFilters): { index: string; fields: Array<keyof JobFilters> } {
  const status = filters.status !== undefined;
  const pick = (base: string, field: keyof JobFilters) => ({
    index: status ? `${base}_status` : base,
    fields: status ? [field, "status" as const] : [field],
  });
  if (filters.runId !== undefined) return pick("by_workspace_run", "runId");
  if (filters.repoId !== undefined) return pick("by_workspace_repo", "repoId");
  if (filters.kind !== undefined) return pick("by_workspace_kind", "kind");
  if (filters.claimedBy !== undefined) return pick("by_workspace_claimed_by", "claimedBy");
  return status ? { index: "by_workspace_status", fields: ["status"] } : { index: "by_workspace", fields: [] };
}

/** An index range builder whose fields are not checked at compile time (pageOfJobs picks the index). */
type LooseRange = {
  eq(field: string, value: unknown): LooseRange;
  gt(field: string, value: number): LooseRange;
  lt(field: string, value: number): LooseRange;
};

const EQUALITY_FILTERS = ["status", "repoId", "runId", "kind", "claimedBy"] as const;

/**
 * One page of the workspace's jobs, newest first, on the narrowest index for the filters; the
 * equality filters that index does not cover are applied to the page, so a page may hold fewer
 * than `numItems` jobs (even none) while its cursor goes on. A page also ends early once its jobs
 * pass MAX_PAGE_BYTES (model/pages.ts).
 */
export async function pageOfJobs(
  ctx: QueryCtx,
  workspaceId: Id<"workspaces">,
  filters: JobFilters,
  paginationOpts: PaginationOptions,
): Promise<PaginationResult<Doc<"jobs">>> {
  const { index, fields } = indexFor(filters);
  // Large jobs (64 KiB prompts, big evidence) end a page early rather than break the read limit.
  const page = await ctx.db
    .query("jobs")
    .withIndex(index as "by_workspace", (q) => {
      // The fields of `index` in order, then the creation-time range (typed per index by Convex;
      // built generically here, the index names and fields above are the single list).
      let range = (q as unknown as LooseRange).eq("workspaceId", workspaceId);
      for (const field of fields) range = range.eq(field, filters[field]);
      if (filters.createdAfter !== undefined) range = range.gt("_creationTime", filters.createdAfter);
      if (filters.createdBefore !== undefined) range = range.lt("_creationTime", filters.createdBefore);
      return range as unknown as typeof q;
    })
    .order("desc")
    .paginate(boundedPage(paginationOpts));
  const rest = EQUALITY_FILTERS.filter((field) => filters[field] !== undefined && !fields.includes(field));
  if (rest.length === 0) return page;
  return { ...page, page: page.page.filter((job) => rest.every((field) => job[field] === filters[field])) };
}
