/**
 * The fields of the `/v1/job/*` routes a job's command calls with its job token, declared once:
 * routes/jobToken.ts validates with them, jobToken.ts derives its `args` from them. No body
 * names a workspace, job, worker or run: the token says which job, and the job which run.
 */
import { z } from "zod";
import { MAX_REASON_TEXT_CHARS } from "../../model/outcomeReasons";
import { enqueueFields } from "../jobSchemas";
import { idOf, storable } from "../schemas";
import { logFields, withLogChecks } from "./jobs";
import { createUncertaintyRequest } from "./uncertainties";

/** Reported evidence is laid over the worker's at completion; kept well inside the job's document. */
export const MAX_REPORTED_EVIDENCE_BYTES = 65_536;

export const jobLogRequest = withLogChecks(z.object(logFields));

export const jobReportRequest = z
  .object({
    outcome: z
      .literal("blocked")
      .optional()
      .meta({ description: "The outcome the job asks for; `blocked` wins over the worker's `done` or `failed`." }),
    reason: z.string().trim().min(1).max(MAX_REASON_TEXT_CHARS).optional().meta({
      description: "Why the job is blocked (with `outcome: blocked`): the job's message and reason summary.",
    }),
    evidence: storable(z.record(z.string(), z.unknown()), MAX_REPORTED_EVIDENCE_BYTES).optional().meta({
      description: "Merged key by key into what this claim reported before, then over the worker's evidence.",
    }),
  })
  .refine((body) => (body.outcome === undefined) === (body.reason === undefined), {
    path: ["reason"],
    message: "must be given with outcome: blocked, and only then",
  })
  .refine((body) => body.outcome !== undefined || body.evidence !== undefined, {
    path: ["outcome"],
    message: "report an outcome, evidence or both",
  });

export const jobUncertaintyRequest = createUncertaintyRequest.omit({ workspaceId: true, runId: true, jobId: true });

export const jobMilestoneRequest = z.object({
  milestone: z.string().min(1).max(200).meta({ description: "The run's `currentMilestone` from now on." }),
});

/** Maximum children one claim may propose (as complete-and-enqueue-children takes at once). */
export const MAX_PROPOSED_CHILDREN = 100;

export const proposedChildSchema = enqueueFields.extend({
  repoId: idOf("repos").optional().meta({ description: "Default: the job's repo." }),
  runId: idOf("runs").optional().meta({ description: "Default: the job's run." }),
});

export const jobChildrenRequest = z.object({
  children: z.array(proposedChildSchema).min(1).max(MAX_PROPOSED_CHILDREN),
});
