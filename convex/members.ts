/**
 * Console member management (SPEC §3, §9): list, add (by email or user id), remove, change
 * role. Who may do what is model/members.ts; the last owner can be neither removed nor
 * demoted. Removing a member revokes their device tokens of that workspace, so their workers
 * stop at once and stay stopped even if they are added back later.
 */
import { v } from "convex/values";
import type { Doc, Id } from "./_generated/dataModel";
import type { QueryCtx } from "./_generated/server";
import type { WorkspaceAccess } from "./access";
import { addMembership, membersOf, membershipOf, ownersOf, removeMembership, setMembershipRole } from "./memberships";
import { recordAudit } from "./audit";
import { workspaceMutation, workspaceQuery } from "./functions";
import { apiError } from "./model/errors";
import { membershipChangeProblem } from "./model/members";
import { roleValidator, type Role } from "./model/roles";
import { revokeLiveTokensOf } from "./tokens";

const MEMBER_LIST_LIMIT = 500;
/** Everyone in the workspace with their role. Any member may see it. */
export const list = workspaceQuery({
  args: {},
  handler: async (ctx) => {
    const memberships = await membersOf(ctx, ctx.workspace.workspaceId, MEMBER_LIST_LIMIT);
    return await Promise.all(
      memberships.map(async ({ userId, role }) => {
        const user = await ctx.db.get("users", userId);
        return { userId, role, name: user?.name ?? null, email: user?.email ?? null };
      }),
    );
  },
});

async function userByEmail(ctx: QueryCtx, email: string): Promise<Doc<"users"> | null> {
  const byEmail = (address: string) =>
    ctx.db
      .query("users")
      .withIndex("email", (q) => q.eq("email", address))
      .first();
  const trimmed = email.trim();
  return (await byEmail(trimmed)) ?? (trimmed === trimmed.toLowerCase() ? null : await byEmail(trimmed.toLowerCase()));
}

function requireAllowed(access: WorkspaceAccess, from: Role | null, to: Role | null) {
  const problem = membershipChangeProblem(access.role, from, to);
  if (problem !== null) throw apiError("FORBIDDEN", problem);
}

/** Refuses to leave a workspace without an owner. */
async function requireAnotherOwner(ctx: QueryCtx, workspaceId: Id<"workspaces">, what: string) {
  const owners = await ownersOf(ctx, workspaceId, 2);
  if (owners.length < 2)
    throw apiError("LAST_OWNER", `${what} would leave the workspace without an owner; make someone else owner first.`);
}

async function requireMembership(ctx: QueryCtx, workspaceId: Id<"workspaces">, userId: Id<"users">) {
  const membership = await membershipOf(ctx, workspaceId, userId);
  if (membership === null) throw apiError("MEMBER_NOT_FOUND", "That user is not a member of this workspace.");
  return membership;
}

/** Admins: adds an existing user, found by email or id, with a role no higher than their own. */
export const add = workspaceMutation({
  minRole: "admin",
  args: { email: v.optional(v.string()), userId: v.optional(v.id("users")), role: roleValidator },
  handler: async (ctx, { email, userId, role }) => {
    if ((email === undefined) === (userId === undefined)) {
      throw apiError("INVALID_REQUEST", "Give either email or userId.", {
        issues: [{ path: "email", message: "give either email or userId" }],
      });
    }
    const user = userId !== undefined ? await ctx.db.get("users", userId) : await userByEmail(ctx, email!);
    if (user === null)
      throw apiError("USER_NOT_FOUND", "No account has this email or id; the person must sign up first.");
    requireAllowed(ctx.workspace, null, role);
    const workspaceId = ctx.workspace.workspaceId;
    if ((await membershipOf(ctx, workspaceId, user._id)) !== null)
      throw apiError("CONFLICT", "That user is already a member.");
    await addMembership(ctx, workspaceId, user._id, role);
    await recordAudit(ctx, {
      workspaceId,
      action: "member.added",
      actor: { kind: "user", userId: ctx.userId },
      targetUserId: user._id,
      details: { role },
    });
    return { userId: user._id, role };
  },
});

/** Admins: changes a member's role. */
export const setRole = workspaceMutation({
  minRole: "admin",
  args: { userId: v.id("users"), role: roleValidator },
  handler: async (ctx, { userId, role }) => {
    const workspaceId = ctx.workspace.workspaceId;
    const membership = await requireMembership(ctx, workspaceId, userId);
    requireAllowed(ctx.workspace, membership.role, role);
    if (membership.role === role) return { userId, role };
    if (membership.role === "owner") await requireAnotherOwner(ctx, workspaceId, "Demoting the last owner");
    await setMembershipRole(ctx, membership, role);
    await recordAudit(ctx, {
      workspaceId,
      action: "member.role_changed",
      actor: { kind: "user", userId: ctx.userId },
      targetUserId: userId,
      details: { from: membership.role, to: role },
    });
    return { userId, role };
  },
});

/** Admins: removes a member and revokes their device tokens of this workspace. */
export const remove = workspaceMutation({
  minRole: "admin",
  args: { userId: v.id("users") },
  handler: async (ctx, { userId }) => {
    const workspaceId = ctx.workspace.workspaceId;
    const membership = await requireMembership(ctx, workspaceId, userId);
    requireAllowed(ctx.workspace, membership.role, null);
    if (membership.role === "owner") await requireAnotherOwner(ctx, workspaceId, "Removing the last owner");
    await removeMembership(ctx, membership);
    const actor = { kind: "user" as const, userId: ctx.userId };
    const tokensRevoked = await revokeLiveTokensOf(ctx, workspaceId, userId, actor, "member_removed");
    await recordAudit(ctx, {
      workspaceId,
      action: "member.removed",
      actor,
      targetUserId: userId,
      details: { role: membership.role, tokensRevoked },
    });
    return null;
  },
});
