/**
 * The audit log (SPEC §9): security events and admin changes of a workspace, appended by the
 * domain that acts through `recordAudit` (and `recordAdminRouteUse` on admin HTTP routes), listed
 * for admins filtered by action, actor and time.
 */
import { paginationOptsValidator } from "convex/server";
import { v } from "convex/values";
import type { Id } from "./_generated/dataModel";
import type { MutationCtx } from "./_generated/server";
import type { Caller } from "./access";
import { workspaceQuery } from "./functions";
import {
  actorIndexFields,
  auditActionValidator,
  auditActorKindValidator,
  redactTokens,
  type AuditAction,
  type AuditActor,
  type AuditDetails,
} from "./model/audit";
import { boundedPage } from "./model/pages";

export type AuditEntry = {
  workspaceId: Id<"workspaces">;
  action: AuditAction;
  actor: AuditActor;
  targetUserId?: Id<"users">;
  tokenId?: Id<"apiTokens">;
  deviceId?: string;
  details?: AuditDetails;
};

/** Appends one event, with anything in its details that looks like a token redacted to its prefix. */
export async function recordAudit(ctx: MutationCtx, entry: AuditEntry): Promise<void> {
  const details =
    entry.details === undefined
      ? undefined
      : Object.fromEntries(
          Object.entries(entry.details).map(([key, value]) => [
            key,
            typeof value === "string" ? redactTokens(value) : value,
          ]),
        );
  await ctx.db.insert("auditLog", {
    ...entry,
    ...actorIndexFields(entry.actor),
    ...(details === undefined ? {} : { details }),
  });
}

/** The signed-in person and checked workspace the Console builders (functions.ts) put on `ctx`. */
export type ConsoleChangeCtx = MutationCtx & { userId: Id<"users">; workspace: { workspaceId: Id<"workspaces"> } };

/** Records a change a signed-in person made in the Console to the workspace of `ctx`. */
export async function recordConsoleChange(ctx: ConsoleChangeCtx, action: AuditAction, details?: AuditDetails) {
  await recordAudit(ctx, {
    workspaceId: ctx.workspace.workspaceId,
    action,
    actor: { kind: "user", userId: ctx.userId },
    ...(details === undefined ? {} : { details }),
  });
}

/**
 * Records that a service token (the deployment's `IAS_CONTROL_PLANE_SERVICE_TOKEN` or a
 * workspace service token) called an admin HTTP route. Call it from the route's internal function
 * after its access check (the pause and resume routes are the first such routes); other callers
 * are not recorded here, their changes are audited by the action itself.
 */
export async function recordAdminRouteUse(
  ctx: MutationCtx,
  caller: Caller,
  workspaceId: Id<"workspaces">,
  route: string,
): Promise<void> {
  const serviceToken = caller.kind === "service" || (caller.kind === "token" && caller.tokenKind === "service");
  if (!serviceToken) return;
  await recordAudit(ctx, {
    workspaceId,
    action: "service_token.used",
    actor: auditActorOf(caller),
    details: { route },
  });
}

/** The audit actor of an HTTP caller. */
export function auditActorOf(caller: Caller): AuditActor {
  if (caller.kind !== "token") return { kind: caller.kind };
  return { kind: "token", tokenId: caller.tokenId, ...(caller.userId === undefined ? {} : { userId: caller.userId }) };
}

/**
 * Console: the workspace's audit log, newest first, a page at a time. Admins only. Filters:
 * `action`, the actor (`actorUserId`: a person, in the Console or through their device tokens;
 * `actorKind`), and a time range [`from`, `to`) in ms. One filter is an index range (action, else
 * user, else kind, each with the time range); a second one is applied to each page, so such a
 * page may hold fewer rows than asked while `isDone` is false.
 */
export const list = workspaceQuery({
  minRole: "admin",
  args: {
    paginationOpts: paginationOptsValidator,
    action: v.optional(auditActionValidator),
    actorUserId: v.optional(v.id("users")),
    actorKind: v.optional(auditActorKindValidator),
    from: v.optional(v.number()),
    to: v.optional(v.number()),
  },
  handler: async (ctx, { paginationOpts, action, actorUserId, actorKind, from = 0, to = Number.MAX_SAFE_INTEGER }) => {
    const { workspaceId } = ctx.workspace;
    const rows = ctx.db.query("auditLog");
    const query =
      action !== undefined
        ? rows.withIndex("by_workspace_action", (q) =>
            q.eq("workspaceId", workspaceId).eq("action", action).gte("_creationTime", from).lt("_creationTime", to),
          )
        : actorUserId !== undefined
          ? rows.withIndex("by_workspace_actor_user", (q) =>
              q
                .eq("workspaceId", workspaceId)
                .eq("actorUserId", actorUserId)
                .gte("_creationTime", from)
                .lt("_creationTime", to),
            )
          : actorKind !== undefined
            ? rows.withIndex("by_workspace_actor_kind", (q) =>
                q
                  .eq("workspaceId", workspaceId)
                  .eq("actorKind", actorKind)
                  .gte("_creationTime", from)
                  .lt("_creationTime", to),
              )
            : rows.withIndex("by_workspace", (q) =>
                q.eq("workspaceId", workspaceId).gte("_creationTime", from).lt("_creationTime", to),
              );
    const page = await query.order("desc").paginate(boundedPage(paginationOpts));
    const matches = (row: (typeof page.page)[number]) =>
      (actorUserId === undefined || row.actorUserId === actorUserId) &&
      (actorKind === undefined || row.actorKind === actorKind);
    return {
      ...page,
      page: page.page
        .filter(matches)
        .map(({ _id, _creationTime, workspaceId: _w, actorKind: _k, actorUserId: _u, ...event }) => ({
          _id,
          at: _creationTime,
          ...event,
        })),
    };
  },
});
