/**
 * Retention (SPEC §6): per-workspace settings (admins, Console) and the sweep that deletes what
 * they let go. Owns `retentionSettings`. The hourly cron visits every workspace; each visit
 * deletes expired rows (finished jobs with their events, integration events, context packs,
 * offline workers, ended tokens, audit rows) through index ranges, within one transaction's
 * budget, and schedules itself to go on where it stopped. Never a job that is not finished,
 * never one whose children are not finished.
 */
import { v } from "convex/values";
import { internal } from "./_generated/api";
import type { Doc, Id, TableNames } from "./_generated/dataModel";
import { internalMutation, type MutationCtx, type QueryCtx } from "./_generated/server";
import { recordConsoleChange } from "./audit";
import { workspaceMutation, workspaceQuery } from "./functions";
import { deleteFinishedJob } from "./jobState";
import { convexSize } from "./model/convexValues";
import { apiError } from "./model/errors";
import { JOB_STATUSES, isFinished } from "./model/jobs";
import {
  DEFAULT_RETENTION,
  RETENTION_FIELDS,
  retentionChangesValidator,
  retentionCutoffs,
  retentionProblem,
  type RetentionField,
  type RetentionSettings,
} from "./model/retention";

/**
 * What one sweep transaction may read and delete: far inside Convex's limits (32,000 documents
 * read, 16,000 written, 16 MiB each way), however large the rows are.
 */
export const SWEEP_BUDGET = { documents: 4_000, bytes: 6 * 1024 * 1024 };
/** Expired jobs read per page; a page also stops at this many bytes (jobs may be up to 1 MiB each). */
const JOB_PAGE = { numItems: 64, maximumBytesRead: 2 * 1024 * 1024 };
/** Workspaces whose sweep one run of the cron schedules before handing on. */
const WORKSPACES_PER_RUN = 100;

export const RETENTION_PARTS = [
  "jobs",
  "integrationEvents",
  "contextPacks",
  "workers",
  "expiredTokens",
  "revokedTokens",
  "audit",
] as const;
type Part = (typeof RETENTION_PARTS)[number];
const partValidator = v.union(...RETENTION_PARTS.map((part) => v.literal(part)));

const UNFINISHED_STATUSES = JOB_STATUSES.filter((status) => !isFinished(status));

/** The workspace's settings: what an admin stored, the SPEC defaults for the rest. */
export async function retentionOf(ctx: QueryCtx, workspaceId: Id<"workspaces">): Promise<RetentionSettings> {
  const stored = await storedSettings(ctx, workspaceId);
  if (stored === null) return { ...DEFAULT_RETENTION };
  return Object.fromEntries(RETENTION_FIELDS.map((field) => [field, stored[field]])) as RetentionSettings;
}

async function storedSettings(ctx: QueryCtx, workspaceId: Id<"workspaces">) {
  return await ctx.db
    .query("retentionSettings")
    .withIndex("by_workspace", (q) => q.eq("workspaceId", workspaceId))
    .unique();
}

// ---- Console (admins) ------------------------------------------------------------------------

/** The workspace's retention in days, with the defaults beside it. */
export const get = workspaceQuery({
  minRole: "admin",
  args: {},
  handler: async (ctx) => ({
    settings: await retentionOf(ctx, ctx.workspace.workspaceId),
    defaults: DEFAULT_RETENTION,
  }),
});

/** Changes the settings sent (days); the others keep their value. Audited when anything changes. */
export const set = workspaceMutation({
  minRole: "admin",
  args: retentionChangesValidator.fields,
  handler: async (ctx, { workspaceId: _checked, ...changes }) => {
    const problem = retentionProblem(changes);
    if (problem !== null) {
      throw apiError("INVALID_REQUEST", `${problem.field}: ${problem.message}`, {
        issues: [{ path: problem.field, message: problem.message }],
      });
    }
    const { workspaceId } = ctx.workspace;
    const before = await retentionOf(ctx, workspaceId);
    const after: RetentionSettings = { ...before };
    for (const field of RETENTION_FIELDS) after[field] = changes[field] ?? before[field];
    const changed = RETENTION_FIELDS.filter((field) => after[field] !== before[field]);
    if (changed.length === 0) return after;
    const stored = await storedSettings(ctx, workspaceId);
    const row = { ...after, updatedAt: Date.now(), updatedBy: ctx.userId };
    if (stored === null) await ctx.db.insert("retentionSettings", { workspaceId, ...row });
    else await ctx.db.patch("retentionSettings", stored._id, row);
    await recordConsoleChange(
      ctx,
      "workspace.retention_changed",
      Object.fromEntries(changed.map((field) => [field, `${before[field]} → ${after[field]}`])),
    );
    return after;
  },
});

