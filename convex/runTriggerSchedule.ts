/**
 * Schedule triggers firing (SPEC §6 "Scheduling"). Each enabled schedule trigger has one pending
 * scheduled call of `fire` at its `nextRunAt` (armed by runTriggers.ts `armSchedule`). `fire`
 * performs the trigger's action as an event trigger does (`executeTriggerAction`, in a
 * sub-transaction so a failure is recorded, not thrown), then arms the next firing: the first
 * cron time after both the firing it served and now. So a firing missed while local mode was
 * stopped (its call is re-armed at start and runs at once) fires once, never a burst of the
 * missed times. `repairStalled` re-arms a chain whose call ended without firing (a call
 * interrupted by a crash is marked failed at the next start, scripts/local/scheduled.ts).
 */
import { v } from "convex/values";
import { internal } from "./_generated/api";
import type { Doc, Id } from "./_generated/dataModel";
import { internalMutation } from "./_generated/server";
import { apiError } from "./model/errors";
import { systemIdempotencyKey } from "./model/jobs";
import type { TemplateContext } from "./model/templates";
import { armSchedule, executeTriggerAction, triggerFailureReason } from "./runTriggers";

/** A firing this late is overdue: `repairStalled` checks that its call is still coming. */
export const STALLED_AFTER_MS = 60_000;
/** Schedule triggers one repair sweep looks at. */
const REPAIR_BATCH = 50;

/** Template values of a firing: `event.id` is unique per trigger and due time. */
function scheduleContext(trigger: Doc<"runTriggers">, at: number): TemplateContext {
  return {
    event: {
      id: `${trigger._id}-${at}`,
      source: "schedule",
      eventType: "cron",
      idempotencyKey: `${trigger._id}:${at}`,
      occurredAt: at,
      title: trigger.name,
    },
  };
}

/** The firing the trigger waits for, when `generation` is still its current one; else null. */
function dueFiring(trigger: Doc<"runTriggers"> | null, generation: number) {
  if (trigger === null || trigger.type !== "schedule" || !trigger.enabled) return null;
  if (trigger.scheduleGeneration !== generation || trigger.nextRunAt === undefined) return null;
  return { trigger, at: trigger.nextRunAt };
}

const firing = { runTriggerId: v.id("runTriggers"), generation: v.number() };

/** Fires one schedule trigger at its `nextRunAt` and arms the next firing. A stale call does nothing. */
export const fire = internalMutation({
  args: firing,
  handler: async (ctx, { runTriggerId, generation }) => {
    const due = dueFiring(await ctx.db.get("runTriggers", runTriggerId), generation);
    if (due === null) return;
    const { at } = due;
    let outcome: Doc<"runTriggers">["lastRun"];
    try {
      const { runId, jobId } = await ctx.runMutation(internal.runTriggerSchedule.applyFiring, {
        runTriggerId,
        generation,
      });
      outcome = { at, firedAt: Date.now(), status: "done", runId, jobId };
    } catch (error) {
      outcome = { at, firedAt: Date.now(), status: "failed", error: triggerFailureReason(error, runTriggerId) };
    }
    await ctx.db.patch("runTriggers", runTriggerId, { lastRun: outcome, scheduledFunctionId: undefined });
    const trigger = (await ctx.db.get("runTriggers", runTriggerId))!;
    await armSchedule(ctx, trigger, Math.max(at, Date.now()), { keepPrevious: true });
  },
});

/** The action of one firing; throws (writing nothing) when the repo or a filled template is unacceptable. */
export const applyFiring = internalMutation({
  args: firing,
  handler: async (ctx, { runTriggerId, generation }): Promise<{ runId?: Id<"runs">; jobId?: Id<"jobs"> }> => {
    const due = dueFiring(await ctx.db.get("runTriggers", runTriggerId), generation);
    if (due === null) throw apiError("RUN_TRIGGER_NOT_FOUND", "The run trigger changed before it fired.");
    return await executeTriggerAction(
      ctx,
      due.trigger,
      scheduleContext(due.trigger, due.at),
      systemIdempotencyKey("schedule", runTriggerId, String(due.at)),
    );
  },
});

/**
 * Safety net (crons.ts): an enabled schedule trigger overdue by STALLED_AFTER_MS whose call is no
 * longer pending or running (it failed, was canceled or vanished) is fired now, once, through a
 * fresh call; the next firing follows from there.
 */
export const repairStalled = internalMutation({
  args: {},
  handler: async (ctx) => {
    const overdue = await ctx.db
      .query("runTriggers")
      .withIndex("by_type_next", (q) =>
        q
          .eq("type", "schedule")
          .eq("enabled", true)
          .lt("nextRunAt", Date.now() - STALLED_AFTER_MS),
      )
      .take(REPAIR_BATCH);
    for (const trigger of overdue) {
      const call =
        trigger.scheduledFunctionId === undefined
          ? null
          : await ctx.db.system.get("_scheduled_functions", trigger.scheduledFunctionId);
      if (call !== null && (call.state.kind === "pending" || call.state.kind === "inProgress")) continue;
      const generation = (trigger.scheduleGeneration ?? 0) + 1;
      const scheduledFunctionId = await ctx.scheduler.runAfter(0, internal.runTriggerSchedule.fire, {
        runTriggerId: trigger._id,
        generation,
      });
      await ctx.db.patch("runTriggers", trigger._id, { scheduledFunctionId, scheduleGeneration: generation });
    }
  },
});
