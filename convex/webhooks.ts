/**
 * Outbound webhook endpoints in the Console (SPEC §9b), admins only. Owns `webhookEndpoints` and
 * `webhookSubscriptions`. An endpoint is an https URL, the event types it wants and a signing
 * secret shown once (at creation and at each rotation) and stored encrypted (model/webhooks.ts
 * says why not hashed). Every change is audited and rewrites the workspace's subscription row,
 * which is all the transactions that emit events read (webhookEvents.ts).
 */
import { paginationOptsValidator } from "convex/server";
import { v } from "convex/values";
import { internal } from "./_generated/api";
import type { Doc, Id } from "./_generated/dataModel";
import { internalMutation, type MutationCtx, type QueryCtx } from "./_generated/server";
import { recordConsoleChange } from "./audit";
import { workspaceMutation, workspaceQuery } from "./functions";
import { changedFields } from "./model/audit";
import { apiError } from "./model/errors";
import { boundedPage } from "./model/pages";
import {
  MAX_WEBHOOK_ENDPOINTS,
  WEBHOOK_EVENT_TYPES,
  WEBHOOK_TEST_EVENT,
  encryptSecret,
  mintWebhookSecret,
  webhookEventTypeValidator,
  webhookKeyBytes,
  type WebhookEventType,
} from "./model/webhooks";
import { checkWebhookUrl, webhookTargetPolicyOf } from "./model/webhookTargets";
import { insertDelivery } from "./webhookDelivery";
import { newEventId, webhookBody } from "./webhookEvents";

const MAX_DESCRIPTION_LENGTH = 200;

function invalid(path: string, message: string) {
  return apiError("INVALID_REQUEST", `${path}: ${message}`, { issues: [{ path, message }] });
}

function checkedUrl(url: string): string {
  const checked = checkWebhookUrl(url.trim(), webhookTargetPolicyOf(process.env));
  if (!checked.ok) throw invalid("url", `${checked.message} (${checked.error})`);
  return checked.url.href;
}

function checkedEvents(events: WebhookEventType[]): WebhookEventType[] {
  if (events.length === 0) throw invalid("events", `name at least one of ${WEBHOOK_EVENT_TYPES.join(", ")}.`);
  return WEBHOOK_EVENT_TYPES.filter((type) => events.includes(type));
}

function checkedDescription(description: string | undefined): string | undefined {
  if (description !== undefined && description.length > MAX_DESCRIPTION_LENGTH) {
    throw invalid("description", `must be at most ${MAX_DESCRIPTION_LENGTH} characters.`);
  }
  return description?.trim() || undefined;
}

/** The secret sealed with the deployment key; 503 NOT_CONFIGURED when there is none. */
async function sealedNewSecret(workspaceId: Id<"workspaces">) {
  const key = webhookKeyBytes(process.env);
  if (key === null) {
    throw apiError(
      "NOT_CONFIGURED",
      "Set IAS_WEBHOOK_SECRET_KEY (32 random bytes, base64url) on this deployment to create webhook endpoints.",
    );
  }
  const { secret, prefix } = mintWebhookSecret();
  return { secret, secretPrefix: prefix, secretCiphertext: await encryptSecret(key, secret, workspaceId) };
}

async function endpointsOf(ctx: QueryCtx, workspaceId: Id<"workspaces">) {
  return await ctx.db
    .query("webhookEndpoints")
    .withIndex("by_workspace", (q) => q.eq("workspaceId", workspaceId))
    .take(MAX_WEBHOOK_ENDPOINTS + 1);
}

async function requireEndpoint(ctx: QueryCtx, workspaceId: Id<"workspaces">, endpointId: Id<"webhookEndpoints">) {
  const endpoint = await ctx.db.get("webhookEndpoints", endpointId);
  if (endpoint === null || endpoint.workspaceId !== workspaceId) {
    throw apiError("WEBHOOK_NOT_FOUND", "No webhook endpoint with this id in this workspace.");
  }
  return endpoint;
}

