/** Scheduling arithmetic (convex/model/scheduling.ts): back-off for attempts 1–5, jitter bounds, clamping. */
import { describe, expect, test } from "vitest";
import { availableAtOf, backoffDelayMs, retryDelayMs, retryPolicyOf } from "../convex/model/scheduling";

const exponential = retryPolicyOf({ backoff: "exponential", jitter: false });
const fixed = retryPolicyOf({ backoff: "fixed", initialDelayMs: 5_000, jitter: false });

describe("retry policy defaults", () => {
  test("10 s initial delay, 10 min cap, jitter on", () => {
    expect(retryPolicyOf({ backoff: "exponential" })).toEqual({
      backoff: "exponential",
      initialDelayMs: 10_000,
      maxDelayMs: 600_000,
      jitter: true,
    });
  });
});

describe("back-off without jitter", () => {
  test("exponential doubles from the initial delay for attempts 1–5", () => {
    expect([1, 2, 3, 4, 5].map((attempt) => backoffDelayMs(exponential, attempt))).toEqual([
      10_000, 20_000, 40_000, 80_000, 160_000,
    ]);
  });

  test("exponential is capped at maxDelayMs", () => {
    const capped = retryPolicyOf({ backoff: "exponential", maxDelayMs: 30_000, jitter: false });
    expect([1, 2, 3, 4, 5].map((attempt) => backoffDelayMs(capped, attempt))).toEqual([
      10_000, 20_000, 30_000, 30_000, 30_000,
    ]);
    // A huge attempt number neither overflows nor passes the cap.
    expect(backoffDelayMs(capped, 5_000)).toBe(30_000);
  });

  test("fixed stays at the initial delay", () => {
    expect([1, 2, 3, 4, 5].map((attempt) => backoffDelayMs(fixed, attempt))).toEqual([
      5_000, 5_000, 5_000, 5_000, 5_000,
    ]);
  });
});

describe("back-off with jitter", () => {
  const jittered = retryPolicyOf({ backoff: "exponential" });
  test.each([1, 2, 3, 4, 5])("attempt %i: within [delay/2, delay], both ends reached", (attempt) => {
    const full = 10_000 * 2 ** (attempt - 1);
    expect(backoffDelayMs(jittered, attempt, () => 0)).toBe(full / 2);
    expect(backoffDelayMs(jittered, attempt, () => 0.999_999_9)).toBe(full);
    for (let i = 0; i < 200; i++) {
      const delay = backoffDelayMs(jittered, attempt);
      expect(delay).toBeGreaterThanOrEqual(full / 2);
      expect(delay).toBeLessThanOrEqual(full);
    }
  });

  test("draws differ (the jitter is not a constant)", () => {
    const draws = new Set(Array.from({ length: 50 }, () => backoffDelayMs(jittered, 3)));
    expect(draws.size).toBeGreaterThan(10);
  });
});

describe("recommendedDelayMs", () => {
  test("replaces the back-off, without jitter, clamped to [0, maxDelayMs]", () => {
    const policy = retryPolicyOf({ backoff: "exponential", maxDelayMs: 60_000 });
    expect(retryDelayMs(policy, 1, 42_000)).toBe(42_000);
    expect(retryDelayMs(policy, 1, 3_600_000)).toBe(60_000);
    expect(retryDelayMs(policy, 1, 0)).toBe(0);
    expect(retryDelayMs(exponential, 2, undefined)).toBe(20_000);
  });
});

describe("availableAt", () => {
  test("runAt as given, else now + delayMs, else now", () => {
    expect(availableAtOf(1_000, { runAt: 5_000 })).toBe(5_000);
    expect(availableAtOf(1_000, { delayMs: 250 })).toBe(1_250);
    expect(availableAtOf(1_000, {})).toBe(1_000);
  });
});
