/** Rate limits (issue 4): the token-bucket math, and device start/poll throttling that triggers and recovers. */
import { beforeEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../convex/_generated/api";
import { LONGEST_PERIOD_MS, RATE_LIMITS, refill, takeFromAll, type BucketConfig } from "../convex/model/rateLimits";
import { CONSOLE_URL, POLL, START, pollLogin, startLogin } from "./support/device-fixtures";
import { workspaceWithMember } from "./support/fixtures";
import { useFreshConvex, post } from "./support/harness";
import { expectError } from "./support/api";

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
    expect(refused).toEqual({
      allowed: false,
      states: [
        { tokens: 10, updatedAt: 0 },
        { tokens: 0.25, updatedAt: 0 },
      ],
      retryAfterMs: 750,
    });
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

/** Anonymous requests naming nothing that exists: more than any shared allowance would absorb. */
const FLOOD = 1_500;

describe("device login throttling over HTTP", () => {
  const t = useFreshConvex({ IAS_LOCAL_MODE: "", IAS_CONSOLE_URL: CONSOLE_URL });
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"], now: 1_700_000_000_000 });
  });
  const bucketKeys = async () =>
    (await t.run((ctx) => ctx.db.query("rateLimits").collect())).map((row) => row.key).sort();

  test("start: 429 RATE_LIMITED with retryAfterMs and Retry-After once a slug's bucket is empty; recovers with time", async () => {
    await workspaceWithMember(t, "acme", "owner");
    await workspaceWithMember(t, "other", "owner");
    for (let i = 0; i < RATE_LIMITS.deviceStart.capacity; i++) await startLogin(t, "acme");
    const refused = await post(t, START, { workspaceSlug: "acme" });
    expectError(refused, 429, "RATE_LIMITED");
    const refillMs = RATE_LIMITS.deviceStart.periodMs / RATE_LIMITS.deviceStart.capacity;
    expect(refused.body.retryAfterMs).toBe(refillMs);
    expect(refused.headers.get("retry-after")).toBe(String(Math.ceil(refillMs / 1000)));

    // Another workspace has its own bucket.
    await startLogin(t, "other");
    vi.setSystemTime(Date.now() + refillMs - 1);
    expectError(await post(t, START, { workspaceSlug: "acme" }), 429, "RATE_LIMITED");
    vi.setSystemTime(Date.now() + 1);
    await startLogin(t, "acme");
    expectError(await post(t, START, { workspaceSlug: "acme" }), 429, "RATE_LIMITED");
  });

  test("poll: wrong secrets use up the session's bucket, so guessing is throttled; the right secret works again later", async () => {
    await workspaceWithMember(t, "acme", "owner");
    const started = await startLogin(t, "acme");
    for (let i = 0; i < RATE_LIMITS.devicePoll.capacity; i++) {
      expectError(
        await post(t, POLL, { deviceId: started.deviceId, deviceSecret: `guess-${i}` }),
        404,
        "DEVICE_SESSION_NOT_FOUND",
      );
    }
    const refused = await pollLogin(t, started);
    expectError(refused, 429, "RATE_LIMITED");
    expect(refused.body.retryAfterMs).toBeGreaterThan(0);
    vi.setSystemTime(Date.now() + refused.body.retryAfterMs);
    expect((await pollLogin(t, started)).body).toEqual({ ok: true, status: "pending" });
  });

  test("start: a flood of unknown slugs answers 404, writes no row and throttles no real login", async () => {
    await workspaceWithMember(t, "acme", "owner");
    for (let i = 0; i < FLOOD; i++) {
      expectError(await post(t, START, { workspaceSlug: `guess-${i}` }), 404, "WORKSPACE_NOT_FOUND");
    }
    expect(await bucketKeys()).toEqual([]);
    await startLogin(t, "acme");
    expect(await bucketKeys()).toEqual(["device_start:acme"]);
  });

  test("poll: a flood of unknown ids answers 404, writes no row and throttles no real login", async () => {
    const { member } = await workspaceWithMember(t, "acme", "owner");
    const started = await startLogin(t, "acme");
    for (let i = 0; i < FLOOD; i++) {
      expectError(
        await post(t, POLL, { deviceId: `dev_guess${i}`, deviceSecret: "guess" }),
        404,
        "DEVICE_SESSION_NOT_FOUND",
      );
    }
    expect(await bucketKeys()).toEqual(["device_start:acme"]);
    expect((await pollLogin(t, started)).body).toEqual({ ok: true, status: "pending" });
    await t.withIdentity(member.identity).mutation(api.deviceSessions.approve, { deviceId: started.deviceId });
    expect((await pollLogin(t, started)).body).toMatchObject({ ok: true, status: "approved" });
  });

  test("poll: the CLI polling every intervalMs is never throttled, from start to expiry", async () => {
    await workspaceWithMember(t, "acme", "owner");
    const started = await startLogin(t, "acme");
    // Right after start (no sleep), then every interval until the session expires.
    for (let polls = 0; Date.now() < started.expiresAt; polls++) {
      expect((await pollLogin(t, started)).body, `poll ${polls}`).toEqual({ ok: true, status: "pending" });
      vi.setSystemTime(Date.now() + started.intervalMs);
    }
    expect((await pollLogin(t, started)).body).toEqual({ ok: true, status: "expired" });
  });

  test("the cron deletes buckets idle long enough to be full again", async () => {
    await workspaceWithMember(t, "acme", "owner");
    const started = await startLogin(t, "acme");
    await pollLogin(t, started);
    expect(await bucketKeys()).toEqual([`device_poll:${started.deviceId}`, "device_start:acme"]);
    vi.setSystemTime(Date.now() + LONGEST_PERIOD_MS);
    expect(await t.mutation(internal.rateLimits.sweepIdleBuckets, {})).toEqual({ deleted: 0 });
    vi.setSystemTime(Date.now() + 1);
    expect(await t.mutation(internal.rateLimits.sweepIdleBuckets, {})).toEqual({ deleted: 2 });
    expect(await bucketKeys()).toEqual([]);
  });
});
