/**
 * Builders for Console functions (signed-in users of @convex-dev/auth). Every Console query and
 * mutation is declared with one of these, so none repeats the sign-in or membership check.
 *
 *   userQuery / userMutation            ctx.userId: any signed-in user
 *   workspaceQuery / workspaceMutation  ctx.userId + ctx.workspace: a member of args.workspaceId
 *                                       with at least `minRole` (default viewer / member)
 */
import { getAuthUserId } from "@convex-dev/auth/server";
import { customCtx, customMutation, customQuery } from "convex-helpers/server/customFunctions";
import { v } from "convex/values";
import type { Id } from "./_generated/dataModel";
import { mutation, query, type QueryCtx } from "./_generated/server";
import type { WorkspaceAccess } from "./access";
import { membershipOf } from "./memberships";
import { apiError } from "./model/errors";
import { roleAtLeast, type Role } from "./model/roles";

async function requireUser(ctx: QueryCtx): Promise<Id<"users">> {
  const userId = await getAuthUserId(ctx);
  if (userId === null) throw apiError("UNAUTHENTICATED", "Sign in to use the Console.");
  return userId;
}

/** Membership check shared by the Console builders. Non-members and missing workspaces look alike. */
export async function requireMember(
  ctx: QueryCtx,
  userId: Id<"users">,
  workspaceId: Id<"workspaces">,
  minimum: Role,
): Promise<WorkspaceAccess> {
  const membership = await membershipOf(ctx, workspaceId, userId);
  if (membership === null) throw apiError("FORBIDDEN", "You are not a member of this workspace.");
  if (!roleAtLeast(membership.role, minimum)) {
    throw apiError("FORBIDDEN", `This needs the ${minimum} role; you are ${membership.role}.`);
  }
  return { workspaceId, role: membership.role };
}

export const userQuery = customQuery(
  query,
  customCtx(async (ctx) => ({ userId: await requireUser(ctx) })),
);
export const userMutation = customMutation(
  mutation,
  customCtx(async (ctx) => ({ userId: await requireUser(ctx) })),
);

type RoleOption = { minRole?: Role };

function workspaceCustomization(defaultRole: Role) {
  return {
    args: { workspaceId: v.id("workspaces") },
    input: async (ctx: QueryCtx, { workspaceId }: { workspaceId: Id<"workspaces"> }, extra: RoleOption) => {
      const userId = await requireUser(ctx);
      const workspace = await requireMember(ctx, userId, workspaceId, extra.minRole ?? defaultRole);
      return { ctx: { userId, workspace }, args: { workspaceId } };
    },
  };
}

export const workspaceQuery = customQuery(query, workspaceCustomization("viewer"));
export const workspaceMutation = customMutation(mutation, workspaceCustomization("member"));
