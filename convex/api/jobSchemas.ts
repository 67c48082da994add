/** Zod building blocks of the job queue's routes (jobs, cloud AI jobs, job events, workers): requests/jobs.ts assembles them. */
import { v } from "convex/values";
import { z } from "zod";
import {
  DEFAULT_CONCURRENCY_LIMIT,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_PRIORITY,
  DEFAULT_ROLE,
  JOB_EVENT_TYPES,
  JOB_KINDS,
  JOB_OUTCOMES,
  JOB_STATUSES,
  LANES,
  MAX_CONCURRENCY_KEY_CHARS,
  MAX_PROMPT_BYTES,
  MAX_WORKER_CONCURRENT_JOBS,
  SYSTEM_KEY_PREFIX,
  isSystemIdempotencyKey,
  utf8Bytes,
} from "../model/jobs";
import { DEFAULT_LEASE_MS, MAX_LEASE_MS, MIN_LEASE_MS } from "../model/leases";
import { requirementsProblem, unknownRequirementsMessage } from "../model/matching";
import { MAX_REASON_CODE_CHARS, MAX_REASON_DETAILS_BYTES, MAX_REASON_TEXT_CHARS } from "../model/outcomeReasons";
import {
  BACKOFFS,
  DEFAULT_INITIAL_DELAY_MS,
  DEFAULT_MAX_DELAY_MS,
  MAX_DELAY_MS,
  MAX_INITIAL_DELAY_MS,
  MAX_RETRY_DELAY_MS,
  MAX_TIMEOUT_MS,
  MIN_TIMEOUT_MS,
} from "../model/scheduling";
import { convexOutput } from "./convexArgs";
import { idField, idOf, storableJsonObject } from "./schemas";

const shortText = (max: number) => z.string().min(1).max(max);

const requirementFields = {
  executionMode: shortText(100).optional(),
  model: shortText(200).optional(),
  canWrite: z.boolean().optional(),
  writeRequired: z.boolean().optional().meta({ description: "The deployed runner's spelling of `canWrite`." }),
  canUseNetwork: z.boolean().optional(),
  networkRequired: z.boolean().optional().meta({ description: "The deployed runner's spelling of `canUseNetwork`." }),
  egressMode: shortText(100).optional(),
  runTests: z.boolean().optional(),
  modelPolicy: shortText(100).optional().meta({
    description: "For example `require_5_2`; matched against `capabilities.modelPolicies` when a worker lists them.",
  }),
};

/** Only the SPEC's requirement keys, in either spelling; any other key is refused (unlike unknown body fields). */
export const requirementsSchema = z
  .strictObject(requirementFields, {
    error: (issue) => (issue.code === "unrecognized_keys" ? unknownRequirementsMessage(issue.keys) : undefined),
  })
  .superRefine((requirements, ctx) => {
    // The same rules enqueueJob applies (spellings that disagree, values too long to index).
    const problem = requirementsProblem(requirements);
    if (problem !== null)
      ctx.addIssue({ code: "custom", path: problem.key ? [problem.key] : [], message: problem.message });
  })
  .meta({
    description:
      "What a worker must offer to take the job (SPEC §6 Matching). `writeRequired` ≡ `canWrite`, `networkRequired` ≡ `canUseNetwork`. Other keys are rejected.",
  });

/** Requirements as returned: canonical form with both spellings of each aliased key, same values. */
export const requirementsViewSchema = z.object(requirementFields).meta({
  description:
    "The job's requirements; `writeRequired`/`canWrite` and `networkRequired`/`canUseNetwork` carry the same value.",
});

const stringList = (maxItems: number, maxLength = 200) => z.array(shortText(maxLength)).max(maxItems);

