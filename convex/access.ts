import { v, type Infer } from "convex/values";
import type { Id, TableNames } from "./_generated/dataModel";
import type { QueryCtx } from "./_generated/server";
import { membershipOf } from "./memberships";
import { apiError } from "./model/errors";
import { roleAtLeast, type Role } from "./model/roles";

/**
 * Who is calling an HTTP route, as established by the endpoint wrapper before any domain
 * function runs. Internal functions take it as their `caller` argument; clients cannot forge it.
 */
export const callerValidator = v.union(
  /** The deployment-wide `IAS_CONTROL_PLANE_SERVICE_TOKEN`: admin of every workspace. */
  v.object({ kind: v.literal("service") }),
  /** `IAS_DEV_ALLOW_UNAUTH=true` and no token sent: a dev admin of every workspace. */
  v.object({ kind: v.literal("dev") }),
  /** A token this deployment minted: bound to one workspace (and, for device tokens, one user). */
  v.object({
    kind: v.literal("token"),
    tokenId: v.id("apiTokens"),
    tokenKind: v.union(v.literal("device"), v.literal("service")),
    workspaceId: v.id("workspaces"),
    userId: v.optional(v.id("users")),
  }),
);
export type Caller = Infer<typeof callerValidator>;

/**
 * A job token's caller (`IAS_JOB_TOKEN`, model/jobTokens.ts): the job's command, for the
 * `/v1/job/*` routes only. A separate type from `Caller`, so no other route's function can be
 * handed one; the builder (functions.ts) re-checks the claim inside the route's transaction.
 */
export const jobCallerValidator = v.object({
  kind: v.literal("job"),
  workspaceId: v.id("workspaces"),
  jobId: v.id("jobs"),
  claimGeneration: v.number(),
});
export type JobCaller = Infer<typeof jobCallerValidator>;

export type WorkspaceAccess = { workspaceId: Id<"workspaces">; role: Role };

/**
 * The one access check of every workspace-scoped route, run inside the route's own transaction
 * so a membership removed a moment ago is already in force. Another workspace answers FORBIDDEN
 * whether or not it exists (no existence leak); only deployment-wide callers learn
 * WORKSPACE_NOT_FOUND.
 */
export async function requireWorkspaceAccess(
  ctx: QueryCtx,
  caller: Caller,
  rawWorkspaceId: string,
  minimum: Role,
): Promise<WorkspaceAccess> {
  const workspaceId = requireId(ctx, "workspaces", rawWorkspaceId, "workspaceId");
  if (caller.kind !== "token") {
    if ((await ctx.db.get("workspaces", workspaceId)) === null) {
      throw apiError("WORKSPACE_NOT_FOUND", "No workspace has this id.");
    }
    return { workspaceId, role: "owner" };
  }
  if (caller.workspaceId !== workspaceId) {
    throw apiError("FORBIDDEN", "This token has no access to that workspace.");
  }
  const role = await tokenRole(ctx, caller);
  if (role === null) {
    throw apiError("FORBIDDEN", "This token's user is no longer a member of that workspace.");
  }
  if (!roleAtLeast(role, minimum)) {
    throw apiError("FORBIDDEN", `This route needs the ${minimum} role; the token has ${role}.`);
  }
  return { workspaceId, role };
}

/** A token's role in its own workspace right now, or null when its user left. */
async function tokenRole(ctx: QueryCtx, caller: Extract<Caller, { kind: "token" }>) {
  if (caller.tokenKind === "service") return "admin" as const;
  if (caller.userId === undefined) return null;
  const membership = await membershipOf(ctx, caller.workspaceId, caller.userId);
  return membership?.role ?? null;
}

/** Whether a caller may see a workspace at all (used where "no access" must look like "missing"). */
export async function canSeeWorkspace(ctx: QueryCtx, caller: Caller, workspaceId: Id<"workspaces">): Promise<boolean> {
  if (caller.kind !== "token") return true;
  return caller.workspaceId === workspaceId && (await tokenRole(ctx, caller)) !== null;
}

/**
 * Turns a client-supplied id (already stripped of any `table/` prefix by the request schema)
 * into a typed id, or answers 400 INVALID_REQUEST naming the field.
 */
export function requireId<T extends TableNames>(ctx: QueryCtx, table: T, raw: string, path: string): Id<T> {
  const id = ctx.db.normalizeId(table, raw);
  if (id === null) {
    const message = `Not a valid ${table} id.`;
    throw apiError("INVALID_REQUEST", `${path}: ${message}`, { issues: [{ path, message }] });
  }
  return id;
}
