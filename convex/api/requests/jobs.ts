/**
 * The fields of the job queue's routes (/v1/jobs/*, /v1/cloud-ai-jobs/*, /v1/job-events/*): the
 * one declaration of each. The route table (routes/jobs.ts) validates bodies with these, and the
 * internal functions the routes call (jobs.ts, leases.ts) derive their `args` from them
 * (`requestArgs`, api/convexArgs.ts).
 */
import { z } from "zod";
import {
  MAX_LOG_BYTES,
  MAX_LOG_LINES,
  JOB_KINDS,
  JOB_OUTCOMES,
  JOB_STATUS_FILTERS,
  jobStatusValidator,
  statusOfFilter,
  utf8Bytes,
} from "../../model/jobs";
import { reasonMismatch } from "../../model/outcomeReasons";
import { convexOutput } from "../convexArgs";
import { enqueueFields, leaseMsSchema, outcomeReasonSchema, timeSchema } from "../jobSchemas";
import { idOf, storableJsonObject } from "../schemas";

const jobOfWorkspace = { workspaceId: idOf("workspaces"), jobId: idOf("jobs") };

export const listJobsRequest = z.object({
  workspaceId: idOf("workspaces"),
  status: convexOutput(z.enum(JOB_STATUS_FILTERS).transform(statusOfFilter), jobStatusValidator)
    .optional()
    .meta({ description: "`claimed` is accepted as the older name of `running`." }),
  repoId: idOf("repos").optional(),
  runId: idOf("runs").optional(),
  kind: z.enum(JOB_KINDS).optional(),
  workerId: idOf("workers").optional().meta({ description: "Jobs this worker claimed (their latest claim)." }),
  createdAfter: timeSchema
    .optional()
    .meta({ description: "Jobs created after this time (exclusive; ms since epoch or ISO 8601)." }),
  createdBefore: timeSchema
    .optional()
    .meta({ description: "Jobs created before this time (exclusive; ms since epoch or ISO 8601)." }),
  limit: z.number().int().min(1).max(200).default(50),
  cursor: z.string().min(1).max(10_000).optional().meta({ description: "`nextCursor` of the previous page." }),
});

/** get and retry: a job by id. */
export const jobRequest = z.object(jobOfWorkspace);

export const enqueueRequest = z.object({ workspaceId: idOf("workspaces"), ...enqueueFields.shape });

export const cancelRequest = z.object({ ...jobOfWorkspace, reason: z.string().max(1_000).optional() });

export const jobEventsRequest = z.object({
  ...jobOfWorkspace,
  limit: z.number().int().min(1).max(500).default(50),
  afterSeq: z.number().int().nonnegative().optional(),
});

export const claimNextRequest = z.object({
  workspaceId: idOf("workspaces"),
  workerId: idOf("workers"),
  leaseMs: leaseMsSchema,
});

/** The fields that identify a worker's claim on a job (heartbeat, log, complete). */
const claimFields = {
  workspaceId: idOf("workspaces"),
  jobId: idOf("jobs"),
  workerId: idOf("workers"),
  claimGeneration: z.number().int().nonnegative().optional(),
};

const completeFields = {
  ...claimFields,
  outcome: z.enum(JOB_OUTCOMES),
  runId: idOf("runs").optional(),
  message: z.string().max(16_000).optional(),
  outcomeReason: outcomeReasonSchema.optional(),
  evidence: storableJsonObject.optional(),
};

export const heartbeatRequest = z.object({
  ...claimFields,
  leaseMs: leaseMsSchema,
  message: z.string().max(4_000).optional(),
});

/** A v1 `outcomeReason` must name the outcome it explains (SPEC §12); checked before the call reaches the queue. */
function requireReasonOfOutcome(body: z.output<z.ZodObject<typeof completeFields>>, ctx: z.RefinementCtx) {
  const mismatch = reasonMismatch(body.outcome, body.outcomeReason);
  if (mismatch !== null) ctx.addIssue({ code: "custom", path: ["outcomeReason", "category"], message: mismatch });
}

export const completeRequest = z.object(completeFields).superRefine(requireReasonOfOutcome);

export const completeAndEnqueueChildrenRequest = z
  .object({
    ...completeFields,
    idempotencyKey: z.string().min(1).max(200),
    children: z.array(enqueueFields).max(100),
  })
  .superRefine(requireReasonOfOutcome);

const logLinesSchema = z
  .array(z.string())
  .max(MAX_LOG_LINES)
  .refine(
    (lines) => lines.reduce((sum, line) => sum + utf8Bytes(line), 0) <= MAX_LOG_BYTES,
    `must total at most ${MAX_LOG_BYTES} bytes`,
  );

/**
 * The lines of `/v1/jobs/log` (and of a job token's `/v1/job/log`). Optional and backward
 * compatible: `lineTimes` (when each line was printed, for lines sent late after an outage) and
 * `droppedLines` (lines the worker dropped before these: a `log_gap` event).
 */
export const logFields = {
  lines: logLinesSchema.meta({
    description: "Output lines, oldest first; at least one unless `droppedLines` is given.",
    examples: [["Compiling…"]],
  }),
  lineTimes: z
    .array(z.number().int().nonnegative())
    .max(MAX_LOG_LINES)
    .optional()
    .meta({ description: "When each line was printed (epoch ms), one per line." }),
  droppedLines: z
    .number()
    .int()
    .positive()
    .optional()
    .meta({ description: "Lines the worker dropped before these; appends a `log_gap` event first." }),
};

type LogBody = { lines: string[]; lineTimes?: number[]; droppedLines?: number };

/** `lines` may be empty only to report a gap; `lineTimes`, when sent, has one time per line. */
export function withLogChecks<T extends z.ZodType<LogBody>>(schema: T): T {
  return schema
    .refine((body: LogBody) => body.lines.length > 0 || body.droppedLines !== undefined, {
      path: ["lines"],
      message: "must hold at least one line (or droppedLines must be given)",
    })
    .refine((body: LogBody) => body.lineTimes === undefined || body.lineTimes.length === body.lines.length, {
      path: ["lineTimes"],
      message: "must have one time per line",
    });
}

export const logRequest = withLogChecks(z.object({ ...claimFields, ...logFields }));
