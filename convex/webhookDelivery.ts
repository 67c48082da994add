/**
 * Webhook deliveries (SPEC §9b). Owns `webhookDeliveries`. A delivery is one event for one
 * endpoint: `insertDelivery` numbers it, schedules its first attempt and drops the endpoint's
 * finished deliveries past the newest 100. Each attempt is the `deliver` action (default runtime:
 * webhookSend.ts does the network part), which reports to `recordAttempt`: delivered on a 2xx,
 * else the next attempt is scheduled with exponential back-off until 24 hours after the event,
 * then the delivery is `failed`. A watchdog cron re-sends attempts that never reported (an action
 * runs at most once), so a receiver may see an event twice: it dedupes by `x-ias-event-id`.
 */
import { v } from "convex/values";
import { internal } from "./_generated/api";
import type { Doc, Id } from "./_generated/dataModel";
import { internalAction, internalMutation, internalQuery, type MutationCtx } from "./_generated/server";
import { WEBHOOK_DELIVERIES_KEPT, WEBHOOK_TEST_EVENT, nextAttemptAt, type WebhookDeliveryType } from "./model/webhooks";
import { sendWebhook, type AttemptTarget } from "./webhookSend";

/** A pending attempt that has not reported this long after it was due is sent again. */
const STALLED_AFTER_MS = 2 * 60 * 1000;
const WATCHDOG_BATCH = 100;

export async function insertDelivery(
  ctx: MutationCtx,
  endpoint: Doc<"webhookEndpoints">,
  event: { eventId: string; type: WebhookDeliveryType; body: string },
): Promise<Id<"webhookDeliveries">> {
  const seq = endpoint.deliverySeq + 1;
  await ctx.db.patch("webhookEndpoints", endpoint._id, { deliverySeq: seq });
  endpoint.deliverySeq = seq; // the caller may insert another one for this endpoint
  const deliveryId = await ctx.db.insert("webhookDeliveries", {
    workspaceId: endpoint.workspaceId,
    endpointId: endpoint._id,
    seq,
    ...event,
    state: "pending",
    attempts: 0,
    nextAttemptAt: Date.now(),
  });
  await ctx.scheduler.runAfter(0, internal.webhookDelivery.deliver, { deliveryId, attempt: 1 });
  for (const state of ["delivered", "failed"] as const) {
    const old = await ctx.db
      .query("webhookDeliveries")
      .withIndex("by_endpoint_state_seq", (q) =>
        q
          .eq("endpointId", endpoint._id)
          .eq("state", state)
          .lte("seq", seq - WEBHOOK_DELIVERIES_KEPT),
      )
      .take(10);
    for (const delivery of old) await ctx.db.delete("webhookDeliveries", delivery._id);
  }
  return deliveryId;
}

/** One attempt of one delivery. */
export const deliver = internalAction({
  args: { deliveryId: v.id("webhookDeliveries"), attempt: v.number() },
  handler: async (ctx, { deliveryId, attempt }) => {
    const target = await ctx.runQuery(internal.webhookDelivery.attemptTarget, { deliveryId, attempt });
    if (target === null) return null;
    const result =
      "stopped" in target ? { error: target.stopped, retry: false } : await sendWebhook(target satisfies AttemptTarget);
    await ctx.runMutation(internal.webhookDelivery.recordAttempt, { deliveryId, attempt, ...result });
    return null;
  },
});

/**
 * What attempt `attempt` sends, or null when it is not due (the delivery is gone, finished, or
 * that attempt already reported), or why it stops (the endpoint was disabled or deleted; test
 * events go to disabled endpoints too).
 */
export const attemptTarget = internalQuery({
  args: { deliveryId: v.id("webhookDeliveries"), attempt: v.number() },
  handler: async (ctx, { deliveryId, attempt }): Promise<AttemptTarget | { stopped: string } | null> => {
    const delivery = await ctx.db.get("webhookDeliveries", deliveryId);
    if (delivery === null || delivery.state !== "pending" || delivery.attempts !== attempt - 1) return null;
    const endpoint = await ctx.db.get("webhookEndpoints", delivery.endpointId);
    if (endpoint === null) return { stopped: "ENDPOINT_DELETED: the endpoint was deleted." };
    if (!endpoint.enabled && delivery.type !== WEBHOOK_TEST_EVENT) {
      return { stopped: "ENDPOINT_DISABLED: the endpoint was disabled." };
    }
    return {
      url: endpoint.url,
      body: delivery.body,
      secretCiphertext: endpoint.secretCiphertext,
      workspaceId: endpoint.workspaceId,
      deliveryId,
      eventId: delivery.eventId,
      type: delivery.type,
    };
  },
});

export const recordAttempt = internalMutation({
  args: {
    deliveryId: v.id("webhookDeliveries"),
    attempt: v.number(),
    statusCode: v.optional(v.number()),
    latencyMs: v.optional(v.number()),
    error: v.optional(v.string()),
    retry: v.boolean(),
  },
  handler: async (ctx, { deliveryId, attempt, statusCode, latencyMs, error, retry }) => {
    const delivery = await ctx.db.get("webhookDeliveries", deliveryId);
    // A late report of an attempt the watchdog already replaced changes nothing.
    if (delivery === null || delivery.state !== "pending" || delivery.attempts !== attempt - 1) return null;
    const now = Date.now();
    const next = error !== undefined && retry ? nextAttemptAt(delivery._creationTime, attempt, now) : null;
    const outcome =
      error === undefined
        ? { state: "delivered" as const, finishedAt: now, nextAttemptAt: undefined }
        : next === null
          ? { state: "failed" as const, finishedAt: now, nextAttemptAt: undefined }
          : { state: "pending" as const, nextAttemptAt: next };
    await ctx.db.patch("webhookDeliveries", deliveryId, {
      attempts: attempt,
      statusCode,
      latencyMs,
      error,
      ...outcome,
    });
    if (outcome.state === "pending") {
      await ctx.scheduler.runAt(next!, internal.webhookDelivery.deliver, { deliveryId, attempt: attempt + 1 });
      return null;
    }
    // Finished while newer deliveries pushed it out of the endpoint's newest 100: it goes now.
    const endpoint = await ctx.db.get("webhookEndpoints", delivery.endpointId);
    if (endpoint === null || delivery.seq <= endpoint.deliverySeq - WEBHOOK_DELIVERIES_KEPT) {
      await ctx.db.delete("webhookDeliveries", deliveryId);
    }
    return null;
  },
});

/** Cron: pending deliveries whose due attempt never reported are sent again. */
export const resendStalled = internalMutation({
  args: {},
  handler: async (ctx) => {
    const now = Date.now();
    const stalled = await ctx.db
      .query("webhookDeliveries")
      .withIndex("by_state_next", (q) => q.eq("state", "pending").lte("nextAttemptAt", now - STALLED_AFTER_MS))
      .take(WATCHDOG_BATCH);
    for (const delivery of stalled) {
      await ctx.db.patch("webhookDeliveries", delivery._id, { nextAttemptAt: now });
      await ctx.scheduler.runAfter(0, internal.webhookDelivery.deliver, {
        deliveryId: delivery._id,
        attempt: delivery.attempts + 1,
      });
    }
    return { resent: stalled.length };
  },
});
