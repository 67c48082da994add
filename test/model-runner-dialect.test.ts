/** Pure rules of the runner's dialect (SPEC §6, §12): requirement spellings, modelPolicy, kept capabilities, reasons. */
import { describe, expect, test } from "vitest";
import { keptExtraCapabilities, splitCapabilities } from "../convex/model/capabilities";
import {
  canonicalRequirements,
  conflictingRequirement,
  meetsRequirements,
  requirementsForWorkers,
  requirementsKey,
  requirementsProblem,
} from "../convex/model/matching";
import { reasonMismatch, systemReason } from "../convex/model/outcomeReasons";

describe("requirement spellings", () => {
  test("the runner's spellings fold into the canonical keys; the canonical keys pass through", () => {
    expect(canonicalRequirements({ writeRequired: true, networkRequired: false, modelPolicy: "p" })).toEqual({
      canWrite: true,
      canUseNetwork: false,
      modelPolicy: "p",
    });
    expect(canonicalRequirements({ canWrite: true, executionMode: "hybrid" })).toEqual({
      canWrite: true,
      executionMode: "hybrid",
    });
    expect(canonicalRequirements({})).toEqual({});
  });

  test("one requirement set in any spelling has one key; `false` demands nothing", () => {
    const keys = new Set(
      [
        { writeRequired: true, networkRequired: true },
        { canWrite: true, canUseNetwork: true },
        { writeRequired: true, canUseNetwork: true },
        { canWrite: true, writeRequired: true, networkRequired: true },
      ].map((sent) => requirementsKey(canonicalRequirements(sent))),
    );
    expect(keys.size).toBe(1);
    expect(requirementsKey(canonicalRequirements({ writeRequired: false }))).toBe(requirementsKey({}));
    expect(requirementsKey(canonicalRequirements({ modelPolicy: "require_5_2" }))).not.toBe(requirementsKey({}));
  });

  test("keys of jobs already waiting stay what they were (modelPolicy is appended last)", () => {
    expect(requirementsKey({ model: "m", canWrite: true, executionMode: "x" })).toBe(
      '{"executionMode":"x","model":"m","canWrite":true}',
    );
    expect(requirementsKey({ modelPolicy: "p", runTests: true })).toBe('{"runTests":true,"modelPolicy":"p"}');
  });

  test("workers get both spellings with the same value; an undemanded key stays absent in both", () => {
    expect(requirementsForWorkers({ canWrite: true, canUseNetwork: false })).toEqual({
      canWrite: true,
      writeRequired: true,
      canUseNetwork: false,
      networkRequired: false,
    });
    expect(requirementsForWorkers({ model: "m" })).toEqual({ model: "m" });
  });

  test("conflicts, unknown keys and oversized values are problems; agreement is not", () => {
    expect(conflictingRequirement({ writeRequired: true, canWrite: true })).toBeNull();
    expect(conflictingRequirement({ writeRequired: true, canWrite: false })).toBe("writeRequired");
    expect(conflictingRequirement({ networkRequired: false, canUseNetwork: true })).toBe("networkRequired");
    expect(requirementsProblem({ gpu: true })?.message).toContain("accepted keys: executionMode");
    expect(requirementsProblem({ modelPolicy: "p".repeat(201) })).toMatchObject({ key: "modelPolicy" });
    expect(requirementsProblem({ modelPolicy: "p".repeat(200), writeRequired: true })).toBeNull();
  });
});

describe("modelPolicy matching", () => {
  const job = { modelPolicy: "require_5_2" };
  test.each([
    ["no modelPolicies listed: trusted", {}, true],
    ["listed and included", { modelPolicies: ["require_5_2"] }, true],
    ["listed, not included", { modelPolicies: ["require_4"] }, false],
    ["an empty list", { modelPolicies: [] }, false],
  ])("%s", (_name, capabilities, expected) => {
    expect(meetsRequirements(job, capabilities)).toBe(expected);
    // A job without a policy is never held back by a worker's list.
    expect(meetsRequirements({}, capabilities)).toBe(true);
  });
});

describe("kept capabilities", () => {
  test("known keys are split off; the kept set does not depend on the order keys were sent in", () => {
    const entries = Array.from({ length: 40 }, (_, i) => [`k${String(i).padStart(2, "0")}`, i] as const);
    const forward = keptExtraCapabilities(Object.fromEntries(entries));
    const backward = keptExtraCapabilities(Object.fromEntries([...entries].reverse()));
    expect(forward).toEqual(backward);
    expect(Object.keys(forward)).toEqual(entries.slice(0, 32).map(([key]) => key));
    expect(splitCapabilities({ canWrite: true, openaiAuthMode: "sso", tier: "gold" })).toEqual({
      capabilities: { canWrite: true, openaiAuthMode: "sso" },
      extraCapabilities: { tier: "gold" },
    });
  });

  test("values: strings up to 200 UTF-8 bytes, finite numbers, booleans; nothing else", () => {
    expect(
      keptExtraCapabilities({
        a: "€".repeat(66) + "xx",
        b: "€".repeat(67),
        c: 1.5,
        d: Number.NaN,
        e: null,
        f: { x: 1 },
        g: "\ud800",
        h: true,
      }),
    ).toEqual({ a: "€".repeat(66) + "xx", c: 1.5, h: true });
  });
});

describe("outcome reasons", () => {
  test("a v1 reason must name the outcome; text and no reason always fit", () => {
    const blocked = systemReason("blocked", "x", "s");
    expect(reasonMismatch("blocked", blocked)).toBeNull();
    expect(reasonMismatch("failed", blocked)).toContain('"failed"');
    expect(reasonMismatch("failed", "anything")).toBeNull();
    expect(reasonMismatch("done", undefined)).toBeNull();
    expect(blocked).toEqual({ version: 1, category: "blocked", code: "x", retryable: false, summary: "s" });
  });
});
