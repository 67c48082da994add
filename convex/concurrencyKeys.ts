/**
 * The admission side of concurrency keys (SPEC §6 "Concurrency"), for jobState.ts: a job with a
 * `concurrencyKey` enters the claimable `pending` range only when its key has room (`admitted`
 * below the key's limit); otherwise it is `waiting`, outside every range claim-next reads. One
 * document per (workspace, key) counts the admitted jobs (`pending` + `running`). Only
 * transitions of jobs of the same key read and write it: the intended serialization. claim-next
 * moves `pending` → `running`, which changes no count, and never reads it.
 * The count goes down shortly after an admitted job leaves (a scheduled `concurrency:jobLeft`,
 * so the worker's completion reads nothing more), which also admits the next waiting job: the
 * count is never below the jobs actually admitted, so a key never runs more than its limit.
 */
import type { Doc, Id } from "./_generated/dataModel";
import type { MutationCtx, QueryCtx } from "./_generated/server";
import { DEFAULT_CONCURRENCY_LIMIT, type JobStatus } from "./model/jobs";

/** The statuses a key's count covers: claimable or held by a worker. */
export function isAdmitted(status: JobStatus): boolean {
  return status === "pending" || status === "running";
}

export async function concurrencyKeyOf(
  ctx: QueryCtx,
  workspaceId: Id<"workspaces">,
  key: string,
): Promise<Doc<"concurrencyKeys"> | null> {
  return await ctx.db
    .query("concurrencyKeys")
    .withIndex("by_workspace_key", (q) => q.eq("workspaceId", workspaceId).eq("key", key))
    .unique();
}

export function limitOf(doc: Pick<Doc<"concurrencyKeys">, "limit"> | null): number {
  return doc?.limit ?? DEFAULT_CONCURRENCY_LIMIT;
}

/**
 * Admits one job of `key` if the key has room, counting it (one read and one write of the key's
 * document); false: the key is full and the job must wait.
 */
export async function admitIfRoom(ctx: MutationCtx, workspaceId: Id<"workspaces">, key: string): Promise<boolean> {
  const doc = await concurrencyKeyOf(ctx, workspaceId, key);
  const now = Date.now();
  if (doc === null) {
    await ctx.db.insert("concurrencyKeys", { workspaceId, key, admitted: 1, updatedAt: now });
    return true;
  }
  if (doc.admitted >= limitOf(doc)) return false;
  await ctx.db.patch("concurrencyKeys", doc._id, { admitted: doc.admitted + 1, updatedAt: now });
  return true;
}
