/**
 * Job queue routes: /v1/jobs/*, /v1/cloud-ai-jobs/* and /v1/job-events/list-for-job.
 * Handlers live in convex/jobs.ts (enqueue, list, get, cancel, retry, a job's events) and
 * convex/leases.ts (claim, heartbeat, log, complete).
 */
import { z } from "zod";
import { internal } from "../../_generated/api";
import { unlessRefused } from "../../model/errors";
import { JOB_STATUSES, type Lane } from "../../model/jobs";
import { NO_CLAIM_REASONS } from "../../model/leases";
import { jobEventSchema, jobSchema } from "../jobSchemas";
import {
  cancelRequest,
  claimNextRequest,
  completeAndEnqueueChildrenRequest,
  completeRequest,
  enqueueRequest,
  heartbeatRequest,
  jobEventsRequest,
  jobRequest,
  listJobsRequest,
  logRequest,
} from "../requests/jobs";
import { defineRoute, type Route } from "../route";
import { CP, idField } from "../schemas";

const LEASE_ERRORS = ["WORKSPACE_NOT_FOUND", "JOB_NOT_FOUND", "LEASE_MISMATCH", "CLAIM_GENERATION_MISMATCH"] as const;

const completionResult = z.object({
  jobId: idField("jobs"),
  status: z.enum(JOB_STATUSES),
  idempotent: z.boolean().meta({ description: "True when this repeats a completion already recorded." }),
});

/** claim-next, heartbeat and complete of one lane, under `/v1/<group>/`. */
function leaseRoutes(group: "jobs" | "cloud-ai-jobs", lane: Lane): Route[] {
  // The cloud AI routes only touch cloud AI jobs; the job routes accept a job of either lane by id.
  const onlyLane = group === "cloud-ai-jobs" ? lane : undefined;
  const tag = group;
  return [
    defineRoute({
      method: "POST",
      path: `${CP}/v1/${group}/claim-next`,
      auth: "bearer",
      cors: false,
      tag,
      summary: `Claim the next ${lane === "worker" ? "" : "cloud AI "}job this worker may take: lowest priority, then oldest.`,
      description:
        "When nothing is handed out, `jobId` and `job` are null and `reason` is WORKER_NOT_ONLINE, NO_REPOS_ALLOWED or NO_JOBS.",
      request: claimNextRequest,
      response: z.object({
        jobId: idField("jobs").nullable(),
        job: jobSchema.nullable(),
        claimGeneration: z.number().optional(),
        leaseExpiresAt: z.number().optional(),
        jobToken: z.string().optional().meta({
          description:
            "For the job's command only (IAS_JOB_TOKEN): the /v1/job/* routes for this job while this claim runs.",
        }),
        reason: z.enum(NO_CLAIM_REASONS).optional(),
      }),
      errors: ["WORKSPACE_NOT_FOUND", "WORKER_NOT_FOUND"],
      handler: (ctx, { caller, body }) => ctx.runMutation(internal.leases.claimNext, { caller, ...body, lane }),
    }),
    defineRoute({
      method: "POST",
      path: `${CP}/v1/${group}/heartbeat`,
      auth: "bearer",
      cors: false,
      tag,
      summary: "Extend the lease of a running job; says whether a cancel was requested.",
      request: heartbeatRequest,
      response: z.object({ leaseExpiresAt: z.number(), cancelRequested: z.boolean() }),
      errors: [...LEASE_ERRORS],
      handler: (ctx, { caller, body }) =>
        unlessRefused(ctx.runMutation(internal.leases.extendLeaseIfHeld, { caller, ...body, lane: onlyLane })),
    }),
    defineRoute({
      method: "POST",
      path: `${CP}/v1/${group}/complete`,
      auth: "bearer",
      cors: false,
      tag,
      summary: "Finish a running job with its outcome. Repeating the same completion is safe (`idempotent: true`).",
      request: completeRequest,
      response: z.object({
        result: completionResult.extend({
          spawnedJobIds: z
            .array(idField("jobs"))
            .optional()
            .meta({ description: "Children the job's command proposed (/v1/job/children), when there were any." }),
        }),
      }),
      errors: [...LEASE_ERRORS, "RUN_NOT_FOUND"],
      handler: (ctx, { caller, body }) =>
        unlessRefused(ctx.runMutation(internal.leases.complete, { caller, ...body, lane: onlyLane })),
    }),
  ];
}

