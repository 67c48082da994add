/**
 * Workers (SPEC §6 "Workers"). Owns `workers`. `/v1/workers/heartbeat` upserts a worker;
 * claim-next reads it through `requireWorker`; the Console lists workers with an online flag.
 */
import { paginationOptsValidator } from "convex/server";
import { v } from "convex/values";
import { z } from "zod";
import { internal } from "./_generated/api";
import type { Doc, Id } from "./_generated/dataModel";
import { internalMutation, type QueryCtx } from "./_generated/server";
import { requireId } from "./access";
import { requestArgs } from "./api/convexArgs";
import { workerIdentityFields } from "./api/requests/workers";
import { workspaceInternalMutation, workspaceQuery } from "./functions";
import { apiError } from "./model/errors";
import { WORKER_ONLINE_WINDOW_MS } from "./model/leases";
import {
  capabilitiesValidator,
  extraCapabilitiesValidator,
  listedCapabilities,
  type Capabilities,
} from "./model/capabilities";
import { workerInventoryValidator } from "./model/workers";
import { boundedPage } from "./model/pages";
import { takeWithinBudget } from "./model/jobActivity";
import { utf8Bytes } from "./model/jobs";
import { sweepBatch } from "./sweeps";

/** The worker `rawWorkerId` names in this workspace; another workspace's worker answers like a missing one. */
export async function requireWorker(
  ctx: QueryCtx,
  workspaceId: Id<"workspaces">,
  rawWorkerId: string,
): Promise<Doc<"workers">> {
  const worker = await ctx.db.get("workers", requireId(ctx, "workers", rawWorkerId, "workerId"));
  if (worker === null || worker.workspaceId !== workspaceId) {
    throw apiError("WORKER_NOT_FOUND", "workerId: no worker with this id in this workspace.");
  }
  return worker;
}

/**
 * Keeps only `reposAllowed` entries that are repo ids at all. Entries naming repos of other
 * workspaces (or deleted ones) stay and are ignored at claim time, where they match no queue
 * stream; checking them here would cost a read per entry on every heartbeat.
 */
function normalizedCapabilities(ctx: QueryCtx, capabilities: Capabilities): Capabilities {
  if (capabilities.reposAllowed === undefined) return capabilities;
  const repoIds = capabilities.reposAllowed.flatMap((raw) => {
    const id = ctx.db.normalizeId("repos", raw); // the route schema (`idOf`) already stripped any `repos/` prefix
    return id === null ? [] : [id as string];
  });
  return { ...capabilities, reposAllowed: [...new Set(repoIds)] };
}

// ---- HTTP layer ------------------------------------------------------------------------------

/** A worker as listed: its kept unknown capability keys shown among its capabilities, as it sent them. */
export function workerView(worker: Doc<"workers">) {
  const { extraCapabilities, ...rest } = worker;
  return { ...rest, capabilities: listedCapabilities(worker.capabilities, extraCapabilities) };
}

/**
 * `POST /v1/workers/heartbeat`: upserts by (workspace, machineFingerprint), or by displayName
 * when no fingerprint is sent. Reads the access check's document and at most one worker.
 * `extraCapabilities` (the kept unknown keys, model/capabilities.ts) replace the stored ones.
 */
export const heartbeat = workspaceInternalMutation({
  minRole: "member",
  // The route reshapes capabilities (known and kept extra keys) and gathers the inventory fields.
  args: {
    ...requestArgs(z.object(workerIdentityFields)),
    capabilities: capabilitiesValidator,
    extraCapabilities: v.optional(extraCapabilitiesValidator),
    inventory: workerInventoryValidator,
  },
  handler: async (ctx, { machineFingerprint, displayName, ...fields }) => {
    const { workspaceId } = ctx.access;
    const existing = await ctx.db
      .query("workers")
      .withIndex("by_workspace_identity", (q) => {
        const byFingerprint = q.eq("workspaceId", workspaceId).eq("machineFingerprint", machineFingerprint);
        return machineFingerprint === undefined ? byFingerprint.eq("displayName", displayName) : byFingerprint;
      })
      .first();
    const worker = {
      displayName,
      status: fields.status,
      capabilities: normalizedCapabilities(ctx, fields.capabilities),
      extraCapabilities: fields.extraCapabilities,
      inventory: fields.inventory,
      lastSeenAt: Date.now(),
      online: fields.status === "online",
    };
    if (existing !== null) {
      await ctx.db.patch("workers", existing._id, worker);
      return { workerId: existing._id, drainRequested: existing.drainRequested === true };
    }
    const workerId = await ctx.db.insert("workers", { workspaceId, machineFingerprint, ...worker });
    return { workerId, drainRequested: false };
  },
});

// ---- Console ---------------------------------------------------------------------------------

/** Running jobs read to show workers' current jobs; past either bound some show none. */
const CURRENT_JOBS_LIMITS = { maxItems: 200, maxBytes: 2 * 1024 * 1024 };

/**
 * Workers of the workspace, most recently seen first, each with `online` (the stored flag, so a
 * live subscription updates when the cron below turns it off: no clock read in the query) and
 * `currentJobs`: the running jobs it holds (id, kind, claimedAt).
 */
export const list = workspaceQuery({
  args: { paginationOpts: paginationOptsValidator },
  handler: async (ctx, { paginationOpts }) => {
    const { workspaceId } = ctx.workspace;
    const page = await ctx.db
      .query("workers")
      .withIndex("by_workspace_last_seen", (q) => q.eq("workspaceId", workspaceId))
      .order("desc")
      .paginate(boundedPage(paginationOpts));
    const running = await takeWithinBudget(
      ctx.db
        .query("jobs")
        .withIndex("by_workspace_status", (q) => q.eq("workspaceId", workspaceId).eq("status", "running")),
      CURRENT_JOBS_LIMITS,
      (job) => utf8Bytes(JSON.stringify(job)),
    );
    const currentJobs = (workerId: Id<"workers">) =>
      running.items
        .filter((job) => job.claimedBy === workerId)
        .map((job) => ({ _id: job._id, kind: job.kind, claimedAt: job.claimedAt ?? null }));
    return {
      ...page,
      page: page.page.map((worker) => ({
        ...workerView(worker),
        online: worker.online === true,
        currentJobs: currentJobs(worker._id),
      })),
    };
  },
});

// ---- Cron ------------------------------------------------------------------------------------

const SILENT_BATCH = 200;

/** Cron: workers not seen for WORKER_ONLINE_WINDOW_MS (60 s) are no longer shown online. */
export const markSilentWorkersOffline = internalMutation({
  args: {},
  handler: async (ctx): Promise<{ markedOffline: number }> => {
    const silent = await ctx.db
      .query("workers")
      .withIndex("by_online_last_seen", (q) =>
        q.eq("online", true).lte("lastSeenAt", Date.now() - WORKER_ONLINE_WINDOW_MS),
      )
      .take(SILENT_BATCH);
    const batch = { documents: silent, size: SILENT_BATCH, again: internal.workers.markSilentWorkersOffline };
    return {
      markedOffline: await sweepBatch(ctx, batch, (worker) => ctx.db.patch("workers", worker._id, { online: false })),
    };
  },
});
