/**
 * The fields of the uncertainty routes, declared once: routes/uncertainties.ts validates with
 * them, uncertainties.ts derives its internal functions' `args` from them (api/convexArgs.ts).
 */
import { z } from "zod";
import { RESOLUTION_MODES } from "../../model/decisions";
import { IMPACTS, REVERSIBILITIES, UNCERTAINTY_KINDS } from "../../model/promotion";
import { idOf } from "../schemas";

const fraction = z.number().min(0).max(1);

const option = z.union([
  z.string().min(1).max(1_000),
  z.object({
    value: z.string().min(1).max(1_000),
    label: z.string().max(200).optional(),
    description: z.string().max(2_000).optional(),
  }),
]);

export const createUncertaintyRequest = z.object({
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
});

export const addResolutionRequest = z.object({
  workspaceId: idOf("workspaces"),
  uncertaintyId: idOf("uncertainties"),
  mode: z.enum(RESOLUTION_MODES),
  value: z.string().max(8_000),
  commitSha: z.string().min(1).max(100).optional(),
  confidence: fraction.optional(),
  createdByJobId: idOf("jobs").optional(),
});
