/** Run-trigger shapes (SPEC §8): what a trigger does, and what happened when an event fired it. */
import { v, type Infer } from "convex/values";
import { jobKindValidator, laneValidator } from "./jobs";
import { requirementsInputValidator } from "./matching";
import { runStatusValidator } from "./runs";

/** Triggers a single event may fire; more matching triggers than this are not fired. */
export const MAX_TRIGGERS_PER_EVENT = 20;

/**
 * What a trigger does: create a run (or reuse the run its runRef names, unchanged), enqueue a
 * job, or both (the job then belongs to that run). Templates are filled from the event
 * (model/templates.ts); status and goal apply only to a run the trigger creates.
 */
export const triggerActionValidator = v.object({
  repoId: v.id("repos"),
  createRun: v.optional(
    v.object({
      /** Default `event-{{event.id}}`: one run per event. */
      runRefTemplate: v.optional(v.string()),
      goalTemplate: v.optional(v.string()),
      status: v.optional(runStatusValidator),
    }),
  ),
  enqueueJob: v.optional(
    v.object({
      kind: jobKindValidator,
      promptTemplate: v.string(),
      role: v.optional(v.string()),
      priority: v.optional(v.number()),
      requirements: v.optional(requirementsInputValidator),
      lane: v.optional(laneValidator),
    }),
  ),
});
export type TriggerAction = Infer<typeof triggerActionValidator>;

export const DEFAULT_RUN_REF_TEMPLATE = "event-{{event.id}}";

/** One fired trigger as recorded on its event: `scheduled`, then `done` or `failed`. */
export const triggerOutcomeValidator = v.object({
  runTriggerId: v.id("runTriggers"),
  status: v.union(v.literal("scheduled"), v.literal("done"), v.literal("failed")),
  runId: v.optional(v.id("runs")),
  jobId: v.optional(v.id("jobs")),
  error: v.optional(v.string()),
  finishedAt: v.optional(v.number()),
});
export type TriggerOutcome = Infer<typeof triggerOutcomeValidator>;

export type SettledOutcome = Omit<TriggerOutcome, "finishedAt"> & { status: "done" | "failed" };

/**
 * The event's outcomes with `outcome` recorded: only the trigger's `scheduled` entry is replaced,
 * so a settled outcome is never overwritten. Returns the same array when nothing changes.
 */
export function settleTriggerOutcome(
  outcomes: TriggerOutcome[],
  outcome: SettledOutcome,
  now: number,
): TriggerOutcome[] {
  const index = outcomes.findIndex(
    (entry) => entry.runTriggerId === outcome.runTriggerId && entry.status === "scheduled",
  );
  if (index === -1) return outcomes;
  return outcomes.map((entry, at) => (at === index ? { ...outcome, finishedAt: now } : entry));
}

/** What the last firing of a schedule trigger did (`at`: the time it was due). */
export const scheduledRunOutcomeValidator = v.object({
  at: v.number(),
  firedAt: v.number(),
  status: v.union(v.literal("done"), v.literal("failed")),
  runId: v.optional(v.id("runs")),
  jobId: v.optional(v.id("jobs")),
  error: v.optional(v.string()),
});
export type ScheduledRunOutcome = Infer<typeof scheduledRunOutcomeValidator>;
