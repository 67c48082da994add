/** Test helpers for integrations, run triggers and the Context Lake. */
import { vi } from "vitest";
import type { Id } from "../../convex/_generated/dataModel";
import type { DataPolicy } from "../../convex/model/roles";
import { post, type Json, type TestConvex } from "./harness";

export const INTEGRATION_SECRET = "integration-secret-for-tests-0123456789";

export function ingest(t: TestConvex, body: Json, secret: string | null = INTEGRATION_SECRET) {
  const headers: Record<string, string> = secret === null ? {} : { "x-ias-integration-event-secret": secret };
  return post(t, "/integrations/events/v1/ingest", body, { headers });
}

export async function setDataPolicy(t: TestConvex, workspaceId: Id<"workspaces">, dataPolicy: DataPolicy) {
  await t.run((ctx) => ctx.db.patch(workspaceId, { dataPolicy }));
}

/** Runs every scheduled function (fired run triggers) to completion. Needs fake timers. */
export async function runScheduled(t: TestConvex) {
  await t.finishAllScheduledFunctions(vi.runAllTimers);
}

export async function eventDoc(t: TestConvex, eventId: string) {
  return await t.run((ctx) => ctx.db.get(eventId as Id<"integrationEvents">));
}

export async function itemDoc(t: TestConvex, itemId: string) {
  return await t.run((ctx) => ctx.db.get(itemId as Id<"contextItems">));
}

/** Every event stored under one idempotency key of a workspace (should be at most one). */
export async function eventsWithKey(t: TestConvex, workspaceId: Id<"workspaces">, idempotencyKey: string) {
  return await t.run((ctx) =>
    ctx.db
      .query("integrationEvents")
      .withIndex("by_workspace_key", (q) => q.eq("workspaceId", workspaceId).eq("idempotencyKey", idempotencyKey))
      .collect(),
  );
}
