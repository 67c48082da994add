/**
 * Slack Events API (SPEC §8). Owns `slackBindings` (Slack team -> workspace, managed by admins in
 * the Console). The route verifies the signature (model/slackSignature.ts); `ingestEventCallback`
 * turns an `event_callback` into an integration event keyed by Slack's `event_id`, so Slack's
 * retries of one event are duplicates.
 */
import { v } from "convex/values";
import type { Id } from "./_generated/dataModel";
import { internalMutation, type QueryCtx } from "./_generated/server";
import { recordConsoleChange } from "./audit";
import { workspaceMutation, workspaceQuery } from "./functions";
import { ingestEvent } from "./integrations";
import { apiError } from "./model/errors";

export const SLACK_SOURCE = "slack";
const TEAM_ID = /^[A-Z0-9]{1,40}$/;

async function bindingOfTeam(ctx: QueryCtx, teamId: string) {
  return await ctx.db
    .query("slackBindings")
    .withIndex("by_team", (q) => q.eq("teamId", teamId))
    .first();
}

// ---- HTTP layer ------------------------------------------------------------------------------

/**
 * One verified `event_callback`. A team bound to no workspace is answered (Slack would retry
 * any error) but nothing is stored: `ignored: "TEAM_NOT_BOUND"`.
 */
export const ingestEventCallback = internalMutation({
  args: {
    teamId: v.string(),
    eventId: v.string(),
    eventTime: v.optional(v.number()),
    event: v.object({
      type: v.string(),
      channel: v.optional(v.string()),
      ts: v.optional(v.string()),
      text: v.optional(v.string()),
    }),
    /** The inner event exactly as Slack sent it (JSON); stored only under the `full` data policy. */
    payloadJson: v.string(),
  },
  handler: async (ctx, { teamId, eventId, eventTime, event, payloadJson }) => {
    const binding = await bindingOfTeam(ctx, teamId);
    const workspace = binding === null ? null : await ctx.db.get("workspaces", binding.workspaceId);
    if (workspace === null) return { ignored: "TEAM_NOT_BOUND", eventId: null };
    const item =
      event.channel !== undefined && event.ts !== undefined
        ? {
            externalId: `${event.channel}:${event.ts}`,
            title: `Slack ${event.type} in ${event.channel}`,
            text: event.text,
            kind: "slack_message",
          }
        : undefined;
    return await ingestEvent(ctx, workspace, {
      source: SLACK_SOURCE,
      eventType: event.type,
      idempotencyKey: `slack:${eventId}`,
      occurredAt: eventTime === undefined ? undefined : eventTime * 1000,
      payloadJson,
      item,
    });
  },
});

// ---- Console (admins) ------------------------------------------------------------------------

export const listBindings = workspaceQuery({
  minRole: "admin",
  args: {},
  handler: async (ctx) =>
    await ctx.db
      .query("slackBindings")
      .withIndex("by_workspace", (q) => q.eq("workspaceId", ctx.workspace.workspaceId))
      .take(100),
});

/** Routes a Slack team's events to this workspace. A team goes to one workspace only. */
export const bindTeam = workspaceMutation({
  minRole: "admin",
  args: { teamId: v.string() },
  returns: v.id("slackBindings"),
  handler: async (ctx, { teamId }): Promise<Id<"slackBindings">> => {
    if (!TEAM_ID.test(teamId)) {
      throw apiError("INVALID_REQUEST", "teamId: must be a Slack team id like T0123ABCD.", {
        issues: [{ path: "teamId", message: "must be a Slack team id" }],
      });
    }
    const existing = await bindingOfTeam(ctx, teamId);
    if (existing !== null && existing.workspaceId !== ctx.workspace.workspaceId) {
      throw apiError("CONFLICT", "This Slack team is bound to another workspace.");
    }
    if (existing !== null) return existing._id;
    const bindingId = await ctx.db.insert("slackBindings", {
      teamId,
      workspaceId: ctx.workspace.workspaceId,
      createdBy: ctx.userId,
      updatedAt: Date.now(),
    });
    await recordConsoleChange(ctx, "slack.team_bound", { teamId });
    return bindingId;
  },
});

export const unbindTeam = workspaceMutation({
  minRole: "admin",
  args: { teamId: v.string() },
  handler: async (ctx, { teamId }) => {
    const existing = await bindingOfTeam(ctx, teamId);
    if (existing === null || existing.workspaceId !== ctx.workspace.workspaceId) {
      throw apiError("SLACK_BINDING_NOT_FOUND", "This Slack team is not bound to this workspace.");
    }
    await ctx.db.delete("slackBindings", existing._id);
    await recordConsoleChange(ctx, "slack.team_unbound", { teamId });
  },
});
