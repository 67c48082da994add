/**
 * Why a job ended (SPEC §12 "Completion"): a free-text string, or the structured v1 object the
 * deployed runner sends, `{version: 1, category, code, retryable, recommendedDelayMs?, summary?,
 * details?}` with `category` equal to the job's outcome. Stored and returned as sent. Reasons the
 * system writes itself (lease expiry, cancel) are v1 objects too; rows that hold the older plain
 * string stay readable (the stored field is a union).
 */
import { v, type Infer } from "convex/values";
import { jobOutcomeValidator, type JobOutcome } from "./jobs";

export const MAX_REASON_TEXT_CHARS = 1_000;
export const MAX_REASON_CODE_CHARS = 100;
export const MAX_REASON_DETAILS_BYTES = 16 * 1024;

export const outcomeReasonObjectValidator = v.object({
  version: v.literal(1),
  category: jobOutcomeValidator,
  code: v.string(),
  retryable: v.boolean(),
  recommendedDelayMs: v.optional(v.number()),
  summary: v.optional(v.union(v.string(), v.null())),
  details: v.optional(v.any()),
});
export type OutcomeReasonObject = Infer<typeof outcomeReasonObjectValidator>;

export const outcomeReasonValidator = v.union(v.string(), outcomeReasonObjectValidator);
export type OutcomeReason = Infer<typeof outcomeReasonValidator>;

/** Codes of the reasons the system writes. */
export const SYSTEM_REASON_CODES = {
  leaseExpired: "lease_expired",
  canceled: "canceled",
  /** A running job still running after its timeout's cancel grace (SPEC §6 "Timeout"). */
  timeout: "timeout",
  /** A running job still running `cancelGraceMs` after its cancel was requested. */
  cancelGrace: "cancel_grace",
} as const;

/** A reason written by the control plane itself (never retryable: the retry policy has had its say). */
export function systemReason(category: JobOutcome, code: string, summary: string): OutcomeReasonObject {
  return { version: 1, category, code, retryable: false, summary };
}

/** Why a reason cannot go with `outcome`, or null: a v1 object's `category` must equal the outcome. */
export function reasonMismatch(outcome: JobOutcome, reason: OutcomeReason | undefined): string | null {
  if (reason === undefined || typeof reason === "string" || reason.category === outcome) return null;
  return `must equal the outcome ("${outcome}"), not "${reason.category}".`;
}
