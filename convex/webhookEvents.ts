/**
 * Webhook events (SPEC §9b): how domains announce what happened, and the fan-out to endpoints.
 * `queueWebhookEvent` runs inside the transaction that made the change (a job finishing, a
 * decision opening, a run finishing): it reads one small document (the workspace's
 * subscriptions) and, only when an enabled endpoint wants that type, schedules `fanOut`, which
 * creates one delivery per subscribed endpoint (webhookDelivery.ts sends them). So the change
 * and its announcement commit together, and a workspace without endpoints pays one index read.
 */
import { v } from "convex/values";
import { internal } from "./_generated/api";
import type { Doc, Id } from "./_generated/dataModel";
import { internalMutation, type MutationCtx } from "./_generated/server";
import { jobMovedArgs } from "./jobReactions";
import { truncateText } from "./model/convexValues";
import { isFinished } from "./model/jobs";
import { FINISHED_RUN_STATUSES } from "./model/runs";
import { randomSecret } from "./model/tokens";
import { MAX_WEBHOOK_ENDPOINTS, webhookEventTypeValidator, type WebhookEventType } from "./model/webhooks";
import { insertDelivery } from "./webhookDelivery";

/** Longest text (a job's message, a decision's prompt, a run's goal) a webhook body carries. */
const MAX_TEXT = 1_000;

type EventData = Record<string, unknown>;

/** Announces events of one workspace; see the header. Reads ≤ 1 document, writes nothing but a scheduled fan-out. */
export async function queueWebhookEvents(
  ctx: MutationCtx,
  workspaceId: Id<"workspaces">,
  events: Array<{ type: WebhookEventType; data: EventData }>,
): Promise<void> {
  const subscription = await ctx.db
    .query("webhookSubscriptions")
    .withIndex("by_workspace", (q) => q.eq("workspaceId", workspaceId))
    .unique();
  if (subscription === null) return;
  for (const { type, data } of events) {
    if (!subscription.types.includes(type)) continue;
    await ctx.scheduler.runAfter(0, internal.webhookEvents.fanOut, {
      workspaceId,
      type,
      eventId: newEventId(),
      createdAt: Date.now(),
      data: withoutUndefined(data),
    });
  }
}

export async function queueWebhookEvent(
  ctx: MutationCtx,
  workspaceId: Id<"workspaces">,
  type: WebhookEventType,
  data: EventData,
): Promise<void> {
  await queueWebhookEvents(ctx, workspaceId, [{ type, data }]);
}

export function newEventId(): string {
  return `evt_${randomSecret(16)}`;
}

/** The body every delivery of an event sends: what a receiver parses after checking the signature. */
export function webhookBody(event: {
  eventId: string;
  type: string;
  createdAt: number;
  workspaceId: Id<"workspaces">;
  data: EventData;
}): string {
  const { eventId, type, createdAt, workspaceId, data } = event;
  return JSON.stringify({ id: eventId, type, createdAt, workspaceId, data });
}

// ---- What each domain announces --------------------------------------------------------------

/** Registered in jobReactions.ts: runs in the transaction of the move that finished the job. */
export const onJobFinished = internalMutation({
  args: jobMovedArgs,
  returns: v.null(),
  handler: async (ctx, { job }): Promise<null> => {
    await queueJobFinished(ctx, job);
    return null;
  },
});

/** A job reached done, failed, blocked or canceled: `job.finished`, and `job.failed` as well when it failed. */
export async function queueJobFinished(ctx: MutationCtx, job: Doc<"jobs">): Promise<void> {
  if (!isFinished(job.status)) return;
  const data = { job: jobSummary(job) };
  const events: Array<{ type: WebhookEventType; data: EventData }> = [{ type: "job.finished", data }];
  if (job.status === "failed") events.push({ type: "job.failed", data });
  await queueWebhookEvents(ctx, job.workspaceId, events);
}

export function jobSummary(job: Doc<"jobs">) {
  const reason = job.outcomeReason;
  return {
    id: job._id,
    repoId: job.repoId,
    runId: job.runId,
    runRef: job.runRef,
    parentJobId: job.parentJobId,
    kind: job.kind,
    role: job.role,
    lane: job.lane,
    status: job.status,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    message: job.message === undefined ? undefined : truncateText(job.message, MAX_TEXT),
    outcomeReasonCode:
      reason === undefined ? undefined : typeof reason === "string" ? truncateText(reason, 200) : reason.code,
    finishedAt: job.finishedAt,
  };
}

export async function queueDecisionOpened(
  ctx: MutationCtx,
  decision: Pick<
    Doc<"decisionRequests">,
    "_id" | "workspaceId" | "runId" | "uncertaintyId" | "jobId" | "kind" | "tier" | "prompt" | "options"
  >,
): Promise<void> {
  await queueWebhookEvent(ctx, decision.workspaceId, "decision.opened", {
    decision: {
      id: decision._id,
      runId: decision.runId,
      uncertaintyId: decision.uncertaintyId,
      jobId: decision.jobId,
      kind: decision.kind,
      tier: decision.tier,
      prompt: truncateText(decision.prompt, MAX_TEXT),
      options: decision.options?.length ?? 0,
    },
  });
}

/** A run entered done, failed or canceled (not a run that already was). */
export async function queueRunFinished(ctx: MutationCtx, before: Doc<"runs"> | null, after: Doc<"runs">) {
  if (!FINISHED_RUN_STATUSES.includes(after.status) || before?.status === after.status) return;
  await queueWebhookEvent(ctx, after.workspaceId, "run.finished", {
    run: {
      id: after._id,
      repoId: after.repoId,
      runRef: after.runRef,
      status: after.status,
      currentMilestone: after.currentMilestone,
      goal: after.goal === undefined ? undefined : truncateText(after.goal, MAX_TEXT),
    },
  });
}

// ---- Fan-out ---------------------------------------------------------------------------------

/** One delivery per enabled endpoint subscribed to the type (as they are now, not at the event). */
export const fanOut = internalMutation({
  args: {
    workspaceId: v.id("workspaces"),
    type: webhookEventTypeValidator,
    eventId: v.string(),
    createdAt: v.number(),
    data: v.any(),
  },
  handler: async (ctx, event) => {
    const endpoints = await ctx.db
      .query("webhookEndpoints")
      .withIndex("by_workspace", (q) => q.eq("workspaceId", event.workspaceId))
      .take(MAX_WEBHOOK_ENDPOINTS);
    const body = webhookBody(event);
    let deliveries = 0;
    for (const endpoint of endpoints) {
      if (!endpoint.enabled || !endpoint.events.includes(event.type)) continue;
      await insertDelivery(ctx, endpoint, { eventId: event.eventId, type: event.type, body });
      deliveries++;
    }
    return { deliveries };
  },
});

function withoutUndefined(data: EventData): EventData {
  return JSON.parse(JSON.stringify(data)) as EventData;
}
