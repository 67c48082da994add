/**
 * Decision requests and resolutions (SPEC §7): how a promoted uncertainty is opened, answered,
 * dismissed and applied. Owns `decisionRequests` and `resolutions`. Called by uncertainties.ts
 * (HTTP) and inbox.ts (Console); `onJobFinished` is registered in jobReactions.ts.
 */
import { v } from "convex/values";
import type { Doc, Id } from "./_generated/dataModel";
import { internalMutation, type MutationCtx } from "./_generated/server";
import { jobMovedArgs } from "./jobReactions";
import { enqueueJob } from "./jobs";
import { applyDecisionJobKey, inboxRank, type ResolutionMode } from "./model/decisions";
import { apiError } from "./model/errors";
import type { Tier } from "./model/promotion";
import { markRunBlocked, unblockRunsBlockedBy } from "./runs";
import { queueDecisionOpened } from "./webhookEvents";

/** Opens the Inbox entry of a promoted uncertainty. */
export async function openDecisionRequest(
  ctx: MutationCtx,
  uncertainty: Doc<"uncertainties">,
  tier: Tier,
): Promise<Id<"decisionRequests">> {
  const decision = {
    workspaceId: uncertainty.workspaceId,
    runId: uncertainty.runId,
    uncertaintyId: uncertainty._id,
    jobId: uncertainty.jobId,
    prompt: uncertainty.prompt,
    kind: uncertainty.kind,
    options: uncertainty.options,
    tier,
    status: "open" as const,
    inboxRank: inboxRank("open", tier),
  };
  const decisionId = await ctx.db.insert("decisionRequests", decision);
  await ctx.db.patch("uncertainties", uncertainty._id, { decisionRequestId: decisionId });
  await queueDecisionOpened(ctx, { _id: decisionId, ...decision });
  return decisionId;
}

export type ResolutionFields = {
  value: string;
  note?: string;
  commitSha?: string;
  confidence?: number;
  createdByJobId?: Id<"jobs">;
  createdByUserId?: Id<"users">;
};

/** Appends a resolution; the uncertainty's status follows its latest resolution. */
export async function recordResolution(
  ctx: MutationCtx,
  uncertainty: Doc<"uncertainties">,
  mode: ResolutionMode,
  fields: ResolutionFields,
): Promise<Id<"resolutions">> {
  const resolutionId = await ctx.db.insert("resolutions", {
    workspaceId: uncertainty.workspaceId,
    uncertaintyId: uncertainty._id,
    decisionRequestId: uncertainty.decisionRequestId,
    mode,
    ...fields,
  });
  await ctx.db.patch("uncertainties", uncertainty._id, {
    status: mode,
    ...(mode === "assumed" ? { assumedValue: fields.value } : {}),
  });
  return resolutionId;
}

export type AnswerResult = {
  resolutionId: Id<"resolutions">;
  applyJobId: Id<"jobs">;
  /** True when the decision already had this answer: nothing was recorded or enqueued again. */
  alreadyAnswered: boolean;
};

/**
 * Answers an open decision: records the resolution and enqueues its one `apply_decision` job
 * (the job's idempotency key is derived from the decision id, so no path can make two). The
 * same answer again is a no-op that returns the first result; another answer once the decision
 * is answered, applied or dismissed is INVALID_DECISION_STATE.
 */
export async function answerDecision(
  ctx: MutationCtx,
  decision: Doc<"decisionRequests">,
  fields: ResolutionFields,
): Promise<AnswerResult> {
  if (decision.status === "answered" || decision.status === "applied") {
    if (decision.answer === fields.value && decision.resolutionId && decision.applyJobId) {
      return { resolutionId: decision.resolutionId, applyJobId: decision.applyJobId, alreadyAnswered: true };
    }
    throw apiError("INVALID_DECISION_STATE", `This decision request was already answered (${decision.status}).`);
  }
  if (decision.status !== "open") {
    throw apiError("INVALID_DECISION_STATE", `This decision request is ${decision.status}.`);
  }
  const uncertainty = (await ctx.db.get("uncertainties", decision.uncertaintyId))!;
  const run = (await ctx.db.get("runs", decision.runId))!;
  const resolutionId = await recordResolution(ctx, uncertainty, "answered", fields);
  const { jobId } = await enqueueJob(ctx, {
    workspaceId: decision.workspaceId,
    repoId: run.repoId,
    runId: run._id,
    kind: "apply_decision",
    prompt: applyDecisionPrompt(decision, run, fields),
    idempotencyKey: applyDecisionJobKey(decision._id),
  });
  await ctx.db.patch("decisionRequests", decision._id, {
    status: "answered",
    inboxRank: inboxRank("answered", decision.tier),
    resolutionId,
    answer: fields.value,
    answerNote: fields.note,
    answeredAt: Date.now(),
    answeredBy: fields.createdByUserId,
    applyJobId: jobId,
  });
  return { resolutionId, applyJobId: jobId, alreadyAnswered: false };
}

