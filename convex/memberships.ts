/**
 * Memberships (who belongs to which workspace, with which role). Owns the `memberships` table:
 * every read and write of it goes through these helpers. Access checks (access.ts, functions.ts)
 * read through `membershipOf`; workspaces.ts adds the creator as owner; members.ts is the Console
 * management on top.
 */
import type { Doc, Id } from "./_generated/dataModel";
import type { MutationCtx, QueryCtx } from "./_generated/server";
import type { Role } from "./model/roles";

export async function membershipOf(
  ctx: QueryCtx,
  workspaceId: Id<"workspaces">,
  userId: Id<"users">,
): Promise<Doc<"memberships"> | null> {
  return await ctx.db
    .query("memberships")
    .withIndex("by_workspace_user", (q) => q.eq("workspaceId", workspaceId).eq("userId", userId))
    .unique();
}

export async function addMembership(ctx: MutationCtx, workspaceId: Id<"workspaces">, userId: Id<"users">, role: Role) {
  return await ctx.db.insert("memberships", { workspaceId, userId, role });
}

/** Members of a workspace, at most `limit`. */
export async function membersOf(ctx: QueryCtx, workspaceId: Id<"workspaces">, limit: number) {
  return await ctx.db
    .query("memberships")
    .withIndex("by_workspace_user", (q) => q.eq("workspaceId", workspaceId))
    .take(limit);
}

/** Owners of a workspace, at most `limit` (2 tells whether there is another one). */
export async function ownersOf(ctx: QueryCtx, workspaceId: Id<"workspaces">, limit: number) {
  return await ctx.db
    .query("memberships")
    .withIndex("by_workspace_role", (q) => q.eq("workspaceId", workspaceId).eq("role", "owner"))
    .take(limit);
}

/** The workspaces a user belongs to, at most `limit`. */
export async function membershipsOfUser(ctx: QueryCtx, userId: Id<"users">, limit: number) {
  return await ctx.db
    .query("memberships")
    .withIndex("by_user", (q) => q.eq("userId", userId))
    .take(limit);
}

export async function setMembershipRole(ctx: MutationCtx, membership: Doc<"memberships">, role: Role) {
  await ctx.db.patch("memberships", membership._id, { role });
}

export async function removeMembership(ctx: MutationCtx, membership: Doc<"memberships">) {
  await ctx.db.delete("memberships", membership._id);
}
