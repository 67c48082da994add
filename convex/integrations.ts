/**
 * Integration events (SPEC §8). Owns `integrationEvents`. `ingestEvent` is how every outside
 * event enters (the ingest route here, Slack in slack.ts): idempotent per (workspace, key), the
 * data policy applied before anything is stored, the item upserted into the Context Lake and the
 * matching run triggers scheduled. Each fired trigger records its outcome on the event.
 */
import { v } from "convex/values";
import { internal } from "./_generated/api";
import type { Doc, Id } from "./_generated/dataModel";
import { internalMutation, type MutationCtx } from "./_generated/server";
import { requireId } from "./access";
import { upsertIntegrationItem } from "./contextLake";
import { applyDataPolicy, type IncomingEvent } from "./model/dataPolicy";
import { apiError } from "./model/errors";
import { systemIdempotencyKey } from "./model/jobs";
import { settleTriggerOutcome, type SettledOutcome } from "./model/runTriggers";
import type { TemplateContext } from "./model/templates";
import { executeTriggerAction, matchingEventTriggers, triggerFailureReason } from "./runTriggers";
import { findBySlug } from "./workspaces";

export type IngestFields = IncomingEvent & { source: string; eventType: string; idempotencyKey: string };

export type IngestResult = {
  eventId: Id<"integrationEvents">;
  duplicate: boolean;
  triggeredRunTriggerIds: Id<"runTriggers">[];
  contextItemId: Id<"contextItems"> | null;
};

/**
 * Stores one event once. A repeated key answers the first event's id with `duplicate: true`
 * and triggers nothing. Serializable transactions make two concurrent deliveries of one key
 * store one event: the loser retries, then sees the winner's row.
 */
export async function ingestEvent(
  ctx: MutationCtx,
  workspace: Doc<"workspaces">,
  fields: IngestFields,
): Promise<IngestResult> {
  const existing = await ctx.db
    .query("integrationEvents")
    .withIndex("by_workspace_key", (q) =>
      q.eq("workspaceId", workspace._id).eq("idempotencyKey", fields.idempotencyKey),
    )
    .first();
  if (existing !== null) {
    return {
      eventId: existing._id,
      duplicate: true,
      triggeredRunTriggerIds: [],
      contextItemId: existing.contextItemId ?? null,
    };
  }
  const storable = applyDataPolicy(workspace.dataPolicy, fields);
  const contextItemId =
    storable.item === null ? undefined : await upsertIntegrationItem(ctx, workspace._id, fields.source, storable.item);
  const triggers = await matchingEventTriggers(ctx, workspace._id, fields.source, fields.eventType);
  const eventId = await ctx.db.insert("integrationEvents", {
    workspaceId: workspace._id,
    source: fields.source,
    eventType: fields.eventType,
    idempotencyKey: fields.idempotencyKey,
    dataPolicy: workspace.dataPolicy,
    receivedAt: Date.now(),
    ...storable.event,
    contextItemId,
    triggers: triggers.map((trigger) => ({ runTriggerId: trigger._id, status: "scheduled" as const })),
  });
  for (const trigger of triggers) {
    await ctx.scheduler.runAfter(0, internal.integrations.fireTrigger, { eventId, runTriggerId: trigger._id });
  }
  return {
    eventId,
    duplicate: false,
    triggeredRunTriggerIds: triggers.map((trigger) => trigger._id),
    contextItemId: contextItemId ?? null,
  };
}

/** Template values of an event: only what its data policy let it keep. */
function templateContextOf(event: Doc<"integrationEvents">): TemplateContext {
  const { source, eventType, idempotencyKey, occurredAt, externalId, title, text, url } = event;
  return {
    event: { id: event._id, source, eventType, idempotencyKey, occurredAt, externalId, title, text, url },
    payload: event.payloadJson === undefined ? undefined : JSON.parse(event.payloadJson),
  };
}

/** Records how a fired trigger ended; only a `scheduled` outcome is replaced. */
async function settleOutcome(ctx: MutationCtx, event: Doc<"integrationEvents">, outcome: SettledOutcome) {
  const triggers = settleTriggerOutcome(event.triggers, outcome, Date.now());
  if (triggers !== event.triggers) await ctx.db.patch("integrationEvents", event._id, { triggers });
}

// ---- HTTP layer ------------------------------------------------------------------------------

/** `POST /integrations/events/v1/ingest`, after the route checked the integration secret. */
export const ingest = internalMutation({
  args: {
    workspaceId: v.optional(v.string()),
    workspaceSlug: v.optional(v.string()),
    source: v.string(),
    eventType: v.string(),
    idempotencyKey: v.string(),
    occurredAt: v.optional(v.number()),
    payloadJson: v.optional(v.string()),
    item: v.optional(
      v.object({
        externalId: v.string(),
        title: v.string(),
        text: v.optional(v.string()),
        url: v.optional(v.string()),
        kind: v.optional(v.string()),
      }),
    ),
  },
  handler: async (ctx, { workspaceId, workspaceSlug, ...fields }) => {
    const workspace =
      workspaceId !== undefined
        ? await ctx.db.get("workspaces", requireId(ctx, "workspaces", workspaceId, "workspaceId"))
        : await findBySlug(ctx, workspaceSlug ?? "");
    if (workspace === null) throw apiError("WORKSPACE_NOT_FOUND", "No workspace has this id or slug.");
    return await ingestEvent(ctx, workspace, fields);
  },
});

// ---- Fired triggers --------------------------------------------------------------------------

const firedTrigger = { eventId: v.id("integrationEvents"), runTriggerId: v.id("runTriggers") };

/**
 * Runs one trigger an event fired, scheduled by ingest. A scheduled mutation runs exactly once
 * (an action would run at most once and could leave the outcome `scheduled` for good). The
 * trigger's work is a sub-transaction (`applyTrigger`): when it throws, its writes are rolled
 * back and this transaction records the failure on the event, which stays stored.
 */
export const fireTrigger = internalMutation({
  args: firedTrigger,
  handler: async (ctx, args) => {
    try {
      await ctx.runMutation(internal.integrations.applyTrigger, args);
    } catch (error) {
      const reason = triggerFailureReason(error, args.runTriggerId);
      const event = await ctx.db.get("integrationEvents", args.eventId);
      if (event !== null)
        await settleOutcome(ctx, event, { runTriggerId: args.runTriggerId, status: "failed", error: reason });
    }
  },
});

export const applyTrigger = internalMutation({
  args: firedTrigger,
  handler: async (ctx, { eventId, runTriggerId }) => {
    const event = await ctx.db.get("integrationEvents", eventId);
    if (event === null) return;
    // A re-run of this scheduled function must not act twice.
    if (event.triggers.find((entry) => entry.runTriggerId === runTriggerId)?.status !== "scheduled") return;
    const trigger = await ctx.db.get("runTriggers", runTriggerId);
    if (trigger === null) throw apiError("RUN_TRIGGER_NOT_FOUND", "The run trigger was deleted before it ran.");
    const { runId, jobId } = await executeTriggerAction(
      ctx,
      trigger,
      templateContextOf(event),
      systemIdempotencyKey("trigger", trigger._id, event._id),
    );
    await settleOutcome(ctx, event, { runTriggerId, status: "done", runId, jobId });
  },
});