// ---- The sweep -------------------------------------------------------------------------------

/** Cron: schedules the sweep of every workspace, a hundred per transaction. */
export const sweepAll = internalMutation({
  args: { cursor: v.optional(v.string()) },
  handler: async (ctx, { cursor }) => {
    const page = await ctx.db
      .query("workspaces")
      .withIndex("by_creation_time")
      .paginate({ numItems: WORKSPACES_PER_RUN, cursor: cursor ?? null });
    for (const workspace of page.page) {
      await ctx.scheduler.runAfter(0, internal.retention.sweepWorkspace, { workspaceId: workspace._id });
    }
    if (!page.isDone) await ctx.scheduler.runAfter(0, internal.retention.sweepAll, { cursor: page.continueCursor });
    return { scheduled: page.page.length };
  },
});

type Budget = { documents: number; bytes: number };
type PartResult = { done: true } | { done: false; cursor?: string };
type SweepContext = { workspaceId: Id<"workspaces">; cutoffs: Record<RetentionField, number>; budget: Budget };

/**
 * One workspace: the parts in order, from `part` (and the jobs page `cursor`) on, until the
 * budget is spent; then it schedules itself to continue there. Returns what it deleted.
 */
export const sweepWorkspace = internalMutation({
  args: { workspaceId: v.id("workspaces"), part: v.optional(partValidator), cursor: v.optional(v.string()) },
  handler: async (ctx, { workspaceId, part, cursor }) => {
    const deleted: Partial<Record<Part, number>> = {};
    if ((await ctx.db.get("workspaces", workspaceId)) === null) return { deleted, continued: false };
    const sweep: SweepContext = {
      workspaceId,
      cutoffs: retentionCutoffs(await retentionOf(ctx, workspaceId), Date.now()),
      budget: { ...SWEEP_BUDGET },
    };
    let jobsCursor = cursor;
    for (const current of RETENTION_PARTS.slice(RETENTION_PARTS.indexOf(part ?? "jobs"))) {
      const counter = { deleted: 0 };
      const result = await sweepPart(ctx, current, sweep, counter, jobsCursor);
      deleted[current] = counter.deleted;
      jobsCursor = undefined;
      if (!result.done) {
        await ctx.scheduler.runAfter(0, internal.retention.sweepWorkspace, {
          workspaceId,
          part: current,
          ...(result.cursor === undefined ? {} : { cursor: result.cursor }),
        });
        return { deleted, continued: true };
      }
    }
    return { deleted, continued: false };
  },
});

type Row = { _id: Id<TableNames> };
type Range = AsyncIterable<Row>;
type Expired = { table: TableNames; range: Range; keep?: (document: Row) => boolean };

/**
 * The expired rows of each part but jobs, as an index range from its start (deleting them empties
 * it); `keep` spares rows the range cannot exclude. Jobs have their own sweep (`sweepJobs`).
 */
const EXPIRED: Record<Exclude<Part, "jobs">, (ctx: MutationCtx, sweep: SweepContext) => Expired> = {
  integrationEvents: (ctx, { workspaceId, cutoffs }) => ({
    table: "integrationEvents",
    range: ctx.db
      .query("integrationEvents")
      .withIndex("by_workspace_received", (q) =>
        q.eq("workspaceId", workspaceId).lt("receivedAt", cutoffs.integrationEventsDays),
      ),
  }),
  contextPacks: (ctx, { workspaceId, cutoffs }) => ({
    table: "contextPacks",
    range: ctx.db
      .query("contextPacks")
      .withIndex("by_workspace", (q) => q.eq("workspaceId", workspaceId).lt("_creationTime", cutoffs.contextPacksDays)),
  }),
  // A worker seen so long ago is offline (the 60 s cron); one still flagged online waits for it.
  workers: (ctx, { workspaceId, cutoffs }) => ({
    table: "workers",
    range: ctx.db
      .query("workers")
      .withIndex("by_workspace_last_seen", (q) =>
        q.eq("workspaceId", workspaceId).lt("lastSeenAt", cutoffs.offlineWorkersDays),
      ),
    keep: (worker) => (worker as Doc<"workers">).online === true,
  }),
  expiredTokens: (ctx, { workspaceId, cutoffs }) => ({
    table: "apiTokens",
    range: ctx.db
      .query("apiTokens")
      .withIndex("by_workspace_expires", (q) =>
        q.eq("workspaceId", workspaceId).lt("expiresAt", cutoffs.endedTokensDays),
      ),
  }),
  revokedTokens: (ctx, { workspaceId, cutoffs }) => ({
    table: "apiTokens",
    range: ctx.db
      .query("apiTokens")
      .withIndex("by_workspace_revoked", (q) =>
        q.eq("workspaceId", workspaceId).gte("revokedAt", 0).lt("revokedAt", cutoffs.endedTokensDays),
      ),
  }),
  audit: (ctx, { workspaceId, cutoffs }) => ({
    table: "auditLog",
    range: ctx.db
      .query("auditLog")
      .withIndex("by_workspace", (q) => q.eq("workspaceId", workspaceId).lt("_creationTime", cutoffs.auditDays)),
  }),
};

