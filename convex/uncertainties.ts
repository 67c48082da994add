/**
 * Uncertainties agents raise while working (SPEC §7). Owns `uncertainties`. Internal functions
 * serve `/v1/uncertainties/create-with-auto-promotion` and `/v1/uncertainties/add-resolution`;
 * promotion follows model/promotion.ts, decisions and resolutions live in decisions.ts.
 */
import type { Doc, Id } from "./_generated/dataModel";
import type { z } from "zod";
import type { MutationCtx, QueryCtx } from "./_generated/server";
import { requireId } from "./access";
import { requestArgs } from "./api/convexArgs";
import { addResolutionRequest, createUncertaintyRequest } from "./api/requests/uncertainties";
import { workspaceInternalMutation } from "./functions";
import { answerDecision, dismissDecision, openDecisionRequest, recordResolution } from "./decisions";
import { requireJob } from "./jobState";
import { apiError } from "./model/errors";
import { DEFAULT_AUTO_PROMOTE_THRESHOLD, promotionOf } from "./model/promotion";
import { requireRun } from "./runs";

async function requireUncertainty(ctx: QueryCtx, workspaceId: Id<"workspaces">, raw: string) {
  const uncertainty = await ctx.db.get("uncertainties", requireId(ctx, "uncertainties", raw, "uncertaintyId"));
  if (uncertainty === null || uncertainty.workspaceId !== workspaceId) {
    throw apiError("UNCERTAINTY_NOT_FOUND", "No uncertainty with this id in this workspace.");
  }
  return uncertainty;
}

/** What an idempotent create compares: the stored fields a repeat must match exactly. */
function createPayload(fields: Partial<Doc<"uncertainties">>): string {
  const { runId, jobId, prompt, kind, context, confidence, impact, reversibility } = fields;
  const { assumedValue, assumedReasoning, options, autoPromoteThreshold } = fields;
  return JSON.stringify([
    runId,
    jobId,
    prompt,
    kind,
    context,
    confidence,
    impact,
    reversibility,
    assumedValue,
    assumedReasoning,
    options,
    autoPromoteThreshold,
  ]);
}

/** The answer create-with-auto-promotion gives for a stored uncertainty (first call or repeat). */
async function createAnswer(ctx: QueryCtx, uncertainty: Doc<"uncertainties">) {
  const decision = uncertainty.decisionRequestId
    ? await ctx.db.get("decisionRequests", uncertainty.decisionRequestId)
    : null;
  return {
    uncertaintyId: uncertainty._id,
    decisionRequestId: decision?._id ?? null,
    promoted: decision !== null,
    tier: decision?.tier ?? null,
  };
}

/**
 * `POST /v1/uncertainties/create-with-auto-promotion`. A promoted uncertainty opens a decision
 * request in the Inbox; any other is recorded as `assumed`. A repeated `idempotencyKey` (per
 * workspace) returns the first answer; the same key with a different body is IDEMPOTENCY_KEY_REUSED.
 */
export const createWithAutoPromotion = workspaceInternalMutation({
  minRole: "member",
  args: requestArgs(createUncertaintyRequest),
  handler: async (ctx, { runId: rawRunId, jobId: rawJobId, ...rest }) => {
    const { workspaceId } = ctx.access;
    const run = await requireRun(ctx, workspaceId, rawRunId);
    const jobId = rawJobId === undefined ? undefined : (await requireJob(ctx, workspaceId, rawJobId))._id;
    return await createUncertainty(ctx, run, jobId, rest);
  },
});

type UncertaintyFields = Omit<z.output<typeof createUncertaintyRequest>, "workspaceId" | "runId" | "jobId">;

/**
 * Records an uncertainty of `run` (raised by `jobId`, when known) and opens its decision request
 * when promoted; a repeated `idempotencyKey` answers the first. Also serves a job token's
 * `/v1/job/uncertainties/create` (jobToken.ts).
 */
export async function createUncertainty(
  ctx: MutationCtx,
  run: Doc<"runs">,
  jobId: Id<"jobs"> | undefined,
  rest: UncertaintyFields,
) {
  const workspaceId = run.workspaceId;
  const fields = {
    ...rest,
    workspaceId,
    runId: run._id,
    jobId,
    autoPromoteThreshold: rest.autoPromoteThreshold ?? DEFAULT_AUTO_PROMOTE_THRESHOLD,
  };

  if (fields.idempotencyKey !== undefined) {
    const first = await ctx.db
      .query("uncertainties")
      .withIndex("by_workspace_idempotency_key", (q) =>
        q.eq("workspaceId", workspaceId).eq("idempotencyKey", fields.idempotencyKey),
      )
      .first();
    if (first !== null) {
      if (createPayload(first) !== createPayload(fields)) {
        throw apiError("IDEMPOTENCY_KEY_REUSED", "This idempotencyKey was used for a different uncertainty.");
      }
      return await createAnswer(ctx, first);
    }
  }

  const promotion = promotionOf(fields);
  const uncertaintyId = await ctx.db.insert("uncertainties", {
    ...fields,
    status: promotion.promoted ? "open" : "assumed",
  });
  if (promotion.promoted)
    await openDecisionRequest(ctx, (await ctx.db.get("uncertainties", uncertaintyId))!, promotion.tier);
  return await createAnswer(ctx, (await ctx.db.get("uncertainties", uncertaintyId))!);
}

/**
 * `POST /v1/uncertainties/add-resolution`. Every call appends a resolution, except that
 * answering or dismissing a promoted uncertainty goes through its decision request, which
 * enqueues the one `apply_decision` job and answers a repeat with the first resolution.
 * `assumed` leaves an open decision request open: the agent goes on, a person may still answer.
 */
export const addResolution = workspaceInternalMutation({
  minRole: "member",
  args: requestArgs(addResolutionRequest),
  handler: async (ctx, { uncertaintyId, mode, createdByJobId, ...rest }) => {
    const { workspaceId } = ctx.access;
    const uncertainty = await requireUncertainty(ctx, workspaceId, uncertaintyId);
    const fields = {
      ...rest,
      createdByJobId:
        createdByJobId === undefined ? undefined : (await requireJob(ctx, workspaceId, createdByJobId))._id,
    };
    const decision = uncertainty.decisionRequestId
      ? await ctx.db.get("decisionRequests", uncertainty.decisionRequestId)
      : null;
    if (decision !== null && mode === "answered") {
      return { resolutionId: (await answerDecision(ctx, decision, fields)).resolutionId };
    }
    if (decision !== null && mode === "dismissed") {
      return { resolutionId: await dismissDecision(ctx, decision, fields) };
    }
    return { resolutionId: await recordResolution(ctx, uncertainty, mode, fields) };
  },
});
