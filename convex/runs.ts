/**
 * Runs (goals), SPEC §7. Owns `runs` and `runMilestones`. Internal functions serve
 * `/v1/runs/upsert` (by repo + runRef), `/v1/runs/get` and `/v2/runs/upsert` (by id); public ones the Console.
 */
import { paginationOptsValidator, type WithoutSystemFields } from "convex/server";
import { v } from "convex/values";
import type { Doc, Id } from "./_generated/dataModel";
import type { MutationCtx, QueryCtx } from "./_generated/server";
import { requireId } from "./access";
import { startCascade } from "./cascadeStart";
import { requestArgs } from "./api/convexArgs";
import { runRequest, updateRunRequest, upsertRunByRefRequest } from "./api/requests/runs";
import { workspaceInternalMutation, workspaceInternalQuery, workspaceQuery } from "./functions";
import { jobsOfRun } from "./jobState";
import { requireRepo } from "./repos";
import { apiError } from "./model/errors";
import { runStatusValidator, type RunStatus } from "./model/runs";
import { boundedPage } from "./model/pages";
import { queueRunFinished } from "./webhookEvents";

/** The run `rawRunId` names in this workspace; another workspace's run answers like a missing one. */
export async function requireRun(
  ctx: QueryCtx,
  workspaceId: Id<"workspaces">,
  rawRunId: string,
  path = "runId",
): Promise<Doc<"runs">> {
  const run = await ctx.db.get("runs", requireId(ctx, "runs", rawRunId, path));
  if (run === null || run.workspaceId !== workspaceId) {
    throw apiError("RUN_NOT_FOUND", "No run with this id in this workspace.");
  }
  return run;
}

type RunChanges = {
  status?: RunStatus;
  currentMilestone?: string | null;
  runStatePath?: string | null;
  blockedByDecisionRequestId?: string | null;
  goal?: string | null;
};

/** Turns upsert fields into a patch, checking that a blocking decision belongs to this workspace. */
async function runPatch(ctx: QueryCtx, workspaceId: Id<"workspaces">, changes: RunChanges) {
  const patch: Partial<WithoutSystemFields<Doc<"runs">>> = { updatedAt: Date.now() };
  if (changes.status !== undefined) patch.status = changes.status;
  for (const field of ["currentMilestone", "runStatePath", "goal"] as const) {
    if (changes[field] !== undefined) patch[field] = changes[field] ?? undefined;
  }
  const rawDecisionId = changes.blockedByDecisionRequestId;
  if (rawDecisionId === null) patch.blockedByDecisionRequestId = undefined;
  if (typeof rawDecisionId === "string") {
    const decisionId = requireId(ctx, "decisionRequests", rawDecisionId, "blockedByDecisionRequestId");
    const decision = await ctx.db.get("decisionRequests", decisionId);
    if (decision === null || decision.workspaceId !== workspaceId) {
      throw apiError(
        "DECISION_REQUEST_NOT_FOUND",
        "blockedByDecisionRequestId: no decision request with this id in this workspace.",
      );
    }
    patch.blockedByDecisionRequestId = decisionId;
  }
  return patch;
}

/** Appends to the milestone history when an upsert moves the run to another milestone. */
async function recordMilestone(ctx: MutationCtx, before: Doc<"runs"> | null, after: Doc<"runs">) {
  if (after.currentMilestone === undefined || after.currentMilestone === before?.currentMilestone) return;
  await ctx.db.insert("runMilestones", {
    workspaceId: after.workspaceId,
    runId: after._id,
    milestone: after.currentMilestone,
    runStatus: after.status,
  });
}

async function patchRun(ctx: MutationCtx, run: Doc<"runs">, patch: Partial<WithoutSystemFields<Doc<"runs">>>) {
  await ctx.db.patch("runs", run._id, patch);
  // A run canceled cancels its jobs (cascade.ts): scheduled and pending ones now, running ones asked to stop.
  if (patch.status === "canceled" && run.status !== "canceled")
    await startCascade(ctx, run.workspaceId, { runId: run._id }, `Run ${run.runRef} canceled.`);
  const after = (await ctx.db.get("runs", run._id))!;
  await recordMilestone(ctx, run, after);
  await queueRunFinished(ctx, run, after);
}

/** A job's command moved its run to another milestone (`/v1/job/milestone`, jobToken.ts). */
export async function setRunMilestone(ctx: MutationCtx, run: Doc<"runs">, milestone: string) {
  await patchRun(ctx, run, { currentMilestone: milestone, updatedAt: Date.now() });
}

/** A job completed `blocked` on a decision request: the run shows what it waits for. */
export async function markRunBlocked(ctx: MutationCtx, runId: Id<"runs">, decisionId: Id<"decisionRequests">) {
  if ((await ctx.db.get("runs", runId)) === null) return;
  await ctx.db.patch("runs", runId, {
    status: "blocked",
    blockedByDecisionRequestId: decisionId,
    updatedAt: Date.now(),
  });
}

/** Runs one decision may block at once: it belongs to one run, blocked jobs may name it from others. */
const MAX_RUNS_BLOCKED_BY_ONE_DECISION = 100;

/** The decision runs were blocked by has been applied or dismissed: they continue. */
export async function unblockRunsBlockedBy(ctx: MutationCtx, decisionId: Id<"decisionRequests">) {
  const blocked = await ctx.db
    .query("runs")
    .withIndex("by_blocked_by", (q) => q.eq("blockedByDecisionRequestId", decisionId))
    .take(MAX_RUNS_BLOCKED_BY_ONE_DECISION);
  for (const run of blocked) {
    await ctx.db.patch("runs", run._id, {
      blockedByDecisionRequestId: undefined,
      ...(run.status === "blocked" ? { status: "in_progress" as const } : {}),
      updatedAt: Date.now(),
    });
  }
}