/** Rewrites the row the emitters read: the types any enabled endpoint of the workspace wants. */
async function refreshSubscriptions(ctx: MutationCtx, workspaceId: Id<"workspaces">) {
  const wanted = new Set((await endpointsOf(ctx, workspaceId)).flatMap((e) => (e.enabled ? e.events : [])));
  const types = WEBHOOK_EVENT_TYPES.filter((type) => wanted.has(type));
  const row = await ctx.db
    .query("webhookSubscriptions")
    .withIndex("by_workspace", (q) => q.eq("workspaceId", workspaceId))
    .unique();
  if (types.length === 0) {
    if (row !== null) await ctx.db.delete("webhookSubscriptions", row._id);
  } else if (row === null) {
    await ctx.db.insert("webhookSubscriptions", { workspaceId, types });
  } else if (row.types.join() !== types.join()) {
    await ctx.db.patch("webhookSubscriptions", row._id, { types });
  }
}

/** An endpoint as the Console sees it: never the secret, only its first characters. */
function endpointView({ secretCiphertext: _sealed, deliverySeq: _seq, ...endpoint }: Doc<"webhookEndpoints">) {
  return endpoint;
}

/** The audit log names an endpoint by its origin: a path or query may carry the receiver's own secret. */
const originOf = (url: string) => new URL(url).origin;

// ---- Console (admins) ------------------------------------------------------------------------

export const list = workspaceQuery({
  minRole: "admin",
  args: {},
  handler: async (ctx) => (await endpointsOf(ctx, ctx.workspace.workspaceId)).map(endpointView),
});

/** Registers an endpoint; the answer holds its signing secret, shown this once. */
export const create = workspaceMutation({
  minRole: "admin",
  args: {
    url: v.string(),
    events: v.array(webhookEventTypeValidator),
    description: v.optional(v.string()),
    enabled: v.optional(v.boolean()),
  },
  handler: async (ctx, args) => {
    const { workspaceId } = ctx.workspace;
    const url = checkedUrl(args.url);
    const events = checkedEvents(args.events);
    const description = checkedDescription(args.description);
    if ((await endpointsOf(ctx, workspaceId)).length >= MAX_WEBHOOK_ENDPOINTS) {
      throw apiError("CONFLICT", `A workspace has at most ${MAX_WEBHOOK_ENDPOINTS} webhook endpoints.`);
    }
    const { secret, ...sealed } = await sealedNewSecret(workspaceId);
    const endpointId = await ctx.db.insert("webhookEndpoints", {
      workspaceId,
      url,
      events,
      enabled: args.enabled ?? true,
      ...(description === undefined ? {} : { description }),
      ...sealed,
      deliverySeq: 0,
      createdBy: ctx.userId,
      updatedAt: Date.now(),
    });
    await refreshSubscriptions(ctx, workspaceId);
    await recordConsoleChange(ctx, "webhook.created", { endpointId, origin: originOf(url), events: events.join(", ") });
    return { endpointId, secret, secretPrefix: sealed.secretPrefix };
  },
});

/** Changes the fields sent. */
export const update = workspaceMutation({
  minRole: "admin",
  args: {
    endpointId: v.id("webhookEndpoints"),
    url: v.optional(v.string()),
    events: v.optional(v.array(webhookEventTypeValidator)),
    description: v.optional(v.string()),
    enabled: v.optional(v.boolean()),
  },
  handler: async (ctx, { endpointId, workspaceId: _checked, ...changes }) => {
    const { workspaceId } = ctx.workspace;
    const endpoint = await requireEndpoint(ctx, workspaceId, endpointId);
    const patch: Partial<Doc<"webhookEndpoints">> = { updatedAt: Date.now() };
    if (changes.url !== undefined) patch.url = checkedUrl(changes.url);
    if (changes.events !== undefined) patch.events = checkedEvents(changes.events);
    if (changes.description !== undefined) patch.description = checkedDescription(changes.description);
    if (changes.enabled !== undefined) patch.enabled = changes.enabled;
    await ctx.db.patch("webhookEndpoints", endpointId, patch);
    await refreshSubscriptions(ctx, workspaceId);
    await recordConsoleChange(ctx, "webhook.updated", {
      endpointId,
      origin: originOf(patch.url ?? endpoint.url),
      changed: changedFields(changes),
    });
  },
});

