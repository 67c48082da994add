/** The auto-promotion rule (SPEC §7) and the Inbox order, as pure functions. */
import { describe, expect, test } from "vitest";
import { FIRST_CLOSED_RANK, inboxRank } from "../convex/model/decisions";
import {
  IMPACTS,
  REVERSIBILITIES,
  UNCERTAINTY_KINDS,
  promotionOf,
  type Impact,
  type Reversibility,
  type Tier,
  type UncertaintyKind,
} from "../convex/model/promotion";

const NOT_PROMOTED = { promoted: false, tier: null };
const promotedAs = (tier: Tier) => ({ promoted: true, tier });

describe("promotionOf", () => {
  // A confident agent (0.95 ≥ default 0.8) on a low-stakes change: nothing but the kind can promote.
  test.each(UNCERTAINTY_KINDS.map((kind) => [kind, kind === "approval" ? promotedAs("blocker") : NOT_PROMOTED]))(
    "kind %s, confident, low impact, easy to reverse",
    (kind, expected) => {
      expect(
        promotionOf({ kind: kind as UncertaintyKind, confidence: 0.95, impact: "low", reversibility: "easy" }),
      ).toEqual(expected);
    },
  );

  // Every impact × reversibility for a confident non-approval: only high + hard promotes.
  const grid = IMPACTS.flatMap((impact) => REVERSIBILITIES.map((reversibility) => [impact, reversibility] as const));
  test.each(grid)("confident choice, impact %s, reversibility %s", (impact, reversibility) => {
    const expected = impact === "high" && reversibility === "hard" ? promotedAs("blocker") : NOT_PROMOTED;
    expect(promotionOf({ kind: "choice", confidence: 0.9, impact, reversibility })).toEqual(expected);
  });

  // Low confidence promotes whatever the stakes; the tier follows the impact.
  test.each([
    ["low", "audit"],
    ["medium", "checkpoint"],
    ["high", "blocker"],
  ] as [Impact, Tier][])("unsure (0.5) with impact %s is a %s", (impact, tier) => {
    for (const reversibility of REVERSIBILITIES) {
      expect(promotionOf({ kind: "missing_fact", confidence: 0.5, impact, reversibility })).toEqual(promotedAs(tier));
    }
  });

  test.each([
    // confidence, threshold, promoted: the rule is `confidence < threshold`
    [0.79, undefined, true],
    [0.8, undefined, false],
    [0.81, undefined, false],
    [0.5, 0.5, false],
    [0.4999, 0.5, true],
    [0, 0, false],
    [0.99, 1, true],
    [1, 1, false],
  ] as [number, number | undefined, boolean][])(
    "confidence %s against threshold %s promotes: %s",
    (confidence, autoPromoteThreshold, promoted) => {
      const result = promotionOf({
        kind: "config",
        confidence,
        impact: "medium",
        reversibility: "moderate",
        autoPromoteThreshold,
      });
      expect(result).toEqual(promoted ? promotedAs("checkpoint") : NOT_PROMOTED);
    },
  );

  test("approval is always a blocker, even when confident, low impact and a threshold of 0", () => {
    for (const impact of IMPACTS) {
      for (const reversibility of REVERSIBILITIES as readonly Reversibility[]) {
        const result = promotionOf({ kind: "approval", confidence: 1, impact, reversibility, autoPromoteThreshold: 0 });
        expect(result).toEqual(promotedAs("blocker"));
      }
    }
  });
});

describe("inboxRank", () => {
  test("open before closed, then blocker, checkpoint, audit", () => {
    const order = [
      inboxRank("open", "blocker"),
      inboxRank("open", "checkpoint"),
      inboxRank("open", "audit"),
      inboxRank("answered", "blocker"),
      inboxRank("dismissed", "checkpoint"),
      inboxRank("applied", "audit"),
    ];
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(new Set(order).size).toBe(order.length);
    expect(inboxRank("open", "audit")).toBeLessThan(FIRST_CLOSED_RANK);
    expect(inboxRank("answered", "blocker")).toBe(FIRST_CLOSED_RANK);
  });
});
