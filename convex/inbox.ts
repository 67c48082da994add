/**
 * The Console Inbox (SPEC §7, §9): decision requests, open first and blockers first; answer
 * or dismiss one. The state changes themselves live in decisions.ts.
 */
import { paginationOptsValidator } from "convex/server";
import { v } from "convex/values";
import type { Id } from "./_generated/dataModel";
import type { QueryCtx } from "./_generated/server";
import { answerDecision, dismissDecision } from "./decisions";
import { workspaceMutation, workspaceQuery } from "./functions";
import { jobView } from "./jobState";
import { FIRST_CLOSED_RANK } from "./model/decisions";
import { apiError } from "./model/errors";
import { boundedPage } from "./model/pages";

const MAX_ANSWER_CHARS = 8_000;
const MAX_NOTE_CHARS = 2_000;

async function requireDecision(
  ctx: QueryCtx,
  workspaceId: Id<"workspaces">,
  decisionRequestId: Id<"decisionRequests">,
) {
  const decision = await ctx.db.get("decisionRequests", decisionRequestId);
  if (decision === null || decision.workspaceId !== workspaceId) {
    throw apiError("DECISION_REQUEST_NOT_FOUND", "No decision request with this id in this workspace.");
  }
  return decision;
}

function requireText(path: string, text: string | undefined, max: number, required: boolean) {
  if (text === undefined) return;
  if ((required && text.trim() === "") || text.length > max) {
    const message = `must be ${required ? "1" : "0"}–${max} characters`;
    throw apiError("INVALID_REQUEST", `${path}: ${message}.`, { issues: [{ path, message }] });
  }
}

/** The Inbox: open requests first, blockers before checkpoints before audits, oldest first within. */
export const list = workspaceQuery({
  args: { openOnly: v.optional(v.boolean()), paginationOpts: paginationOptsValidator },
  handler: async (ctx, { openOnly, paginationOpts }) => {
    const { workspaceId } = ctx.workspace;
    return await ctx.db
      .query("decisionRequests")
      .withIndex("by_workspace_inbox", (q) =>
        openOnly
          ? q.eq("workspaceId", workspaceId).lt("inboxRank", FIRST_CLOSED_RANK)
          : q.eq("workspaceId", workspaceId),
      )
      .paginate(boundedPage(paginationOpts));
  },
});

/**
 * One decision request with what a person needs to answer it: the uncertainty (context, the
 * agent's assumption and confidence), its run, the job that raised it, the `apply_decision` job
 * and the resolutions so far. Null when the workspace has no such request.
 */
export const get = workspaceQuery({
  args: { decisionRequestId: v.id("decisionRequests") },
  handler: async (ctx, { decisionRequestId }) => {
    const decision = await ctx.db.get("decisionRequests", decisionRequestId);
    if (decision === null || decision.workspaceId !== ctx.workspace.workspaceId) return null;
    const [uncertainty, run, job, applyJob, resolutions] = await Promise.all([
      ctx.db.get("uncertainties", decision.uncertaintyId),
      ctx.db.get("runs", decision.runId),
      decision.jobId ? ctx.db.get("jobs", decision.jobId) : null,
      decision.applyJobId ? ctx.db.get("jobs", decision.applyJobId) : null,
      ctx.db
        .query("resolutions")
        .withIndex("by_uncertainty", (q) => q.eq("uncertaintyId", decision.uncertaintyId))
        .take(100),
    ]);
    const view = (found: typeof job) => (found === null ? null : jobView(found));
    return { decision, uncertainty, run, job: view(job), applyJob: view(applyJob), resolutions };
  },
});

/**
 * Answers a decision request with a value and an optional note; enqueues its one
 * `apply_decision` job. Answering again with the same value returns the first result.
 */
export const answer = workspaceMutation({
  args: { decisionRequestId: v.id("decisionRequests"), value: v.string(), note: v.optional(v.string()) },
  handler: async (ctx, { decisionRequestId, value, note }) => {
    requireText("value", value, MAX_ANSWER_CHARS, true);
    requireText("note", note, MAX_NOTE_CHARS, false);
    const decision = await requireDecision(ctx, ctx.workspace.workspaceId, decisionRequestId);
    return await answerDecision(ctx, decision, { value, note, createdByUserId: ctx.userId });
  },
});

/** Dismisses an open decision request (no job is enqueued); `reason` is kept as its resolution. */
export const dismiss = workspaceMutation({
  args: { decisionRequestId: v.id("decisionRequests"), reason: v.optional(v.string()) },
  handler: async (ctx, { decisionRequestId, reason }) => {
    requireText("reason", reason, MAX_NOTE_CHARS, false);
    const decision = await requireDecision(ctx, ctx.workspace.workspaceId, decisionRequestId);
    const resolutionId = await dismissDecision(ctx, decision, { value: reason ?? "", createdByUserId: ctx.userId });
    return { resolutionId };
  },
});
