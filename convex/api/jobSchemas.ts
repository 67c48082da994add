/** Zod schemas of the job queue's routes (jobs, cloud AI jobs, job events, workers). */
import { z } from "zod";
import {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_PRIORITY,
  DEFAULT_ROLE,
  JOB_EVENT_TYPES,
  JOB_KINDS,
  JOB_OUTCOMES,
  JOB_STATUSES,
  LANES,
  MAX_LOG_BYTES,
  MAX_LOG_LINES,
  MAX_PROMPT_BYTES,
  SYSTEM_KEY_PREFIX,
  isSystemIdempotencyKey,
  utf8Bytes,
} from "../model/jobs";
import { DEFAULT_LEASE_MS, MAX_LEASE_MS, MIN_LEASE_MS } from "../model/leases";
import { idField, idOf, storableJsonObject } from "./schemas";

const shortText = (max: number) => z.string().min(1).max(max);

/** Only the SPEC's requirement keys; any other key is refused (unlike unknown body fields). */
export const requirementsSchema = z
  .strictObject({
    executionMode: shortText(100).optional(),
    model: shortText(200).optional(),
    canWrite: z.boolean().optional(),
    canUseNetwork: z.boolean().optional(),
    egressMode: shortText(100).optional(),
    runTests: z.boolean().optional(),
  })
  .meta({ description: "What a worker must offer to take the job (SPEC §6 Matching). Other keys are rejected." });

const stringList = (maxItems: number, maxLength = 200) => z.array(shortText(maxLength)).max(maxItems);

export const capabilitiesSchema = z
  .object({
    reposAllowed: z
      .array(idOf("repos"))
      .max(500)
      .optional()
      .meta({ description: "Repo ids this worker serves; entries that are not repos of the workspace are ignored." }),
    executionModes: stringList(50).optional(),
    models: stringList(100).optional(),
    canWrite: z.boolean().optional(),
    canUseNetwork: z.boolean().optional(),
    supportedEgressModes: stringList(50).optional(),
    supportsRunTests: z.boolean().optional(),
  })
  .meta({ description: "What the worker offers. Unknown fields are ignored." });

export const leaseMsSchema = z
  .number()
  .int()
  .nonnegative()
  .optional()
  .meta({
    description: `Lease length in ms; default ${DEFAULT_LEASE_MS}, clamped to [${MIN_LEASE_MS}, ${MAX_LEASE_MS}].`,
  });

export const promptSchema = z
  .string()
  .min(1)
  .refine((prompt) => utf8Bytes(prompt) <= MAX_PROMPT_BYTES, `must be at most ${MAX_PROMPT_BYTES} bytes`);

const clientIdempotencyKey = shortText(200).refine(
  (key) => !isSystemIdempotencyKey(key),
  `must not start with "${SYSTEM_KEY_PREFIX}" (reserved for jobs the system enqueues)`,
);

/** An enqueue body without `workspaceId` (also the shape of complete-and-enqueue-children's children). */
export const enqueueFields = z.object({
  repoId: idOf("repos"),
  kind: z.enum(JOB_KINDS),
  prompt: promptSchema,
  requirements: requirementsSchema.optional(),
  role: shortText(100)
    .optional()
    .meta({ description: `Default "${DEFAULT_ROLE}".` }),
  runId: idOf("runs").optional(),
  priority: z
    .number()
    .int()
    .min(-1_000_000)
    .max(1_000_000)
    .optional()
    .meta({ description: `Lower runs first; default ${DEFAULT_PRIORITY}.` }),
  maxAttempts: z
    .number()
    .int()
    .min(1)
    .max(100)
    .optional()
    .meta({ description: `Default ${DEFAULT_MAX_ATTEMPTS}.` }),
  idempotencyKey: clientIdempotencyKey.optional(),
  lane: z.enum(LANES).optional().meta({ description: 'Default "worker".' }),
});

/** A job as returned to workers and the Console. */
export const jobSchema = z
  .object({
    _id: idField("jobs"),
    _creationTime: z.number(),
    workspaceId: idField("workspaces"),
    repoId: idField("repos"),
    runId: idField("runs").optional(),
    parentJobId: idField("jobs").optional(),
    kind: z.enum(JOB_KINDS),
    role: z.string(),
    prompt: z.string(),
    requirements: requirementsSchema,
    priority: z.number(),
    lane: z.enum(LANES),
    status: z.enum(JOB_STATUSES),
    attempts: z.number(),
    maxAttempts: z.number(),
    claimGeneration: z.number(),
    claimedBy: idField("workers").optional(),
    claimedAt: z.number().optional(),
    leaseExpiresAt: z.number().optional(),
    cancelRequested: z.boolean(),
    outcome: z.enum(JOB_OUTCOMES).optional(),
    message: z.string().optional(),
    outcomeReason: z.string().optional(),
    evidence: z.unknown().optional(),
    idempotencyKey: z.string().optional(),
    spawnedJobIds: z.array(idField("jobs")).optional(),
    finishedAt: z.number().optional(),
    updatedAt: z.number(),
  })
  .meta({ description: "A job (SPEC §6)." });

export const jobEventSchema = z.object({
  seq: z.number().int(),
  type: z.enum(JOB_EVENT_TYPES),
  at: z.number(),
  message: z.string().optional(),
  data: z.unknown().optional(),
});

/** The fields that identify a worker's claim on a job (heartbeat, log, complete). */
export const claimFields = {
  workspaceId: idOf("workspaces"),
  jobId: idOf("jobs"),
  workerId: idOf("workers"),
  claimGeneration: z.number().int().nonnegative().optional(),
};

export const completeFields = {
  ...claimFields,
  outcome: z.enum(JOB_OUTCOMES),
  runId: idOf("runs").optional(),
  message: z.string().max(16_000).optional(),
  outcomeReason: z.string().max(1_000).optional(),
  evidence: storableJsonObject.optional(),
};

const logLinesSchema = z
  .array(z.string())
  .max(MAX_LOG_LINES)
  .refine(
    (lines) => lines.reduce((sum, line) => sum + utf8Bytes(line), 0) <= MAX_LOG_BYTES,
    `must total at most ${MAX_LOG_BYTES} bytes`,
  );

/**
 * `/v1/jobs/log`. Optional and backward compatible: `lineTimes` (when each line was printed, for
 * lines sent late after an outage) and `droppedLines` (lines the worker dropped before these:
 * a `log_gap` event). `lines` may be empty only to report a gap.
 */
export const logRequestFields = z
  .object({
    ...claimFields,
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
  })
  .refine((body) => body.lines.length > 0 || body.droppedLines !== undefined, {
    path: ["lines"],
    message: "must hold at least one line (or droppedLines must be given)",
  })
  .refine((body) => body.lineTimes === undefined || body.lineTimes.length === body.lines.length, {
    path: ["lineTimes"],
    message: "must have one time per line",
  });
