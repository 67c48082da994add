/** Pure job-queue logic: requirement matching, lease arithmetic and fencing, claim order and window. */
import { describe, expect, test } from "vitest";
import {
  afterLeaseLoss,
  checkLease,
  clampLeaseMs,
  isLeaseExpired,
  DEFAULT_LEASE_MS,
  MAX_LEASE_MS,
  MIN_LEASE_MS,
} from "../convex/model/leases";
import type { Capabilities } from "../convex/model/capabilities";
import { meetsRequirements, requirementsKey, unknownRequirementKeys } from "../convex/model/matching";
import { compareClaimOrder, rotated } from "../convex/model/queueHeads";

describe("meetsRequirements", () => {
  const full: Capabilities = {
    executionModes: ["local", "container"],
    models: ["claude-sonnet"],
    canWrite: true,
    canUseNetwork: true,
    supportedEgressModes: ["proxy"],
    supportsRunTests: true,
  };

  test("no requirements: any worker, even one that offers nothing", () => {
    expect(meetsRequirements({}, {})).toBe(true);
  });

  test.each([
    ["executionMode", { executionMode: "local" }, { executionModes: ["container"] }],
    ["executionMode without a list", { executionMode: "local" }, {}],
    ["model", { model: "claude-sonnet" }, { models: ["gpt"] }],
    ["canWrite", { canWrite: true }, { canWrite: false }],
    ["canWrite not offered", { canWrite: true }, {}],
    ["canUseNetwork", { canUseNetwork: true }, {}],
    ["egressMode", { egressMode: "proxy" }, { supportedEgressModes: ["direct"] }],
    ["runTests", { runTests: true }, { supportsRunTests: false }],
  ])("missing %s: refused", (_name, requirements, capabilities) => {
    expect(meetsRequirements(requirements, capabilities)).toBe(false);
    expect(meetsRequirements(requirements, full)).toBe(true);
  });

  test("false flags demand nothing", () => {
    expect(meetsRequirements({ canWrite: false, canUseNetwork: false, runTests: false }, {})).toBe(true);
  });

  test("every requirement at once", () => {
    const all = {
      executionMode: "container",
      model: "claude-sonnet",
      canWrite: true,
      canUseNetwork: true,
      egressMode: "proxy",
      runTests: true,
    };
    expect(meetsRequirements(all, full)).toBe(true);
    expect(meetsRequirements(all, { ...full, supportsRunTests: undefined })).toBe(false);
  });
});

describe("requirementsKey", () => {
  test("equal demands give equal keys, whatever the key order or false flags", () => {
    expect(requirementsKey({ model: "m", canWrite: true })).toBe(requirementsKey({ canWrite: true, model: "m" }));
    expect(requirementsKey({ canWrite: false })).toBe(requirementsKey({}));
    expect(requirementsKey({ canWrite: true })).not.toBe(requirementsKey({}));
    expect(requirementsKey({ model: "a" })).not.toBe(requirementsKey({ model: "b" }));
  });

  test("unknown keys are found", () => {
    expect(unknownRequirementKeys({ model: "m", gpu: true, region: "eu" })).toEqual(["gpu", "region"]);
    expect(unknownRequirementKeys({ runTests: true })).toEqual([]);
  });
});

describe("lease arithmetic", () => {
  test("clampLeaseMs: default, bounds, rounding, fallback", () => {
    expect(clampLeaseMs(undefined)).toBe(DEFAULT_LEASE_MS);
    expect(clampLeaseMs(1)).toBe(MIN_LEASE_MS);
    expect(clampLeaseMs(10 * MAX_LEASE_MS)).toBe(MAX_LEASE_MS);
    expect(clampLeaseMs(20_000.4)).toBe(20_000);
    expect(clampLeaseMs(undefined, 30_000)).toBe(30_000);
    expect(clampLeaseMs(Number.NaN)).toBe(DEFAULT_LEASE_MS);
  });

  test("a lease is lost at its expiry instant", () => {
    expect(isLeaseExpired(1_000, 999)).toBe(false);
    expect(isLeaseExpired(1_000, 1_000)).toBe(true);
    expect(isLeaseExpired(undefined, 0)).toBe(true);
  });

  test("afterLeaseLoss: retry while attempts remain, then failed; a requested cancel wins", () => {
    expect(afterLeaseLoss({ attempts: 1, maxAttempts: 3, cancelRequested: false })).toBe("pending");
    expect(afterLeaseLoss({ attempts: 3, maxAttempts: 3, cancelRequested: false })).toBe("failed");
    expect(afterLeaseLoss({ attempts: 1, maxAttempts: 3, cancelRequested: true })).toBe("canceled");
  });
});

describe("checkLease", () => {
  const job = { status: "running", claimedBy: "w1", claimGeneration: 4, leaseExpiresAt: 10_000 };

  test("held by the claiming worker, with or without its generation", () => {
    expect(checkLease(job, { workerId: "w1", claimGeneration: 4 }, 9_999)).toEqual({ held: true });
    expect(checkLease(job, { workerId: "w1" }, 9_999)).toEqual({ held: true });
  });

  test("another worker, a job no longer claimed, a stale generation", () => {
    expect(checkLease(job, { workerId: "w2" }, 0)).toMatchObject({ held: false, code: "LEASE_MISMATCH" });
    expect(checkLease({ ...job, status: "pending" }, { workerId: "w1" }, 0)).toMatchObject({ code: "LEASE_MISMATCH" });
    expect(checkLease(job, { workerId: "w1", claimGeneration: 3 }, 0)).toMatchObject({
      code: "CLAIM_GENERATION_MISMATCH",
    });
  });

  test("the right holder after expiry has lost it (the caller recovers the job)", () => {
    expect(checkLease(job, { workerId: "w1", claimGeneration: 4 }, 10_000)).toEqual({ held: false, expired: true });
  });
});

describe("claim order and window", () => {
  const head = (jobId: string, priority: number, createdAt: number) => ({ jobId, priority, createdAt });

  test("claim order: priority, then age, then id", () => {
    expect(compareClaimOrder(head("a", 0, 5), head("b", 1, 1))).toBeLessThan(0);
    expect(compareClaimOrder(head("a", 0, 5), head("b", 0, 1))).toBeGreaterThan(0);
    expect(compareClaimOrder(head("a", 0, 1), head("b", 0, 1))).toBeLessThan(0);
  });

  test("rotated starts at the key's position, wraps around and keeps every item", () => {
    expect(rotated(["a", "b", "c"], 0)).toEqual(["a", "b", "c"]);
    expect(rotated(["a", "b", "c"], 4)).toEqual(["b", "c", "a"]);
    expect(rotated(["a", "b", "c"], -1)).toEqual(["c", "a", "b"]);
    expect(rotated([], 7)).toEqual([]);
  });
});
