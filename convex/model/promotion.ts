/**
 * The auto-promotion rule of SPEC §7: which uncertainties an agent raises become decision
 * requests in the Inbox, and with which tier. Pure: no ctx, unit-tested on its own.
 */
import { v } from "convex/values";

export const UNCERTAINTY_KINDS = ["missing_fact", "choice", "constraint", "approval", "config", "risk"] as const;
export type UncertaintyKind = (typeof UNCERTAINTY_KINDS)[number];
export const uncertaintyKindValidator = v.union(...UNCERTAINTY_KINDS.map((kind) => v.literal(kind)));

export const IMPACTS = ["low", "medium", "high"] as const;
export type Impact = (typeof IMPACTS)[number];
export const impactValidator = v.union(...IMPACTS.map((impact) => v.literal(impact)));

export const REVERSIBILITIES = ["easy", "moderate", "hard"] as const;
export type Reversibility = (typeof REVERSIBILITIES)[number];
export const reversibilityValidator = v.union(...REVERSIBILITIES.map((r) => v.literal(r)));

/** Inbox tiers, most urgent first: this order is also the Inbox order (see `inboxRank` in model/decisions.ts). */
export const TIERS = ["blocker", "checkpoint", "audit"] as const;
export type Tier = (typeof TIERS)[number];
export const tierValidator = v.union(...TIERS.map((tier) => v.literal(tier)));

export const DEFAULT_AUTO_PROMOTE_THRESHOLD = 0.8;

export type PromotionInput = {
  kind: UncertaintyKind;
  /** The agent's confidence in its assumed value, 0–1. */
  confidence: number;
  impact: Impact;
  reversibility: Reversibility;
  /** Promote when confidence is strictly below this (0–1). */
  autoPromoteThreshold?: number;
};

export type Promotion = { promoted: true; tier: Tier } | { promoted: false; tier: null };

/**
 * Promote when the kind is `approval`, or confidence < threshold, or the change is high impact
 * and hard to reverse. The tier follows the stakes, not the reason: approvals and high impact
 * are blockers, medium impact a checkpoint, low impact an audit.
 */
export function promotionOf(input: PromotionInput): Promotion {
  const threshold = input.autoPromoteThreshold ?? DEFAULT_AUTO_PROMOTE_THRESHOLD;
  const promoted =
    input.kind === "approval" ||
    input.confidence < threshold ||
    (input.impact === "high" && input.reversibility === "hard");
  if (!promoted) return { promoted: false, tier: null };
  if (input.kind === "approval" || input.impact === "high") return { promoted: true, tier: "blocker" };
  return { promoted: true, tier: input.impact === "medium" ? "checkpoint" : "audit" };
}
