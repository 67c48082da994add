import { v } from "convex/values";
import type { Doc, Id } from "./_generated/dataModel";
import { internalMutation, type MutationCtx, type QueryCtx } from "./_generated/server";
import { canSeeWorkspace } from "./access";
import { bodyArgs } from "./api/convexArgs";
import { resolveWorkspaceRequest } from "./api/requests/misc";
import { recordAudit } from "./audit";
import { callerInternalQuery, userMutation, userQuery, workspaceMutation, workspaceQuery } from "./functions";
import { addMembership, membersOf, membershipsOfUser } from "./memberships";
import { apiError } from "./model/errors";
import { dataPolicyValidator, type DataPolicy } from "./model/roles";
import { DEFAULT_CANCEL_GRACE_MS, MAX_CANCEL_GRACE_MS, MIN_CANCEL_GRACE_MS } from "./model/scheduling";
import { isValidSlug, LOCAL_WORKSPACE_SLUG, SLUG_RULE } from "./model/slug";

/** The public face of a workspace on the wire. */
export function workspaceSummary(workspace: Doc<"workspaces">) {
  return { _id: workspace._id, slug: workspace.slug, name: workspace.name };
}

export async function findBySlug(ctx: QueryCtx, slug: string): Promise<Doc<"workspaces"> | null> {
  return await ctx.db
    .query("workspaces")
    .withIndex("by_slug", (q) => q.eq("slug", slug))
    .unique();
}

/**
 * Creates a workspace with its first owner. Shared by the Console and local-mode bootstrap.
 * Slugs are unique: a taken slug answers CONFLICT.
 */
export async function createWorkspace(
  ctx: MutationCtx,
  fields: { slug: string; name: string; ownerId: Id<"users">; dataPolicy?: DataPolicy },
): Promise<Id<"workspaces">> {
  if (!isValidSlug(fields.slug)) {
    throw apiError("INVALID_REQUEST", `slug: must be ${SLUG_RULE}.`, {
      issues: [{ path: "slug", message: `must be ${SLUG_RULE}` }],
    });
  }
  const name = fields.name.trim();
  if (name.length === 0 || name.length > 120) {
    throw apiError("INVALID_REQUEST", "name: must be 1–120 characters.", {
      issues: [{ path: "name", message: "must be 1–120 characters" }],
    });
  }
  if ((await findBySlug(ctx, fields.slug)) !== null) {
    throw apiError("CONFLICT", `The slug "${fields.slug}" is taken.`);
  }
  const workspaceId = await ctx.db.insert("workspaces", {
    slug: fields.slug,
    name,
    dataPolicy: fields.dataPolicy ?? "full",
    createdBy: fields.ownerId,
  });
  await addMembership(ctx, workspaceId, fields.ownerId, "owner");
  return workspaceId;
}

// ---- HTTP layer ------------------------------------------------------------------------------

/** `POST /v1/workspaces/resolve`: missing and inaccessible slugs give the same null answer. */
export const resolveBySlug = callerInternalQuery({
  args: bodyArgs(resolveWorkspaceRequest),
  handler: async (ctx, { slug }) => {
    const workspace = await findBySlug(ctx, slug);
    if (workspace === null || !(await canSeeWorkspace(ctx, ctx.caller, workspace._id))) {
      return { workspaceId: null, workspace: null };
    }
    return { workspaceId: workspace._id, workspace: workspaceSummary(workspace) };
  },
});

// ---- Console ---------------------------------------------------------------------------------

/** Creates a workspace; the signed-in user becomes its owner. */
export const create = userMutation({
  args: { slug: v.string(), name: v.string() },
  returns: v.id("workspaces"),
  handler: async (ctx, { slug, name }) => {
    const workspaceId = await createWorkspace(ctx, { slug, name, ownerId: ctx.userId });
    await recordAudit(ctx, {
      workspaceId,
      action: "workspace.created",
      actor: { kind: "user", userId: ctx.userId },
      details: { slug, name: name.trim() },
    });
    return workspaceId;
  },
});

/** The workspaces the signed-in user belongs to, with their role in each. */
export const listMine = userQuery({
  args: {},
  handler: async (ctx) => {
    const memberships = await membershipsOfUser(ctx, ctx.userId, 500);
    const rows = await Promise.all(
      memberships.map(async (membership) => {
        const workspace = await ctx.db.get("workspaces", membership.workspaceId);
        return workspace === null
          ? null
          : { ...workspaceSummary(workspace), dataPolicy: workspace.dataPolicy, role: membership.role };
      }),
    );
    return rows.filter((row) => row !== null);
  },
});

