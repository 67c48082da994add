/**
 * Exponential back-off with jitter, shared by the HTTP client's retries and the worker's idle
 * polling. Pure: the random source is injected so tests can pin it.
 */

export type BackoffPolicy = {
  /** Delay before the first retry (attempt 1). */
  baseMs: number;
  /** Ceiling for any single delay. */
  maxMs: number;
  /** Fraction of the delay that is randomised: 0 = none, 1 = anywhere in [0, delay]. */
  jitter: number;
};

/**
 * The wait before retry number `attempt` (1-based): base * 2^(attempt-1), capped at max, then
 * up to `jitter` of it taken off at random so many workers started together do not poll in step.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 30));
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** exponent);
  const jitter = Math.min(1, Math.max(0, policy.jitter));
  return Math.round(ceiling * (1 - jitter * random()));
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