export const capabilitiesSchema = z
  .looseObject({
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
    modelPolicies: stringList(50).optional().meta({
      description: "Model policies this worker enforces; absent: it is trusted to enforce any `modelPolicy`.",
    }),
    enforcedAllowlistHash: z.string().max(200).nullable().optional(),
    openaiAuthMode: z.string().max(200).optional(),
    maxConcurrentJobs: z
      .number()
      .int()
      .min(1)
      .max(MAX_WORKER_CONCURRENT_JOBS)
      .optional()
      .meta({
        description: `The most jobs this worker holds at once (1–${MAX_WORKER_CONCURRENT_JOBS}); absent: unlimited. claim-next answers \`WORKER_AT_CAPACITY\` when it holds that many.`,
      }),
  })
  .meta({
    description:
      "What the worker offers. Other keys with a string, number or boolean value are kept (at most 32, key and value at most 200 bytes, keys of printable ASCII not starting with `$` or `_`; the first 32 in sorted key order); the rest are dropped, never refused.",
  });

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

/** A time: ms since the epoch, or an ISO 8601 time with its offset (`Z`, `+02:00`); parsed to ms. */
const timeOf = (description: string) =>
  convexOutput(
    z
      .union([z.number().nonnegative(), z.iso.datetime({ offset: true })], {
        error: "must be ms since the epoch or an ISO 8601 time with an offset (Z, +02:00)",
      })
      .transform((time) => (typeof time === "number" ? time : Date.parse(time)))
      .meta({ description }),
    v.number(),
  );

export const timeSchema = timeOf("ms since epoch, or ISO 8601 with an offset.");

/** When a delayed job may first be claimed. */
const runAtSchema = timeOf(
  "Do not hand the job out before this time (ms since epoch or ISO 8601, at most 365 days ahead): it is `scheduled` until then. Not with `delayMs`.",
);

/** Claims a job may have (enqueue's `maxAttempts`, `retry.maxAttempts`). */
const attemptsSchema = z.number().int().min(1).max(100);

const retrySchema = z
  .object({
    maxAttempts: attemptsSchema
      .optional()
      .meta({ description: "Same as the job's `maxAttempts` (give one of them, or equal values)." }),
    backoff: z.enum(BACKOFFS),
    initialDelayMs: z
      .number()
      .int()
      .min(0)
      .max(MAX_INITIAL_DELAY_MS)
      .optional()
      .meta({ description: `Delay after the first failed attempt; default ${DEFAULT_INITIAL_DELAY_MS}.` }),
    maxDelayMs: z
      .number()
      .int()
      .min(0)
      .max(MAX_RETRY_DELAY_MS)
      .optional()
      .meta({ description: `Cap of every delay, also of \`recommendedDelayMs\`; default ${DEFAULT_MAX_DELAY_MS}.` }),
    jitter: z.boolean().optional().meta({ description: "Default true: each delay is drawn from [delay/2, delay]." }),
  })
  .meta({
    description:
      "Retry with back-off on a lost lease, on `failed` with `outcomeReason.retryable`, and on a timeout, while attempts remain: the job goes `scheduled` (event `retry_scheduled`). Without it a lost lease re-queues at once and `failed` is final.",
  });

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
  maxAttempts: attemptsSchema.optional().meta({ description: `Default ${DEFAULT_MAX_ATTEMPTS}.` }),
  idempotencyKey: clientIdempotencyKey.optional(),
  lane: z.enum(LANES).optional().meta({ description: 'Default "worker".' }),
  runAt: runAtSchema.optional(),
  delayMs: z
    .number()
    .int()
    .min(0)
    .max(MAX_DELAY_MS)
    .optional()
    .meta({ description: "Wait this long (≤ 365 days) before the job may be claimed; not with `runAt`." }),
  retry: retrySchema.optional(),
  timeoutMs: z.number().int().min(MIN_TIMEOUT_MS).max(MAX_TIMEOUT_MS).optional().meta({
    description:
      "Counted from each claim (10 s – 7 days): then the job's cancel is requested (`timed_out`), and after the cancel grace it ends `failed` (code `timeout`). None by default.",
  }),
  concurrencyKey: shortText(MAX_CONCURRENCY_KEY_CHARS)
    .optional()
    .meta({
      description: `At most the key's limit (default ${DEFAULT_CONCURRENCY_LIMIT}; admins set it in the Console) of the workspace's jobs with this key are \`pending\` or \`running\` at once; the others are \`waiting\` until one leaves. 1–${MAX_CONCURRENCY_KEY_CHARS} characters.`,
    }),
});

