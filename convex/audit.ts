/**
 * The audit log (SPEC §9): security events of a workspace, appended by the domain that acts
 * (device sessions, tokens, members, workspaces) through `recordAudit`, listed for admins.
 */
import { paginationOptsValidator } from "convex/server";
import type { Id } from "./_generated/dataModel";
import type { MutationCtx } from "./_generated/server";
import type { Caller } from "./access";
import { workspaceQuery } from "./functions";
import { redactTokens, type AuditAction, type AuditActor, type AuditDetails } from "./model/audit";
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
  await ctx.db.insert("auditLog", { ...entry, ...(details === undefined ? {} : { details }) });
}

/** The audit actor of an HTTP caller. */
export function auditActorOf(caller: Caller): AuditActor {
  if (caller.kind !== "token") return { kind: caller.kind };
  return { kind: "token", tokenId: caller.tokenId, ...(caller.userId === undefined ? {} : { userId: caller.userId }) };
}

/** Console: the workspace's audit log, newest first, a page at a time. Admins only. */
export const list = workspaceQuery({
  minRole: "admin",
  args: { paginationOpts: paginationOptsValidator },
  handler: async (ctx, { paginationOpts }) => {
    const page = await ctx.db
      .query("auditLog")
      .withIndex("by_workspace", (q) => q.eq("workspaceId", ctx.workspace.workspaceId))
      .order("desc")
      .paginate(boundedPage(paginationOpts));
    return {
      ...page,
      page: page.page.map(({ _id, _creationTime, workspaceId: _w, ...event }) => ({
        _id,
        at: _creationTime,
        ...event,
      })),
    };
  },
});
