/**
 * The routes a job's command calls with its job token (`IAS_JOB_TOKEN`, `auth: "job"`): the only
 * routes a job token may call, and only a job token may call them. Handlers live in
 * convex/jobToken.ts; what they store waits for the worker's completion (convex/jobReports.ts).
 */
import { z } from "zod";
import { internal } from "../../_generated/api";
import {
  jobChildrenRequest,
  jobLogRequest,
  jobMilestoneRequest,
  jobReportRequest,
  jobUncertaintyRequest,
} from "../requests/jobToken";
import { defineRoute, type Route } from "../route";
import { CP, idField } from "../schemas";
import { uncertaintyCreatedSchema } from "./uncertainties";

const tag = "job";

export const jobTokenRoutes: Route[] = [
  defineRoute({
    method: "POST",
    path: `${CP}/v1/job/log`,
    auth: "job",
    cors: false,
    tag,
    summary: "Append the command's own lines to its job's timeline (as `/v1/jobs/log`, the job named by the token).",
    request: jobLogRequest,
    response: z.object({ appended: z.number().int() }),
    handler: (ctx, { caller, body }) => ctx.runMutation(internal.jobToken.appendLog, { caller, ...body }),
  }),
  defineRoute({
    method: "POST",
    path: `${CP}/v1/job/report`,
    auth: "job",
    cors: false,
    tag,
    summary: "Report the outcome the job asks for (`blocked` with a reason) and evidence; merged into its completion.",
    description:
      "When the worker completes the job, a reported `blocked` wins over its `done` or `failed` (not over " +
      "`canceled`): the job ends `blocked` with the reason as its message and the outcomeReason " +
      "`{version: 1, category: blocked, code: blocked_by_job}`. Reported evidence is merged key by key over " +
      "the worker's. Repeating a report replaces the reason and adds to the evidence.",
    request: jobReportRequest,
    response: z.object({
      outcome: z.literal("blocked").nullable(),
      reason: z.string().nullable(),
      evidence: z.record(z.string(), z.unknown()),
    }),
    handler: (ctx, { caller, body }) => ctx.runMutation(internal.jobToken.report, { caller, ...body }),
  }),
  defineRoute({
    method: "POST",
    path: `${CP}/v1/job/uncertainties/create`,
    auth: "job",
    cors: false,
    tag,
    summary: "Record an uncertainty of the job's run, raised by the job; promoted to the Inbox by the usual rule.",
    description:
      "As `/v1/uncertainties/create-with-auto-promotion` with `runId` and `jobId` taken from the token's job. " +
      "A promoted uncertainty's decision request becomes the job's `decisionRequestId` evidence (unless one was " +
      "reported), so a job that then ends `blocked` blocks its run on that decision.",
    request: jobUncertaintyRequest,
    response: uncertaintyCreatedSchema,
    errors: ["RUN_NOT_FOUND", "IDEMPOTENCY_KEY_REUSED"],
    handler: (ctx, { caller, body }) => ctx.runMutation(internal.jobToken.createRunUncertainty, { caller, ...body }),
  }),
  defineRoute({
    method: "POST",
    path: `${CP}/v1/job/milestone`,
    auth: "job",
    cors: false,
    tag,
    summary: "Set the `currentMilestone` of the job's run (recorded in its milestone history).",
    request: jobMilestoneRequest,
    response: z.object({ runId: idField("runs") }),
    errors: ["RUN_NOT_FOUND"],
    handler: (ctx, { caller, body }) => ctx.runMutation(internal.jobToken.setMilestone, { caller, ...body }),
  }),
  defineRoute({
    method: "POST",
    path: `${CP}/v1/job/children`,
    auth: "job",
    cors: false,
    tag,
    summary:
      "Propose follow-up jobs, enqueued in the transaction of the job's completion when it ends done or blocked.",
    description:
      "Each child is an enqueue body; `repoId` and `runId` default to the job's. Repo and run are checked now. " +
      "At most 100 per claim; `proposed` counts them. Their ids are in the completion's `result.spawnedJobIds`.",
    request: jobChildrenRequest,
    response: z.object({ proposed: z.number().int() }),
    errors: ["REPO_NOT_FOUND", "RUN_NOT_FOUND"],
    handler: (ctx, { caller, body }) => ctx.runMutation(internal.jobToken.proposeChildren, { caller, ...body }),
  }),
];
