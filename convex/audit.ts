/**
 * The audit log (SPEC §9): security events of a workspace, appended by the domain that acts
 * (device sessions, tokens, members, workspaces) through `recordAudit`, listed for admins.
 */
import { paginationOptsValidator } from "convex/server";
import type { Id } from "./_generated/dataModel";
import type { MutationCtx } from "./_generated/server";
import type { Caller } from "./access";
import { workspaceQuery } from "./functions";
import { looksLikeToken, type AuditAction, type AuditActor, type AuditDetails } from "./model/audit";

export type AuditEntry = {
  workspaceId: Id<"workspaces">;
  action: AuditAction;
  actor: AuditActor;
  targetUserId?: Id<"users">;
  tokenId?: Id<"apiTokens">;
  deviceId?: string;
  details?: AuditDetails;
};

/** Appends one event. Refuses details that carry a token value, so none ever reaches the log. */
export async function recordAudit(ctx: MutationCtx, entry: AuditEntry): Promise<void> {
  for (const value of Object.values(entry.details ?? {})) {
    if (typeof value === "string" && looksLikeToken(value)) {
      // The value itself stays out of the message: it is exactly what must not leak.
      throw new Error(`Refusing to record a token value in the audit log (${entry.action}).`);
    }
  }
  await ctx.db.insert("auditLog", entry);
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
      .paginate(paginationOpts);
    return { ...page, page: page.page.map(({ _id, _creationTime, workspaceId: _w, ...event }) => ({ _id, at: _creationTime, ...event })) };
  },
});
