/**
 * Builders for every function a client reaches, so none repeats its caller check.
 *
 * Console functions (signed-in users of @convex-dev/auth):
 *   userQuery / userMutation            ctx.userId: any signed-in user
 *   workspaceQuery / workspaceMutation  ctx.userId + ctx.workspace: a member of args.workspaceId
 *                                       with at least `minRole` (default viewer / member)
 *
 * Internal functions called by HTTP routes with the endpoint's `caller` (api/endpoint.ts):
 *   callerInternalQuery / ...Mutation            ctx.caller
 *   workspaceInternalQuery / ...Mutation         ctx.caller + ctx.access: `requireWorkspaceAccess`
 *                                                passed for args.workspaceId with `minRole` (required)
 *   jobTokenInternalMutation                     ctx.caller (a job token's) + ctx.job: that job, still
 *                                                running under the token's claim (else EXPIRED_TOKEN)
 * The access check runs inside the function's own transaction (access.ts), and `caller` and
 * `workspaceId` are consumed: handlers get the request's other fields.
 */
import { getAuthUserId } from "@convex-dev/auth/server";
import { customCtx, customMutation, customQuery } from "convex-helpers/server/customFunctions";
import { v } from "convex/values";
import type { Id } from "./_generated/dataModel";
import { internalMutation, internalQuery, mutation, query, type QueryCtx } from "./_generated/server";
import {
  callerValidator,
  jobCallerValidator,
  requireWorkspaceAccess,
  type Caller,
  type JobCaller,
  type WorkspaceAccess,
} from "./access";
import { membershipOf } from "./memberships";
import { apiError } from "./model/errors";
import { jobTokenProblem } from "./model/jobTokens";
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

// ---- HTTP side -------------------------------------------------------------------------------

const callerCustomization = {
  args: { caller: callerValidator },
  input: async (_ctx: QueryCtx, { caller }: { caller: Caller }) => ({ ctx: { caller }, args: {} }),
};

export const callerInternalQuery = customQuery(internalQuery, callerCustomization);
export const callerInternalMutation = customMutation(internalMutation, callerCustomization);

const workspaceAccessCustomization = {
  args: { caller: callerValidator, workspaceId: v.string() },
  input: async (
    ctx: QueryCtx,
    { caller, workspaceId }: { caller: Caller; workspaceId: string },
    { minRole }: { minRole: Role },
  ) => ({ ctx: { caller, access: await requireWorkspaceAccess(ctx, caller, workspaceId, minRole) }, args: {} }),
};

export const workspaceInternalQuery = customQuery(internalQuery, workspaceAccessCustomization);
export const workspaceInternalMutation = customMutation(internalMutation, workspaceAccessCustomization);

/** The token was checked when the request came in; the claim is checked again in this transaction. */
async function requireTokenJob(ctx: QueryCtx, caller: JobCaller) {
  const job = await ctx.db.get("jobs", caller.jobId);
  if (job === null) throw apiError("EXPIRED_TOKEN", "This job token has expired: its job no longer exists.");
  const problem = jobTokenProblem(job, caller.claimGeneration, Date.now());
  if (problem !== null) throw apiError("EXPIRED_TOKEN", problem);
  return job;
}

export const jobTokenInternalMutation = customMutation(internalMutation, {
  args: { caller: jobCallerValidator },
  input: async (ctx: QueryCtx, { caller }: { caller: JobCaller }) => ({
    ctx: { caller, job: await requireTokenJob(ctx, caller) },
    args: {},
  }),
});
