/**
 * What admins do to workers (SPEC §6 "Drain from the Console"): drain (no new job whatever the
 * worker's heartbeat says; its heartbeat answer says `drainRequested`), undrain, and remove
 * (the worker row is deleted and the jobs it holds are recovered at once, as a lost lease would
 * be). Also `/v1/workers/list` (viewer+). Claim-next reads `drainRequested` (leases.ts).
 */
import type { PaginationResult } from "convex/server";
import { v } from "convex/values";
import type { Doc, Id } from "./_generated/dataModel";
import { internal } from "./_generated/api";
import { internalMutation, type MutationCtx } from "./_generated/server";
import { requestArgs } from "./api/convexArgs";
import { listWorkersRequest } from "./api/requests/workers";
import { recordAudit } from "./audit";
import { workspaceInternalQuery, workspaceMutation } from "./functions";
import { withJobBatch } from "./jobState";
import { apiError } from "./model/errors";
import { boundedPage } from "./model/pages";
import { recoverExpiredLease } from "./recovery";
import { requireWorker, workerView } from "./workers";

/** Jobs of a removed worker recovered per transaction; a full batch continues in the next. */
export const REMOVED_WORKER_BATCH = 100;

type AdminCtx = MutationCtx & { workspace: { workspaceId: Id<"workspaces"> }; userId: Id<"users"> };

async function setDrain(ctx: AdminCtx, workerId: Id<"workers">, drainRequested: boolean) {
  const worker = await requireWorker(ctx, ctx.workspace.workspaceId, workerId);
  if ((worker.drainRequested === true) === drainRequested) return null;
  await ctx.db.patch("workers", worker._id, { drainRequested });
  await recordAudit(ctx, {
    workspaceId: worker.workspaceId,
    action: drainRequested ? "worker.drained" : "worker.undrained",
    actor: { kind: "user", userId: ctx.userId },
    details: { workerId: worker._id, displayName: worker.displayName },
  });
  return null;
}

/** Console (admins): the worker gets no new job until undrained; its running job may finish. */
export const drain = workspaceMutation({
  minRole: "admin",
  args: { workerId: v.id("workers") },
  handler: async (ctx, { workerId }) => await setDrain(ctx, workerId, true),
});

export const undrain = workspaceMutation({
  minRole: "admin",
  args: { workerId: v.id("workers") },
  handler: async (ctx, { workerId }) => await setDrain(ctx, workerId, false),
});

/**
 * Recovers up to a batch of the running jobs `workerId` holds (back to pending, scheduled under a
 * retry policy, or ended when out of attempts: recovery.ts) and continues while a batch was full.
 */
async function recoverJobsOf(ctx: MutationCtx, workspaceId: Id<"workspaces">, workerId: Id<"workers">) {
  const held = await ctx.db
    .query("jobs")
    .withIndex("by_workspace_claimed_by_status", (q) =>
      q.eq("workspaceId", workspaceId).eq("claimedBy", workerId).eq("status", "running"),
    )
    .take(REMOVED_WORKER_BATCH);
  await withJobBatch(ctx, async () => {
    for (const job of held) await recoverExpiredLease(ctx, job);
  });
  if (held.length === REMOVED_WORKER_BATCH) {
    await ctx.scheduler.runAfter(0, internal.workerAdmin.recoverJobsOfRemovedWorker, { workspaceId, workerId });
  }
  return held.length;
}

export const recoverJobsOfRemovedWorker = internalMutation({
  args: { workspaceId: v.id("workspaces"), workerId: v.id("workers") },
  handler: async (ctx, { workspaceId, workerId }): Promise<number> => await recoverJobsOf(ctx, workspaceId, workerId),
});

/**
 * Console (admins): deletes the worker and recovers its jobs now; its lease calls then answer
 * LEASE_MISMATCH, and a later heartbeat from the machine registers it again under a new id.
 */
export const remove = workspaceMutation({
  minRole: "admin",
  args: { workerId: v.id("workers") },
  handler: async (ctx, { workerId }) => {
    const worker = await requireWorker(ctx, ctx.workspace.workspaceId, workerId);
    await ctx.db.delete("workers", worker._id);
    const recovered = await recoverJobsOf(ctx, worker.workspaceId, worker._id);
    await recordAudit(ctx, {
      workspaceId: worker.workspaceId,
      action: "worker.removed",
      actor: { kind: "user", userId: ctx.userId },
      details: { workerId: worker._id, displayName: worker.displayName, recoveredJobs: recovered },
    });
    return { recoveredJobs: recovered };
  },
});

/** A worker as `/v1/workers/list` answers it. */
function listedWorker(worker: Doc<"workers">) {
  return { ...workerView(worker), online: worker.online === true, drainRequested: worker.drainRequested === true };
}

/** `POST /v1/workers/list` (viewer+): most recently seen first. */
export const list = workspaceInternalQuery({
  minRole: "viewer",
  args: requestArgs(listWorkersRequest),
  handler: async (ctx, { limit, cursor }) => {
    const query = () =>
      ctx.db
        .query("workers")
        .withIndex("by_workspace_last_seen", (q) => q.eq("workspaceId", ctx.access.workspaceId))
        .order("desc");
    let page: PaginationResult<Doc<"workers">>;
    try {
      page = await query().paginate(boundedPage({ numItems: limit, cursor: cursor ?? null }));
    } catch (error) {
      if (cursor === undefined) throw error;
      throw apiError("INVALID_REQUEST", "cursor: is not a cursor this route returned.", {
        issues: [{ path: "cursor", message: "is not a cursor this route returned." }],
      });
    }
    return { workers: page.page.map(listedWorker), nextCursor: page.isDone ? null : page.continueCursor };
  },
});
