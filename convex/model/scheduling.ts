/**
 * Scheduling arithmetic (SPEC §6 "Scheduling"), pure so the rules are unit-tested without Convex:
 * when a delayed job becomes due, the retry policy's back-off (with its jitter bounds), and the
 * bounds of timeouts and the cancel grace.
 */
import { v, type Infer } from "convex/values";

/** `delayMs` and a `runAt` may lie at most this far ahead (365 days). */
export const MAX_DELAY_MS = 365 * 24 * 60 * 60 * 1000;

/** When a job enqueued now with `runAt` or `delayMs` becomes claimable (`now` or earlier: at once). */
export function availableAtOf(now: number, timing: { runAt?: number; delayMs?: number }): number {
  if (timing.runAt !== undefined) return timing.runAt;
  return now + (timing.delayMs ?? 0);
}

export const BACKOFFS = ["exponential", "fixed"] as const;
export const DEFAULT_INITIAL_DELAY_MS = 10_000;
export const DEFAULT_MAX_DELAY_MS = 600_000;
/** Bounds of a retry policy's delays (a day for the first, a week for the cap). */
export const MAX_INITIAL_DELAY_MS = 24 * 60 * 60 * 1000;
export const MAX_RETRY_DELAY_MS = 7 * 24 * 60 * 60 * 1000;

export const retryPolicyValidator = v.object({
  backoff: v.union(...BACKOFFS.map((backoff) => v.literal(backoff))),
  initialDelayMs: v.number(),
  maxDelayMs: v.number(),
  jitter: v.boolean(),
});
/** A job's retry policy as stored, defaults filled in. */
export type RetryPolicy = Infer<typeof retryPolicyValidator>;

export function retryPolicyOf(sent: Partial<RetryPolicy> & Pick<RetryPolicy, "backoff">): RetryPolicy {
  return {
    backoff: sent.backoff,
    initialDelayMs: sent.initialDelayMs ?? DEFAULT_INITIAL_DELAY_MS,
    maxDelayMs: sent.maxDelayMs ?? DEFAULT_MAX_DELAY_MS,
    jitter: sent.jitter ?? true,
  };
}

/**
 * The back-off before attempt `attempt + 1`, after attempt `attempt` (1-based) failed: exponential
 * doubles from `initialDelayMs` (10 s, 20 s, 40 s, ...), fixed is `initialDelayMs`; both capped at
 * `maxDelayMs`. Jitter ("equal jitter") draws from [delay/2, delay], so retries of many jobs
 * failing together spread out while the delay still grows. `random` is in [0, 1).
 */
export function backoffDelayMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const steps = Math.max(0, attempt - 1);
  const base = policy.backoff === "fixed" ? policy.initialDelayMs : policy.initialDelayMs * 2 ** Math.min(steps, 40);
  const capped = Math.min(policy.maxDelayMs, base);
  if (!policy.jitter) return capped;
  const half = capped / 2;
  return Math.round(half + random() * half);
}

/**
 * The delay of a retry: the worker's `recommendedDelayMs` (clamped to [0, maxDelayMs], no jitter:
 * the worker knows why it waits, a rate limit's reset for example) when it sent one, else the back-off.
 */
export function retryDelayMs(
  policy: RetryPolicy,
  attempt: number,
  recommendedDelayMs?: number,
  random: () => number = Math.random,
): number {
  if (recommendedDelayMs !== undefined) return Math.min(policy.maxDelayMs, Math.max(0, recommendedDelayMs));
  return backoffDelayMs(policy, attempt, random);
}

/** `timeoutMs` bounds (10 s – 7 days). */
export const MIN_TIMEOUT_MS = 10_000;
export const MAX_TIMEOUT_MS = 7 * 24 * 60 * 60 * 1000;

/** How long a running job may go on after its cancel was requested before the server ends it. */
export const DEFAULT_CANCEL_GRACE_MS = 120_000;
export const MIN_CANCEL_GRACE_MS = 0;
export const MAX_CANCEL_GRACE_MS = 24 * 60 * 60 * 1000;