/** Deletes an endpoint; its deliveries go with it (pending ones are not sent). */
export const remove = workspaceMutation({
  minRole: "admin",
  args: { endpointId: v.id("webhookEndpoints") },
  handler: async (ctx, { endpointId }) => {
    const { workspaceId } = ctx.workspace;
    const endpoint = await requireEndpoint(ctx, workspaceId, endpointId);
    await ctx.db.delete("webhookEndpoints", endpointId);
    await refreshSubscriptions(ctx, workspaceId);
    await ctx.scheduler.runAfter(0, internal.webhooks.purgeDeliveries, { endpointId });
    await recordConsoleChange(ctx, "webhook.deleted", { endpointId, origin: originOf(endpoint.url) });
  },
});

/** A new signing secret, shown this once; the old one stops signing at once. */
export const rotateSecret = workspaceMutation({
  minRole: "admin",
  args: { endpointId: v.id("webhookEndpoints") },
  handler: async (ctx, { endpointId }) => {
    const { workspaceId } = ctx.workspace;
    const endpoint = await requireEndpoint(ctx, workspaceId, endpointId);
    const { secret, ...sealed } = await sealedNewSecret(workspaceId);
    await ctx.db.patch("webhookEndpoints", endpointId, { ...sealed, updatedAt: Date.now() });
    await recordConsoleChange(ctx, "webhook.secret_rotated", { endpointId, origin: originOf(endpoint.url) });
    return { secret, secretPrefix: sealed.secretPrefix };
  },
});

/** Sends a `webhook.test` event to the endpoint now (enabled or not); its delivery shows in the list. */
export const sendTest = workspaceMutation({
  minRole: "admin",
  args: { endpointId: v.id("webhookEndpoints") },
  handler: async (ctx, { endpointId }) => {
    const { workspaceId } = ctx.workspace;
    const endpoint = await requireEndpoint(ctx, workspaceId, endpointId);
    const eventId = newEventId();
    const body = webhookBody({
      eventId,
      type: WEBHOOK_TEST_EVENT,
      createdAt: Date.now(),
      workspaceId,
      data: { endpointId, message: "A test event sent from the IAS Console." },
    });
    const deliveryId = await insertDelivery(ctx, endpoint, { eventId, type: WEBHOOK_TEST_EVENT, body });
    return { deliveryId, eventId };
  },
});

/** The endpoint's deliveries, newest first (the newest 100 are kept), with status code and latency. */
export const listDeliveries = workspaceQuery({
  minRole: "admin",
  args: { endpointId: v.id("webhookEndpoints"), paginationOpts: paginationOptsValidator },
  handler: async (ctx, { endpointId, paginationOpts }) => {
    await requireEndpoint(ctx, ctx.workspace.workspaceId, endpointId);
    const page = await ctx.db
      .query("webhookDeliveries")
      .withIndex("by_endpoint_seq", (q) => q.eq("endpointId", endpointId))
      .order("desc")
      .paginate(boundedPage(paginationOpts));
    return {
      ...page,
      page: page.page.map(({ _creationTime, workspaceId: _w, endpointId: _e, ...delivery }) => ({
        ...delivery,
        createdAt: _creationTime,
      })),
    };
  },
});

/** After an endpoint is deleted: its deliveries, a batch per transaction. */
export const purgeDeliveries = internalMutation({
  args: { endpointId: v.id("webhookEndpoints") },
  handler: async (ctx, { endpointId }) => {
    const batch = await ctx.db
      .query("webhookDeliveries")
      .withIndex("by_endpoint_seq", (q) => q.eq("endpointId", endpointId))
      .take(200);
    for (const delivery of batch) await ctx.db.delete("webhookDeliveries", delivery._id);
    if (batch.length === 200) await ctx.scheduler.runAfter(0, internal.webhooks.purgeDeliveries, { endpointId });
  },
});
