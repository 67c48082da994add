/**
 * Concurrency keys (SPEC §6 "Concurrency"): the admission of waiting jobs and the admins' per-key
 * limits. concurrencyKeys.ts counts a key's admitted jobs (`pending` + `running`) as they enter;
 * this module counts them out (`jobLeft`, scheduled by moveJob when an admitted job leaves) and
 * admits the key's next waiting jobs, in admission order (lowest priority, then oldest), while the
 * key has room. A raised limit admits at once (in batches of ADMIT_BATCH, rescheduled); a lowered
 * one takes effect as admitted jobs leave. claim-next never reads any of this: a full key's jobs
 * are `waiting`, outside the `pending` range it walks, so they cost it nothing and hide nothing.
 */
import { v } from "convex/values";
import type { Doc, Id } from "./_generated/dataModel";
import { internal } from "./_generated/api";
import { internalMutation, type MutationCtx } from "./_generated/server";
import { recordConsoleChange } from "./audit";
import { concurrencyKeyOf, limitOf } from "./concurrencyKeys";
import { workspaceMutation, workspaceQuery } from "./functions";
import { moveJob } from "./jobState";
import { apiError } from "./model/errors";
import { DEFAULT_CONCURRENCY_LIMIT, MAX_CONCURRENCY_KEY_CHARS, MAX_CONCURRENCY_LIMIT } from "./model/jobs";

/** Waiting jobs one transaction admits at most; more go on in a scheduled run. */
export const ADMIT_BATCH = 50;

/** The first waiting job of `key`, in admission order. */
async function nextWaiting(ctx: MutationCtx, workspaceId: Id<"workspaces">, key: string) {
  return await ctx.db
    .query("jobs")
    .withIndex("by_workspace_concurrency_key", (q) =>
      q.eq("workspaceId", workspaceId).eq("concurrencyKey", key).eq("status", "waiting"),
    )
    .first();
}

/** Admits waiting jobs of the key while it has room (at most ADMIT_BATCH here, the rest scheduled). */
async function admitWaiting(
  ctx: MutationCtx,
  keyDoc: Doc<"concurrencyKeys">,
  counted = keyDoc.admitted,
): Promise<number> {
  let admitted = counted;
  let moved = 0;
  while (admitted < limitOf(keyDoc)) {
    if (moved === ADMIT_BATCH) {
      await ctx.scheduler.runAfter(0, internal.concurrency.admit, { workspaceId: keyDoc.workspaceId, key: keyDoc.key });
      break;
    }
    const job = await nextWaiting(ctx, keyDoc.workspaceId, keyDoc.key);
    if (job === null) break;
    admitted++;
    moved++;
    await moveJob(ctx, job, "pending", { event: { type: "admitted", data: { concurrencyKey: keyDoc.key } } });
  }
  if (admitted !== keyDoc.admitted)
    await ctx.db.patch("concurrencyKeys", keyDoc._id, { admitted, updatedAt: Date.now() });
  return moved;
}

const keyArgs = { workspaceId: v.id("workspaces"), key: v.string() };

/** Scheduled by moveJob when an admitted job of `key` left: one fewer admitted, then the next admitted. */
export const jobLeft = internalMutation({
  args: keyArgs,
  handler: async (ctx, { workspaceId, key }) => {
    const keyDoc = await concurrencyKeyOf(ctx, workspaceId, key);
    if (keyDoc === null) return null;
    await admitWaiting(ctx, keyDoc, Math.max(0, keyDoc.admitted - 1));
    return null;
  },
});

/** The rest of a large admission (a raised limit, many waiting jobs). */
export const admit = internalMutation({
  args: keyArgs,
  handler: async (ctx, { workspaceId, key }) => {
    const keyDoc = await concurrencyKeyOf(ctx, workspaceId, key);
    if (keyDoc !== null) await admitWaiting(ctx, keyDoc);
    return null;
  },
});

function requireKey(key: string): string {
  if (key.length === 0 || key.length > MAX_CONCURRENCY_KEY_CHARS)
    throw apiError("INVALID_REQUEST", `key: must be 1 to ${MAX_CONCURRENCY_KEY_CHARS} characters.`, {
      issues: [{ path: "key", message: `must be 1 to ${MAX_CONCURRENCY_KEY_CHARS} characters` }],
    });
  return key;
}

/**
 * Console (admins): sets a key's limit (`limit` null: back to the default, 1). Audited
 * (`concurrency.limit_set`). Raising it admits waiting jobs at once; lowering it stops admissions
 * until enough admitted jobs have left (running jobs are never stopped).
 */
export const setLimit = workspaceMutation({
  minRole: "admin",
  args: { key: v.string(), limit: v.union(v.number(), v.null()) },
  handler: async (ctx, args) => {
    const { workspaceId } = ctx.workspace;
    const key = requireKey(args.key);
    const { limit } = args;
    if (limit !== null && !(Number.isInteger(limit) && limit >= 1 && limit <= MAX_CONCURRENCY_LIMIT))
      throw apiError("INVALID_REQUEST", `limit: must be an integer from 1 to ${MAX_CONCURRENCY_LIMIT}, or null.`, {
        issues: [{ path: "limit", message: `must be an integer from 1 to ${MAX_CONCURRENCY_LIMIT}, or null` }],
      });
    const stored = await concurrencyKeyOf(ctx, workspaceId, key);
    const fields = { limit: limit ?? undefined, updatedAt: Date.now() };
    let keyDoc: Doc<"concurrencyKeys">;
    if (stored === null) {
      const id = await ctx.db.insert("concurrencyKeys", { workspaceId, key, admitted: 0, ...fields });
      keyDoc = (await ctx.db.get("concurrencyKeys", id))!;
    } else {
      await ctx.db.patch("concurrencyKeys", stored._id, fields);
      keyDoc = { ...stored, ...fields };
    }
    await recordConsoleChange(ctx, "concurrency.limit_set", {
      key,
      limit: limit ?? null,
      previousLimit: stored?.limit ?? null,
    });
    const admitted = await admitWaiting(ctx, keyDoc);
    return { key, limit: limitOf(keyDoc), admitted: keyDoc.admitted + admitted, newlyAdmitted: admitted };
  },
});

/** Console: the workspace's concurrency keys with a limit set or jobs admitted (at most 200), by key. */
export const listKeys = workspaceQuery({
  args: {},
  handler: async (ctx) => {
    const keys = await ctx.db
      .query("concurrencyKeys")
      .withIndex("by_workspace_key", (q) => q.eq("workspaceId", ctx.workspace.workspaceId))
      .take(200);
    return keys.map((doc) => ({
      key: doc.key,
      limit: limitOf(doc),
      limitSet: doc.limit !== undefined,
      admitted: doc.admitted,
      defaultLimit: DEFAULT_CONCURRENCY_LIMIT,
    }));
  },
});