/** The v1 structured reason (SPEC §12). Checks that can fail without a type error keep their exact path. */
const outcomeReasonObjectSchema = z
  // Unknown keys are dropped, as unknown body fields are everywhere (SPEC §2): a runner that
  // adds one keeps working.
  .object({
    version: z
      .number()
      .refine((version) => version === 1, "must be 1 (the only outcomeReason version)")
      .meta({ const: 1 }),
    category: z.enum(JOB_OUTCOMES).meta({ description: "Must equal the completion's `outcome`." }),
    code: z.string().min(1).max(MAX_REASON_CODE_CHARS),
    retryable: z.boolean(),
    recommendedDelayMs: z.number().int().nonnegative().optional(),
    summary: z.string().max(MAX_REASON_TEXT_CHARS).nullable().optional(),
    details: storableJsonObject
      .refine(
        (details) => utf8Bytes(JSON.stringify(details)) <= MAX_REASON_DETAILS_BYTES,
        `must be at most ${MAX_REASON_DETAILS_BYTES} bytes of JSON`,
      )
      .optional(),
  })
  .meta({ description: "Structured outcome reason, version 1 (SPEC §12)." });

/** The first problem of the branch `input` was meant for, worded with its path inside the reason. */
function explainReason(issue: { code?: string; input?: unknown; errors?: unknown }) {
  if (issue.code !== "invalid_union" || !Array.isArray(issue.errors)) return undefined;
  const input = issue.input;
  if (typeof input !== "string" && (input === null || typeof input !== "object" || Array.isArray(input))) {
    return `must be a string of at most ${MAX_REASON_TEXT_CHARS} characters or a v1 object {version: 1, category, code, retryable, ...}`;
  }
  const branch = issue.errors[typeof input === "string" ? 0 : 1] as { path: PropertyKey[]; message: string }[];
  const first = branch?.[0];
  if (first === undefined) return undefined;
  const where = first.path.length === 0 ? "" : `${first.path.map(String).join(".")}: `;
  return `${typeof input === "string" ? "as text" : "as a v1 object"}, ${where}${first.message}`;
}

export const outcomeReasonSchema = z
  .union([z.string().max(MAX_REASON_TEXT_CHARS), outcomeReasonObjectSchema], { error: explainReason })
  .meta({ description: "Free text, or the v1 object; stored and returned as sent." });

/** A job as returned to workers and the Console. */
export const jobSchema = z
  .object({
    _id: idField("jobs"),
    _creationTime: z.number(),
    workspaceId: idField("workspaces"),
    repoId: idField("repos"),
    runId: idField("runs").optional(),
    runRef: z.string().optional().meta({ description: "The run's `runRef`, present whenever `runId` is." }),
    parentJobId: idField("jobs").optional(),
    kind: z.enum(JOB_KINDS),
    role: z.string(),
    prompt: z.string(),
    requirements: requirementsViewSchema,
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
    outcomeReason: outcomeReasonSchema.optional(),
    evidence: z.unknown().optional(),
    idempotencyKey: z.string().optional(),
    spawnedJobIds: z.array(idField("jobs")).optional(),
    finishedAt: z.number().optional(),
    updatedAt: z.number(),
    availableAt: z.number().optional().meta({ description: "While `scheduled`: when it becomes `pending`." }),
    retryPolicy: z
      .object({
        backoff: z.enum(BACKOFFS),
        initialDelayMs: z.number(),
        maxDelayMs: z.number(),
        jitter: z.boolean(),
      })
      .optional(),
    timeoutMs: z.number().optional(),
    cancelRequestedAt: z.number().optional(),
    timedOut: z.boolean().optional().meta({ description: "The current claim passed `timeoutMs`." }),
    concurrencyKey: z.string().optional(),
  })
  .meta({ description: "A job (SPEC §6)." });

export const jobEventSchema = z.object({
  seq: z.number().int(),
  type: z.enum(JOB_EVENT_TYPES),
  at: z.number(),
  message: z.string().optional(),
  data: z.unknown().optional(),
  count: z
    .number()
    .int()
    .optional()
    .meta({ description: "Heartbeat events: how many consecutive heartbeats with this message the event stands for." }),
  lastAt: z.number().optional().meta({ description: "Heartbeat events: when the last of them arrived (ms)." }),
});