/** What integration content the workspace keeps (SPEC §8). Admins only. */
export const setDataPolicy = workspaceMutation({
  minRole: "admin",
  args: { dataPolicy: dataPolicyValidator },
  handler: async (ctx, { dataPolicy }) => {
    const workspace = (await ctx.db.get("workspaces", ctx.workspace.workspaceId))!;
    if (workspace.dataPolicy === dataPolicy) return null;
    await ctx.db.patch("workspaces", workspace._id, { dataPolicy });
    await recordAudit(ctx, {
      workspaceId: workspace._id,
      action: "workspace.data_policy_changed",
      actor: { kind: "user", userId: ctx.userId },
      details: { from: workspace.dataPolicy, to: dataPolicy },
    });
    return null;
  },
});

/** Console: the workspace's cancel grace (any member sees it), and whether it is the default. */
export const cancelGrace = workspaceQuery({
  args: {},
  handler: async (ctx) => {
    const workspace = (await ctx.db.get("workspaces", ctx.workspace.workspaceId))!;
    return {
      cancelGraceMs: workspace.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS,
      isDefault: workspace.cancelGraceMs === undefined,
    };
  },
});

/** Console: how long a running job may go on after its cancel was requested (SPEC §6 "Cancel grace"). */
export const setCancelGrace = workspaceMutation({
  minRole: "admin",
  args: { cancelGraceMs: v.number() },
  handler: async (ctx, { cancelGraceMs }) => {
    if (
      !Number.isSafeInteger(cancelGraceMs) ||
      cancelGraceMs < MIN_CANCEL_GRACE_MS ||
      cancelGraceMs > MAX_CANCEL_GRACE_MS
    )
      throw apiError("INVALID_REQUEST", "cancelGraceMs: must be an integer from 0 ms to 24 hours.");
    const workspace = (await ctx.db.get("workspaces", ctx.workspace.workspaceId))!;
    const from = workspace.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS;
    if (from === cancelGraceMs) return null;
    await ctx.db.patch("workspaces", workspace._id, { cancelGraceMs });
    await recordAudit(ctx, {
      workspaceId: workspace._id,
      action: "workspace.cancel_grace_changed",
      actor: { kind: "user", userId: ctx.userId },
      details: { from, to: cancelGraceMs },
    });
    return null;
  },
});

// ---- Local mode ------------------------------------------------------------------------------

/**
 * Local-mode first start: a local owner user and workspace `local`. Idempotent, so every start
 * may call it.
 */
export const ensureLocalWorkspace = internalMutation({
  args: { slug: v.string() },
  handler: async (ctx, { slug }) => {
    const existing = await findBySlug(ctx, slug);
    if (existing !== null) return { workspaceId: existing._id, created: false };
    const ownerId = await ctx.db.insert("users", { name: "Local owner" });
    const workspaceId = await createWorkspace(ctx, { slug, name: "Local workspace", ownerId });
    return { workspaceId, created: true };
  },
});

/**
 * Local mode: the first person to sign up becomes an owner of workspace `local`, beside the
 * bootstrap "Local owner", so one developer's Console shows the queue their CLI and workers use
 * (docs/local-mode.md). Only while `local` has no other member: later sign-ups make their own
 * workspaces or are added by an admin. Called by auth.ts for every new account.
 */
export async function joinLocalWorkspaceIfFirst(ctx: MutationCtx, userId: Id<"users">): Promise<boolean> {
  if (process.env.IAS_LOCAL_MODE !== "true") return false;
  const workspace = await findBySlug(ctx, LOCAL_WORKSPACE_SLUG);
  if (workspace === null) return false;
  const members = await membersOf(ctx, workspace._id, 2);
  if (members.some((member) => member.userId !== workspace.createdBy)) return false;
  await addMembership(ctx, workspace._id, userId, "owner");
  await recordAudit(ctx, {
    workspaceId: workspace._id,
    action: "member.added",
    actor: { kind: "user", userId },
    targetUserId: userId,
    details: { role: "owner", via: "local_first_sign_up" },
  });
  return true;
}