export const jobRoutes: Route[] = [
  defineRoute({
    method: "POST",
    path: `${CP}/v1/jobs/list`,
    auth: "bearer",
    cors: true,
    tag: "jobs",
    summary: "Jobs of the workspace, newest first, optionally filtered by status, repo and run.",
    request: listJobsRequest,
    response: z.object({ jobs: z.array(jobSchema), nextCursor: z.string().nullable() }),
    errors: ["WORKSPACE_NOT_FOUND"],
    handler: (ctx, { caller, body }) => ctx.runQuery(internal.jobs.list, { caller, ...body }),
  }),
  defineRoute({
    method: "POST",
    path: `${CP}/v1/jobs/get`,
    auth: "bearer",
    cors: true,
    tag: "jobs",
    summary: "One job by id.",
    request: jobRequest,
    response: z.object({ job: jobSchema }),
    errors: ["WORKSPACE_NOT_FOUND", "JOB_NOT_FOUND"],
    handler: (ctx, { caller, body }) => ctx.runQuery(internal.jobs.get, { caller, ...body }),
  }),
  defineRoute({
    method: "POST",
    path: `${CP}/v1/jobs/enqueue`,
    auth: "bearer",
    cors: true,
    tag: "jobs",
    summary: "Add a job to the queue. A repeated `idempotencyKey` returns the first job (`deduplicated: true`).",
    request: enqueueRequest,
    response: z.object({ jobId: idField("jobs"), deduplicated: z.boolean() }),
    errors: ["WORKSPACE_NOT_FOUND", "REPO_NOT_FOUND", "RUN_NOT_FOUND", "IDEMPOTENCY_KEY_REUSED"],
    handler: (ctx, { caller, body }) => ctx.runMutation(internal.jobs.enqueue, { caller, ...body }),
  }),
  ...leaseRoutes("jobs", "worker"),
  defineRoute({
    method: "POST",
    path: `${CP}/v1/jobs/log`,
    auth: "bearer",
    cors: false,
    tag: "jobs",
    summary:
      "Append log lines to a running job's timeline (one `log` event); `droppedLines` first records a `log_gap` event.",
    request: logRequest,
    response: z.object({ appended: z.number().int() }),
    errors: [...LEASE_ERRORS],
    handler: (ctx, { caller, body }) =>
      unlessRefused(ctx.runMutation(internal.leases.appendLogIfLeaseHeld, { caller, ...body })),
  }),
  defineRoute({
    method: "POST",
    path: `${CP}/v1/jobs/complete-and-enqueue-children`,
    auth: "bearer",
    cors: false,
    tag: "jobs",
    summary:
      "Complete a job and enqueue its follow-up jobs in one transaction; repeats with the same key are answered once.",
    request: completeAndEnqueueChildrenRequest,
    response: z.object({ result: completionResult.extend({ spawnedJobIds: z.array(idField("jobs")) }) }),
    errors: [...LEASE_ERRORS, "RUN_NOT_FOUND", "REPO_NOT_FOUND", "IDEMPOTENCY_KEY_REUSED"],
    handler: (ctx, { caller, body }) =>
      unlessRefused(ctx.runMutation(internal.leases.completeAndEnqueueChildren, { caller, ...body })),
  }),
  defineRoute({
    method: "POST",
    path: `${CP}/v1/jobs/cancel`,
    auth: "bearer",
    cors: true,
    tag: "jobs",
    summary: "Cancel a pending job now, or ask the worker of a running job to stop (`cancelRequested`).",
    request: cancelRequest,
    response: z.object({ job: jobSchema }),
    errors: ["WORKSPACE_NOT_FOUND", "JOB_NOT_FOUND", "INVALID_JOB_STATE"],
    handler: (ctx, { caller, body }) => ctx.runMutation(internal.jobs.cancel, { caller, ...body }),
  }),
  defineRoute({
    method: "POST",
    path: `${CP}/v1/jobs/retry`,
    auth: "bearer",
    cors: true,
    tag: "jobs",
    summary: "Put a failed, blocked or canceled job back in the queue with one more attempt allowed.",
    request: jobRequest,
    response: z.object({ job: jobSchema }),
    errors: ["WORKSPACE_NOT_FOUND", "JOB_NOT_FOUND", "INVALID_JOB_STATE"],
    handler: (ctx, { caller, body }) => ctx.runMutation(internal.jobs.retry, { caller, ...body }),
  }),
  ...leaseRoutes("cloud-ai-jobs", "cloud_ai"),
  defineRoute({
    method: "POST",
    path: `${CP}/v1/job-events/list-for-job`,
    auth: "bearer",
    cors: true,
    tag: "job-events",
    summary: "A job's timeline, oldest first; page with `afterSeq` (the last `seq` seen).",
    request: jobEventsRequest,
    response: z.object({ events: z.array(jobEventSchema) }),
    errors: ["WORKSPACE_NOT_FOUND", "JOB_NOT_FOUND"],
    handler: (ctx, { caller, body }) => ctx.runQuery(internal.jobs.events, { caller, ...body }),
  }),
];
