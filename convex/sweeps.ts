/**
 * The shape every cron sweep shares: one bounded batch per transaction (Convex's transaction
 * limits), each document changed, and a full batch continued at once in a fresh transaction.
 */
import type { FunctionReference } from "convex/server";
import type { MutationCtx } from "./_generated/server";

export async function sweepBatch<T>(
  ctx: MutationCtx,
  batch: { documents: T[]; size: number; again: FunctionReference<"mutation", "internal", Record<string, never>> },
  change: (document: T) => Promise<unknown>,
): Promise<number> {
  for (const document of batch.documents) await change(document);
  if (batch.documents.length === batch.size) await ctx.scheduler.runAfter(0, batch.again, {});
  return batch.documents.length;
}