/** What the worker applying a decision is told: the question, the answer and the note. */
function applyDecisionPrompt(decision: Doc<"decisionRequests">, run: Doc<"runs">, fields: ResolutionFields) {
  return [
    `Apply the answer to decision request ${decision._id} of run ${run.runRef}.`,
    `Question: ${decision.prompt}`,
    `Answer: ${fields.value}`,
    ...(fields.note ? [`Note: ${fields.note}`] : []),
  ].join("\n");
}

/** Dismisses an open decision; dismissing it again returns the first resolution. */
export async function dismissDecision(
  ctx: MutationCtx,
  decision: Doc<"decisionRequests">,
  fields: ResolutionFields,
): Promise<Id<"resolutions">> {
  if (decision.status === "dismissed" && decision.resolutionId) return decision.resolutionId;
  if (decision.status !== "open") {
    throw apiError("INVALID_DECISION_STATE", `This decision request is already ${decision.status}.`);
  }
  const uncertainty = (await ctx.db.get("uncertainties", decision.uncertaintyId))!;
  const resolutionId = await recordResolution(ctx, uncertainty, "dismissed", fields);
  await ctx.db.patch("decisionRequests", decision._id, {
    status: "dismissed",
    inboxRank: inboxRank("dismissed", decision.tier),
    resolutionId,
    dismissedAt: Date.now(),
    dismissedBy: fields.createdByUserId,
  });
  await unblockRunsBlockedBy(ctx, decision._id);
  return resolutionId;
}

/**
 * A job reaction (jobReactions.ts), run in the transaction that finishes a job:
 * - an `apply_decision` job done marks its decision `applied` and unblocks the runs it blocked;
 * - an outcome `blocked` whose `evidence.decisionRequestId` names a decision of the job's
 *   workspace that is still open or answered marks the run (the job's, else the decision's)
 *   blocked by that decision.
 */
export const onJobFinished = internalMutation({
  args: jobMovedArgs,
  returns: v.null(),
  handler: async (ctx, { job }): Promise<null> => {
    await applyOrBlockOnFinishedJob(ctx, job);
    return null;
  },
});

async function applyOrBlockOnFinishedJob(ctx: MutationCtx, job: Doc<"jobs">): Promise<void> {
  if (job.kind === "apply_decision" && job.status === "done") {
    const decision = await ctx.db
      .query("decisionRequests")
      .withIndex("by_apply_job", (q) => q.eq("applyJobId", job._id))
      .unique();
    if (decision === null || decision.status !== "answered") return;
    await ctx.db.patch("decisionRequests", decision._id, {
      status: "applied",
      inboxRank: inboxRank("applied", decision.tier),
      appliedAt: Date.now(),
    });
    await unblockRunsBlockedBy(ctx, decision._id);
    return;
  }
  if (job.status === "blocked") {
    const raw = (job.evidence as { decisionRequestId?: unknown } | undefined)?.decisionRequestId;
    const decisionId =
      typeof raw === "string" ? ctx.db.normalizeId("decisionRequests", raw.replace(/^decisionRequests\//, "")) : null;
    const decision = decisionId === null ? null : await ctx.db.get("decisionRequests", decisionId);
    // Only a decision still waiting can block: nothing would ever unblock a dismissed or applied one.
    if (decision === null || decision.workspaceId !== job.workspaceId) return;
    if (decision.status !== "open" && decision.status !== "answered") return;
    await markRunBlocked(ctx, job.runId ?? decision.runId, decision._id);
  }
}
