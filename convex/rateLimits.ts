/**
 * The table-backed rate limiter: one token bucket per key (model/rateLimits.ts holds the math
 * and the limits). Callers take from their buckets inside their own mutation and, when refused,
 * return a `Refusal` instead of throwing, so every token taken before a later refusal (a wrong
 * device secret) stays taken. Callers take a bucket only for a key that names an existing
 * record, so the table holds at most one row per workspace and per device session.
 */
import { internal } from "./_generated/api";
import { internalMutation, type MutationCtx } from "./_generated/server";
import { refusal, type Refusal } from "./model/errors";
import { LONGEST_PERIOD_MS, takeFromAll, type BucketConfig } from "./model/rateLimits";
import { sweepBatch } from "./sweeps";

export type RateLimit = { key: string; config: BucketConfig };

/**
 * Takes one token from each bucket, or none when any is empty. A refused request writes
 * nothing (it took nothing), so a flood of refused requests causes no writes.
 */
export async function takeRateLimits(ctx: MutationCtx, limits: RateLimit[]): Promise<Refusal | null> {
  const now = Date.now();
  const rows = await Promise.all(
    limits.map(({ key }) =>
      ctx.db
        .query("rateLimits")
        .withIndex("by_key", (q) => q.eq("key", key))
        .unique(),
    ),
  );
  const result = takeFromAll(
    limits.map(({ config }, i) => ({ state: rows[i] ?? null, config })),
    now,
  );
  if (!result.allowed) {
    const seconds = Math.ceil(result.retryAfterMs / 1000);
    return refusal("RATE_LIMITED", `Too many requests; try again in ${seconds} s.`, {
      retryAfterMs: result.retryAfterMs,
    });
  }
  await Promise.all(
    limits.map(({ key }, i) => {
      const { tokens, updatedAt } = result.states[i]!;
      const row = rows[i];
      return row
        ? ctx.db.patch("rateLimits", row._id, { tokens, updatedAt })
        : ctx.db.insert("rateLimits", { key, tokens, updatedAt });
    }),
  );
  return null;
}

/** Cron: deletes buckets untouched long enough to be full again (a missing row means full). */
const SWEEP_BATCH = 500;

export const sweepIdleBuckets = internalMutation({
  args: {},
  handler: async (ctx): Promise<{ deleted: number }> => {
    const idle = await ctx.db
      .query("rateLimits")
      .withIndex("by_updated", (q) => q.lt("updatedAt", Date.now() - LONGEST_PERIOD_MS))
      .take(SWEEP_BATCH);
    const again = internal.rateLimits.sweepIdleBuckets;
    return {
      deleted: await sweepBatch(ctx, { documents: idle, size: SWEEP_BATCH, again }, (row) =>
        ctx.db.delete("rateLimits", row._id),
      ),
    };
  },
});
