/**
 * Statuses of uncertainties, decision requests and resolutions (SPEC §7), and the Inbox order:
 * open requests first, then by tier (blocker, checkpoint, audit). The order is one number stored
 * on each request (`inboxRank`), so the Inbox is a single index range, oldest first within a rank.
 */
import { v, type Infer } from "convex/values";
import { systemIdempotencyKey } from "./jobs";
import { TIERS, impactValidator, reversibilityValidator, uncertaintyKindValidator, type Tier } from "./promotion";

/** `open` while its decision request waits; `assumed` when not promoted (or an agent assumed). */
export const UNCERTAINTY_STATUSES = ["open", "assumed", "answered", "dismissed"] as const;
export const uncertaintyStatusValidator = v.union(...UNCERTAINTY_STATUSES.map((status) => v.literal(status)));

/** `open → answered → applied`, or `open → dismissed`. */
export const DECISION_STATUSES = ["open", "answered", "applied", "dismissed"] as const;
export type DecisionStatus = (typeof DECISION_STATUSES)[number];
export const decisionStatusValidator = v.union(...DECISION_STATUSES.map((status) => v.literal(status)));

export const RESOLUTION_MODES = ["answered", "assumed", "dismissed"] as const;
export type ResolutionMode = (typeof RESOLUTION_MODES)[number];
export const resolutionModeValidator = v.union(...RESOLUTION_MODES.map((mode) => v.literal(mode)));

/** A choice offered to the person answering: a plain string, or a value with a label. */
export const decisionOptionValidator = v.union(
  v.string(),
  v.object({ value: v.string(), label: v.optional(v.string()), description: v.optional(v.string()) }),
);
export type DecisionOption = Infer<typeof decisionOptionValidator>;

/**
 * What an agent states about an uncertainty (SPEC §7): accepted by create-with-auto-promotion and
 * stored as sent, so the route's arguments and the table share this one list.
 */
export const uncertaintyStatementFields = {
  prompt: v.string(),
  kind: uncertaintyKindValidator,
  context: v.optional(v.string()),
  confidence: v.number(),
  impact: impactValidator,
  reversibility: reversibilityValidator,
  assumedValue: v.optional(v.string()),
  assumedReasoning: v.optional(v.string()),
  options: v.optional(v.array(decisionOptionValidator)),
};

/** Ranks below this belong to open requests. */
export const FIRST_CLOSED_RANK = TIERS.length;

export function inboxRank(status: DecisionStatus, tier: Tier): number {
  return (status === "open" ? 0 : FIRST_CLOSED_RANK) + TIERS.indexOf(tier);
}

/** The idempotency key of a decision's `apply_decision` job: one job per decision, ever. */
export function applyDecisionJobKey(decisionRequestId: string): string {
  return systemIdempotencyKey("apply_decision", decisionRequestId);
}

/**
 * Whether a job's new status may change a decision (the decisions reaction, jobReactions.ts): an
 * `apply_decision` job done applies its decision, a job blocked may be blocked on one. Every
 * other move skips the reaction's nested call.
 */
export function jobMayAffectDecisions(job: { kind: string; status: string }): boolean {
  return (job.kind === "apply_decision" && job.status === "done") || job.status === "blocked";
}