// ---- HTTP layer ------------------------------------------------------------------------------

/** `POST /v1/runs/upsert`: one run per (workspace, repo, runRef); `created` says which happened. */
export const upsertByRef = workspaceInternalMutation({
  minRole: "member",
  args: requestArgs(upsertRunByRefRequest),
  handler: async (ctx, { repoId: rawRepoId, runRef, ...changes }) => {
    const { workspaceId } = ctx.access;
    const repo = await requireRepo(ctx, workspaceId, rawRepoId);
    return await upsertRunByRef(ctx, workspaceId, repo._id, runRef, changes);
  },
});

/**
 * The one run upsert keyed by (workspace, repo, runRef), shared by `/v1/runs/upsert` and run
 * triggers (integrations.ts). The caller has checked access and that the repo is the workspace's.
 */
export async function upsertRunByRef(
  ctx: MutationCtx,
  workspaceId: Id<"workspaces">,
  repoId: Id<"repos">,
  runRef: string,
  changes: RunChanges & { status: RunStatus },
): Promise<{ runId: Id<"runs">; created: boolean }> {
  const patch = await runPatch(ctx, workspaceId, changes);
  const existing = await runOfRef(ctx, workspaceId, repoId, runRef);
  if (existing !== null) {
    await patchRun(ctx, existing, patch);
    return { runId: existing._id, created: false };
  }
  const runId = await ctx.db.insert("runs", {
    ...patch,
    workspaceId,
    repoId,
    runRef,
    status: changes.status,
    updatedAt: Date.now(),
  });
  const created = (await ctx.db.get("runs", runId))!;
  await recordMilestone(ctx, null, created);
  await queueRunFinished(ctx, null, created);
  return { runId, created: true };
}

async function runOfRef(ctx: QueryCtx, workspaceId: Id<"workspaces">, repoId: Id<"repos">, runRef: string) {
  return await ctx.db
    .query("runs")
    .withIndex("by_workspace_repo_ref", (q) =>
      q.eq("workspaceId", workspaceId).eq("repoId", repoId).eq("runRef", runRef),
    )
    .unique();
}

/**
 * The run keyed by (workspace, repo, runRef), created with `fields` when there is none. An
 * existing run is left as it is: run triggers (runTriggers.ts) name a run, they do not reset it.
 */
export async function ensureRunByRef(
  ctx: MutationCtx,
  workspaceId: Id<"workspaces">,
  repoId: Id<"repos">,
  runRef: string,
  fields: { status: RunStatus; goal?: string },
): Promise<{ runId: Id<"runs">; created: boolean }> {
  const existing = await runOfRef(ctx, workspaceId, repoId, runRef);
  if (existing !== null) return { runId: existing._id, created: false };
  return await upsertRunByRef(ctx, workspaceId, repoId, runRef, fields);
}

/** `POST /v1/runs/get`: the run by id, or null when this workspace has none with that id. */
export const getById = workspaceInternalQuery({
  minRole: "viewer",
  args: requestArgs(runRequest),
  handler: async (ctx, { runId }) => {
    const { workspaceId } = ctx.access;
    const run = await ctx.db.get("runs", requireId(ctx, "runs", runId, "runId"));
    return { run: run !== null && run.workspaceId === workspaceId ? run : null };
  },
});

/** `POST /v2/runs/upsert`: updates the fields sent on an existing run. */
export const updateById = workspaceInternalMutation({
  minRole: "member",
  args: requestArgs(updateRunRequest),
  handler: async (ctx, { runId: rawRunId, ...changes }) => {
    const { workspaceId } = ctx.access;
    const run = await requireRun(ctx, workspaceId, rawRunId);
    await patchRun(ctx, run, await runPatch(ctx, workspaceId, changes));
    return { runId: run._id };
  },
});

// ---- Console ---------------------------------------------------------------------------------

const DETAIL_LIMIT = 100;

/** Runs of a workspace, most recently updated first, optionally of one status. */
export const list = workspaceQuery({
  args: { status: v.optional(runStatusValidator), paginationOpts: paginationOptsValidator },
  handler: async (ctx, { status, paginationOpts }) => {
    const { workspaceId } = ctx.workspace;
    const runs =
      status === undefined
        ? ctx.db.query("runs").withIndex("by_workspace_updated", (q) => q.eq("workspaceId", workspaceId))
        : ctx.db
            .query("runs")
            .withIndex("by_workspace_status_updated", (q) => q.eq("workspaceId", workspaceId).eq("status", status));
    return await runs.order("desc").paginate(boundedPage(paginationOpts));
  },
});

/**
 * One run with its latest jobs, its decision requests and its milestone history (each the
 * latest 100, newest first), or null when the workspace has no such run.
 */
export const get = workspaceQuery({
  args: { runId: v.id("runs") },
  handler: async (ctx, { runId }) => {
    const run = await ctx.db.get("runs", runId);
    if (run === null || run.workspaceId !== ctx.workspace.workspaceId) return null;
    const [jobs, decisions, milestones] = await Promise.all([
      jobsOfRun(ctx, run.workspaceId, run._id, DETAIL_LIMIT),
      ctx.db
        .query("decisionRequests")
        .withIndex("by_run", (q) => q.eq("runId", runId))
        .order("desc")
        .take(DETAIL_LIMIT),
      ctx.db
        .query("runMilestones")
        .withIndex("by_run", (q) => q.eq("runId", runId))
        .order("desc")
        .take(DETAIL_LIMIT),
    ]);
    const blockedBy = run.blockedByDecisionRequestId
      ? await ctx.db.get("decisionRequests", run.blockedByDecisionRequestId)
      : null;
    return { run, blockedBy, jobs, decisions, milestones };
  },
});