async function sweepPart(
  ctx: MutationCtx,
  part: Part,
  sweep: SweepContext,
  counter: { deleted: number },
  cursor: string | undefined,
): Promise<PartResult> {
  if (part === "jobs") return await sweepJobs(ctx, sweep, counter, cursor);
  const { table, range, keep } = EXPIRED[part](ctx, sweep);
  return await deleteRange(ctx, table, range, sweep.budget, counter, keep);
}

function spend(budget: Budget, document: object) {
  budget.documents -= 1;
  budget.bytes -= convexSize(document);
}
const spent = (budget: Budget) => budget.documents <= 0 || budget.bytes <= 0;

/**
 * Deletes the rows of an index range from its start (those `keep` spares stay and are read again
 * next time). Not done when the budget ran out: the next transaction starts the range afresh.
 */
async function deleteRange(
  ctx: MutationCtx,
  table: TableNames,
  range: Range,
  budget: Budget,
  counter: { deleted: number },
  keep?: (document: Row) => boolean,
): Promise<PartResult> {
  if (spent(budget)) return { done: false };
  for await (const document of range) {
    spend(budget, document);
    if (!keep?.(document)) {
      await ctx.db.delete(table, document._id);
      counter.deleted++;
    }
    if (spent(budget)) return { done: false };
  }
  return { done: true };
}

/**
 * Finished jobs whose `finishedAt` passed the cutoff, a page at a time (`cursor` is the page's
 * start). Each goes with its events, oldest first; the job document last, so a job whose events
 * take several transactions is found again, still finished, on the same page.
 */
async function sweepJobs(
  ctx: MutationCtx,
  { workspaceId, cutoffs, budget }: SweepContext,
  counter: { deleted: number },
  cursor: string | undefined,
): Promise<PartResult> {
  const page = await ctx.db
    .query("jobs")
    .withIndex("by_workspace_finished", (q) =>
      q.eq("workspaceId", workspaceId).gte("finishedAt", 0).lt("finishedAt", cutoffs.finishedJobsDays),
    )
    .paginate({ ...JOB_PAGE, cursor: cursor ?? null });
  const again: PartResult = cursor === undefined ? { done: false } : { done: false, cursor };
  for (const job of page.page) spend(budget, job);
  for (const job of page.page) {
    if (!isFinished(job.status) || (await hasUnfinishedChildren(ctx, job))) continue;
    if (!(await deleteEventsOf(ctx, job, budget))) return again;
    await deleteFinishedJob(ctx, job);
    counter.deleted++;
    if (spent(budget)) return again;
  }
  return page.isDone ? { done: true } : { done: false, cursor: page.continueCursor };
}

async function hasUnfinishedChildren(ctx: QueryCtx, job: Doc<"jobs">): Promise<boolean> {
  for (const status of UNFINISHED_STATUSES) {
    const child = await ctx.db
      .query("jobs")
      .withIndex("by_parent_status", (q) => q.eq("parentJobId", job._id).eq("status", status))
      .first();
    if (child !== null) return true;
  }
  return false;
}

/**
 * Deletes a job's events (log lines included) oldest first, then what its command reported with
 * its job token (one report per claim); false when the budget ran out first.
 */
async function deleteEventsOf(ctx: MutationCtx, job: Doc<"jobs">, budget: Budget): Promise<boolean> {
  const events = ctx.db.query("jobEvents").withIndex("by_job_seq", (q) => q.eq("jobId", job._id));
  const reports = ctx.db.query("jobReports").withIndex("by_job_generation", (q) => q.eq("jobId", job._id));
  return (await deleteEach(ctx, "jobEvents", events, budget)) && (await deleteEach(ctx, "jobReports", reports, budget));
}

/** Deletes every row of a range, each paid from the budget; false when the budget ran out first. */
async function deleteEach(ctx: MutationCtx, table: TableNames, range: Range, budget: Budget): Promise<boolean> {
  for await (const row of range) {
    spend(budget, row);
    await ctx.db.delete(table, row._id);
    if (spent(budget)) return false;
  }
  return true;
}
