/**
 * Token buckets for throttling unauthenticated routes (device start and poll). Pure: the
 * table-backed limiter (convex/rateLimits.ts) stores one `BucketState` per key.
 */

/** `capacity` requests at once, refilled evenly over `periodMs`. */
export type BucketConfig = { capacity: number; periodMs: number };
export type BucketState = { tokens: number; updatedAt: number };

/**
 * The limits in force. Only requests naming something that exists take a bucket (an existing
 * workspace slug, a known device session), so a caller cannot create rows by varying the key,
 * and there is no global bucket an anonymous flood could drain for everyone.
 */
export const RATE_LIMITS = {
  /** Starting a login for an existing workspace: 20 per 10 minutes per slug (bursts allowed). */
  deviceStart: { capacity: 20, periodMs: 10 * 60_000 },
  /** Polling a known session, right secret or wrong: 12 a minute, so the CLI's 5 s interval always fits. */
  devicePoll: { capacity: 12, periodMs: 60_000 },
} as const satisfies Record<string, BucketConfig>;

/** After this long untouched, every bucket is full again: a stored row says no more than a missing one. */
export const LONGEST_PERIOD_MS = Math.max(...Object.values(RATE_LIMITS).map((limit) => limit.periodMs));

export function refill(state: BucketState | null, config: BucketConfig, now: number): BucketState {
  if (state === null) return { tokens: config.capacity, updatedAt: now };
  const elapsed = Math.max(0, now - state.updatedAt);
  const tokens = Math.min(config.capacity, state.tokens + (elapsed * config.capacity) / config.periodMs);
  return { tokens, updatedAt: Math.max(now, state.updatedAt) };
}

export type TakeResult =
  { allowed: true; states: BucketState[] } | { allowed: false; states: BucketState[]; retryAfterMs: number };

/**
 * Takes one token from every bucket, or from none: a request refused by one bucket does not
 * drain the others. `retryAfterMs` is when the emptiest refusing bucket holds a token again.
 */
export function takeFromAll(
  buckets: ReadonlyArray<{ state: BucketState | null; config: BucketConfig }>,
  now: number,
): TakeResult {
  const refilled = buckets.map(({ state, config }) => refill(state, config, now));
  let retryAfterMs = 0;
  buckets.forEach(({ config }, i) => {
    const missing = 1 - refilled[i]!.tokens;
    if (missing > 0) retryAfterMs = Math.max(retryAfterMs, Math.ceil((missing * config.periodMs) / config.capacity));
  });
  if (retryAfterMs > 0) return { allowed: false, states: refilled, retryAfterMs };
  return { allowed: true, states: refilled.map((state) => ({ ...state, tokens: state.tokens - 1 })) };
}
