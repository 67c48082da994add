/** Rate limits (issue 4): the token-bucket math, and device start/poll throttling that triggers and recovers. */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { internal } from "../convex/_generated/api";
import { LONGEST_PERIOD_MS, RATE_LIMITS, refill, takeFromAll, type BucketConfig } from "../convex/model/rateLimits";
import { CONSOLE_URL, POLL, START, expectApiError, pollLogin, startLogin } from "./device-fixtures";
import { SERVICE_TOKEN, workspaceWithMember } from "./fixtures";
import { newConvex, post, type TestConvex } from "./harness";

describe("token buckets (pure)", () => {
  const config: BucketConfig = { capacity: 3, periodMs: 3_000 };

  test("a missing bucket is full; tokens refill evenly up to capacity", () => {
    expect(refill(null, config, 100)).toEqual({ tokens: 3, updatedAt: 100 });
    expect(refill({ tokens: 0, updatedAt: 0 }, config, 1_500)).toEqual({ tokens: 1.5, updatedAt: 1_500 });
    expect(refill({ tokens: 2, updatedAt: 0 }, config, 60_000)).toEqual({ tokens: 3, updatedAt: 60_000 });
    // A clock that went backwards neither refills nor moves the bucket back.
    expect(refill({ tokens: 1, updatedAt: 5_000 }, config, 4_000)).toEqual({ tokens: 1, updatedAt: 5_000 });
  });

  test("takes one from every bucket, or from none, and says when to retry", () => {
    const empty = { state: { tokens: 0.25, updatedAt: 0 }, config };
    const full = { state: null, config: { capacity: 10, periodMs: 10_000 } };
    const refused = takeFromAll([full, empty], 0);
    expect(refused).toEqual({ allowed: false, states: [{ tokens: 10, updatedAt: 0 }, { tokens: 0.25, updatedAt: 0 }], retryAfterMs: 750 });
    const later = takeFromAll([full, empty], 750);
    expect(later.allowed).toBe(true);
    expect(later.states.map((state) => state.tokens)).toEqual([9, expect.closeTo(0, 9)]);
  });

  test("the configured limits let the CLI poll at its interval forever", () => {
    let state = null as ReturnType<typeof refill> | null;
    for (let now = 0; now < 10 * RATE_LIMITS.devicePoll.periodMs; now += 5_000) {
      const result = takeFromAll([{ state, config: RATE_LIMITS.devicePoll }], now);
      expect(result.allowed, `poll at ${now} ms`).toBe(true);
      state = result.states[0]!;
    }
  });
});

describe("device login throttling over HTTP", () => {
  let t: TestConvex;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"], now: 1_700_000_000_000 });
    t = newConvex();
    vi.stubEnv("IAS_CONTROL_PLANE_SERVICE_TOKEN", SERVICE_TOKEN);
    vi.stubEnv("IAS_LOCAL_MODE", "");
    vi.stubEnv("IAS_CONSOLE_URL", CONSOLE_URL);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllEnvs();
  });

  test("start: 429 RATE_LIMITED with retryAfterMs and Retry-After once a slug's bucket is empty; recovers with time", async () => {
    await workspaceWithMember(t, "acme", "owner");
    await workspaceWithMember(t, "other", "owner");
    for (let i = 0; i < RATE_LIMITS.deviceStart.capacity; i++) await startLogin(t, "acme");
    const refused = await post(t, START, { workspaceSlug: "acme" });
    expectApiError(refused, 429, "RATE_LIMITED");
    const refillMs = RATE_LIMITS.deviceStart.periodMs / RATE_LIMITS.deviceStart.capacity;
    expect(refused.body.retryAfterMs).toBe(refillMs);
    expect(refused.headers.get("retry-after")).toBe(String(Math.ceil(refillMs / 1000)));

    // Another workspace has its own bucket.
    await startLogin(t, "other");
    vi.setSystemTime(Date.now() + refillMs - 1);
    expectApiError(await post(t, START, { workspaceSlug: "acme" }), 429, "RATE_LIMITED");
    vi.setSystemTime(Date.now() + 1);
    await startLogin(t, "acme");
    expectApiError(await post(t, START, { workspaceSlug: "acme" }), 429, "RATE_LIMITED");
  });

  test("start: unknown slugs are throttled too, so they cannot be probed without limit", async () => {
    for (let i = 0; i < RATE_LIMITS.deviceStart.capacity; i++) {
      expectApiError(await post(t, START, { workspaceSlug: "guess" }), 404, "WORKSPACE_NOT_FOUND");
    }
    expectApiError(await post(t, START, { workspaceSlug: "guess" }), 429, "RATE_LIMITED");
  });

  test("poll: wrong secrets use up the session's bucket, so guessing is throttled; the right secret works again later", async () => {
    await workspaceWithMember(t, "acme", "owner");
    const started = await startLogin(t, "acme");
    for (let i = 0; i < RATE_LIMITS.devicePoll.capacity; i++) {
      expectApiError(await post(t, POLL, { deviceId: started.deviceId, deviceSecret: `guess-${i}` }), 404, "DEVICE_SESSION_NOT_FOUND");
    }
    const refused = await pollLogin(t, started);
    expectApiError(refused, 429, "RATE_LIMITED");
    expect(refused.body.retryAfterMs).toBeGreaterThan(0);
    vi.setSystemTime(Date.now() + refused.body.retryAfterMs);
    expect((await pollLogin(t, started)).body).toEqual({ ok: true, status: "pending" });
  });

  test("the global bucket bounds every key at once", async () => {
    await workspaceWithMember(t, "acme", "owner");
    await t.run((ctx) => ctx.db.insert("rateLimits", { key: "device_start", tokens: 0, updatedAt: Date.now() }));
    expectApiError(await post(t, START, { workspaceSlug: "acme" }), 429, "RATE_LIMITED");
    expectApiError(await post(t, START, { workspaceSlug: "anything" }), 429, "RATE_LIMITED");
    // Refused requests took nothing from the per-slug bucket.
    expect(await t.run((ctx) => ctx.db.query("rateLimits").withIndex("by_key", (q) => q.eq("key", "device_start:acme")).unique())).toBeNull();
  });

  test("the cron deletes buckets idle long enough to be full again", async () => {
    await workspaceWithMember(t, "acme", "owner");
    await startLogin(t, "acme");
    const keys = async () => (await t.run((ctx) => ctx.db.query("rateLimits").collect())).map((row) => row.key).sort();
    expect(await keys()).toEqual(["device_start", "device_start:acme"]);
    vi.setSystemTime(Date.now() + LONGEST_PERIOD_MS);
    expect(await t.mutation(internal.rateLimits.sweepIdleBuckets, {})).toEqual({ deleted: 0 });
    vi.setSystemTime(Date.now() + 1);
    expect(await t.mutation(internal.rateLimits.sweepIdleBuckets, {})).toEqual({ deleted: 2 });
    expect(await keys()).toEqual([]);
  });
});
