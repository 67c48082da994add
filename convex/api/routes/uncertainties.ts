/** Uncertainty routes: how agents ask people. Handlers live in convex/uncertainties.ts. */
import { z } from "zod";
import { internal } from "../../_generated/api";
import { TIERS } from "../../model/promotion";
import { addResolutionRequest, createUncertaintyRequest } from "../requests/uncertainties";
import { defineRoute, type Route } from "../route";
import { CP, idField } from "../schemas";

/** What creating an uncertainty answers (here and on a job token's `/v1/job/uncertainties/create`). */
export const uncertaintyCreatedSchema = z.object({
  uncertaintyId: idField("uncertainties"),
  decisionRequestId: idField("decisionRequests").nullable(),
  promoted: z.boolean(),
  tier: z.enum(TIERS).nullable(),
});

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
    request: createUncertaintyRequest,
    response: uncertaintyCreatedSchema,
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
    request: addResolutionRequest,
    response: z.object({ resolutionId: idField("resolutions") }),
    errors: ["WORKSPACE_NOT_FOUND", "UNCERTAINTY_NOT_FOUND", "JOB_NOT_FOUND", "INVALID_DECISION_STATE"],
    handler: (ctx, { caller, body }) => ctx.runMutation(internal.uncertainties.addResolution, { caller, ...body }),
  }),
];
