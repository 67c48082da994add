/** Uncertainty routes: how agents ask people. Handlers live in convex/uncertainties.ts. */
import { z } from "zod";
import { internal } from "../../_generated/api";
import { RESOLUTION_MODES } from "../../model/decisions";
import { IMPACTS, REVERSIBILITIES, TIERS, UNCERTAINTY_KINDS } from "../../model/promotion";
import { defineRoute, type Route } from "../route";
import { CP, idField, idOf } from "../schemas";

const fraction = z.number().min(0).max(1);

const option = z.union([
  z.string().min(1).max(1_000),
  z.object({
    value: z.string().min(1).max(1_000),
    label: z.string().max(200).optional(),
    description: z.string().max(2_000).optional(),
  }),
]);

export const uncertaintyRoutes: Route[] = [
  defineRoute({
    method: "POST",
    path: `${CP}/v1/uncertainties/create-with-auto-promotion`,
    auth: "bearer",
    cors: true,
    tag: "uncertainties",
    summary: "Record an uncertainty; promote it to an Inbox decision request when the rule says so.",
    description:
      "Promoted when `kind` is `approval`, or `confidence < autoPromoteThreshold` (default 0.8), or " +
      "`impact` is `high` and `reversibility` is `hard`. Tier: `blocker` (approval or high impact), " +
      "`checkpoint` (medium), `audit` (low). Otherwise recorded as `assumed`. A repeated " +
      "`idempotencyKey` returns the first answer.",
    request: z.object({
      workspaceId: idOf("workspaces"),
      runId: idOf("runs"),
      jobId: idOf("jobs").optional(),
      prompt: z.string().min(1).max(8_000),
      kind: z.enum(UNCERTAINTY_KINDS),
      context: z.string().max(32_000).optional(),
      confidence: fraction,
      impact: z.enum(IMPACTS),
      reversibility: z.enum(REVERSIBILITIES),
      assumedValue: z.string().max(8_000).optional(),
      assumedReasoning: z.string().max(8_000).optional(),
      options: z.array(option).max(50).optional(),
      autoPromoteThreshold: fraction.optional(),
      idempotencyKey: z.string().min(1).max(200).optional(),
    }),
    response: z.object({
      uncertaintyId: idField("uncertainties"),
      decisionRequestId: idField("decisionRequests").nullable(),
      promoted: z.boolean(),
      tier: z.enum(TIERS).nullable(),
    }),
    errors: ["WORKSPACE_NOT_FOUND", "RUN_NOT_FOUND", "JOB_NOT_FOUND", "IDEMPOTENCY_KEY_REUSED"],
    handler: (ctx, { caller, body }) =>
      ctx.runMutation(internal.uncertainties.createWithAutoPromotion, { caller, ...body }),
  }),
  defineRoute({
    method: "POST",
    path: `${CP}/v1/uncertainties/add-resolution`,
    auth: "bearer",
    cors: true,
    tag: "uncertainties",
    summary: "Resolve an uncertainty: `answered`, `assumed` or `dismissed`.",
    description:
      "`answered` on a promoted uncertainty answers its decision request and enqueues one " +
      "`apply_decision` job for the run's repo; repeating the same answer returns the first " +
      "`resolutionId`. `dismissed` dismisses an open decision request.",
    request: z.object({
      workspaceId: idOf("workspaces"),
      uncertaintyId: idOf("uncertainties"),
      mode: z.enum(RESOLUTION_MODES),
      value: z.string().max(8_000),
      commitSha: z.string().min(1).max(100).optional(),
      confidence: fraction.optional(),
      createdByJobId: idOf("jobs").optional(),
    }),
    response: z.object({ resolutionId: idField("resolutions") }),
    errors: ["WORKSPACE_NOT_FOUND", "UNCERTAINTY_NOT_FOUND", "JOB_NOT_FOUND", "INVALID_DECISION_STATE"],
    handler: (ctx, { caller, body }) => ctx.runMutation(internal.uncertainties.addResolution, { caller, ...body }),
  }),
];
