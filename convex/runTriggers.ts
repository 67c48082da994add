/**
 * Run triggers (SPEC §8, §6 "Scheduling"). Owns `runTriggers`. Admins manage them in the
 * Console. Type `event`: ingest finds the enabled ones matching an event
 * (`matchingEventTriggers`). Type `schedule`: a cron expression in a time zone, fired by a chain
 * of scheduled functions that `armSchedule` starts (runTriggerSchedule.ts fires them). Either
 * way, a fired trigger runs `executeTriggerAction`, which creates its run and/or enqueues its job.
 */
import { paginationOptsValidator } from "convex/server";
import { ConvexError, v } from "convex/values";
import { internal } from "./_generated/api";
import type { Doc, Id } from "./_generated/dataModel";
import type { MutationCtx, QueryCtx } from "./_generated/server";
import { recordConsoleChange } from "./audit";
import { changedFields } from "./model/audit";
import { workspaceMutation, workspaceQuery } from "./functions";
import { enqueueJob } from "./jobs";
import { truncateText } from "./model/convexValues";
import {
  nextRunAfter,
  nextRunTimes,
  scheduleProblem,
  scheduleValidator,
  UPCOMING_RUNS,
  type Schedule,
} from "./model/cronSchedule";
import { apiError, isApiErrorData } from "./model/errors";
import { MAX_PROMPT_BYTES, utf8Bytes } from "./model/jobs";
import { requirementsProblem } from "./model/matching";
import {
  DEFAULT_RUN_REF_TEMPLATE,
  MAX_TRIGGERS_PER_EVENT,
  triggerActionValidator,
  type TriggerAction,
} from "./model/runTriggers";
import { fillTemplate, templateProblems, type TemplateContext } from "./model/templates";
import { requireRepo } from "./repos";
import { ensureRunByRef } from "./runs";
import { boundedPage } from "./model/pages";

const MAX_RUN_REF_LENGTH = 200;
const MAX_GOAL_LENGTH = 8_000;

/** Enabled event triggers of a workspace for this (source, eventType): one index range. */
export async function matchingEventTriggers(
  ctx: QueryCtx,
  workspaceId: Id<"workspaces">,
  source: string,
  eventType: string,
): Promise<Doc<"runTriggers">[]> {
  return await ctx.db
    .query("runTriggers")
    .withIndex("by_workspace_match", (q) =>
      q
        .eq("workspaceId", workspaceId)
        .eq("type", "event")
        .eq("source", source)
        .eq("eventType", eventType)
        .eq("enabled", true),
    )
    .take(MAX_TRIGGERS_PER_EVENT);
}

/**
 * Does what a trigger says for one event. `idempotencyKey` makes the job enqueue safe to repeat;
 * the run is found by its filled runRef, and only a new run gets the trigger's status and goal.
 * Throws (and so writes nothing) when the repo, the filled prompt or anything else is unacceptable.
 */
export async function executeTriggerAction(
  ctx: MutationCtx,
  trigger: Doc<"runTriggers">,
  context: TemplateContext,
  idempotencyKey: string,
): Promise<{ runId?: Id<"runs">; jobId?: Id<"jobs"> }> {
  const { action, workspaceId } = trigger;
  const repo = await requireRepo(ctx, workspaceId, action.repoId);
  let runId: Id<"runs"> | undefined;
  if (action.createRun) {
    const filledRef = fillTemplate(action.createRun.runRefTemplate ?? DEFAULT_RUN_REF_TEMPLATE, context).trim();
    const runRef = truncateText(filledRef || fillTemplate(DEFAULT_RUN_REF_TEMPLATE, context), MAX_RUN_REF_LENGTH);
    const goal = action.createRun.goalTemplate && fillTemplate(action.createRun.goalTemplate, context, MAX_GOAL_LENGTH);
    ({ runId } = await ensureRunByRef(ctx, workspaceId, repo._id, runRef, {
      status: action.createRun.status ?? "queued",
      ...(goal ? { goal } : {}),
    }));
  }
  if (!action.enqueueJob) return { runId };
  const { promptTemplate, ...job } = action.enqueueJob;
  const { jobId } = await enqueueJob(ctx, {
    ...job,
    workspaceId,
    repoId: repo._id,
    runId,
    prompt: fillTemplate(promptTemplate, context),
    idempotencyKey,
  });
  return { runId, jobId };
}

/** How a fired trigger's failure is recorded: the API error, or a generic sentence (logged). */
export function triggerFailureReason(error: unknown, runTriggerId: Id<"runTriggers">): string {
  if (error instanceof ConvexError && isApiErrorData(error.data)) return `${error.data.code}: ${error.data.message}`;
  if (!(error instanceof ConvexError)) console.error(`Run trigger ${runTriggerId} failed: ${String(error)}`);
  return "INTERNAL_ERROR: the trigger failed unexpectedly.";
}

// ---- Schedule triggers: arming the chain --------------------------------------------------------

/**
 * Makes `scheduledFunctionId` the only call that will fire the trigger: the previous call is
 * canceled (unless `keepPrevious`: the firing call itself re-arms) and the generation grows, so a
 * call that escaped the cancel finds a different generation and does nothing. An enabled schedule
 * trigger gets its next firing strictly after `after`; anything else is left unarmed.
 */
export async function armSchedule(
  ctx: MutationCtx,
  trigger: Doc<"runTriggers">,
  after: number,
  options: { keepPrevious?: boolean } = {},
) {
  if (!options.keepPrevious) await cancelPending(ctx, trigger.scheduledFunctionId);
  const generation = (trigger.scheduleGeneration ?? 0) + 1;
  const nextRunAt =
    trigger.type === "schedule" && trigger.enabled && trigger.schedule
      ? (nextRunAfter(trigger.schedule, after) ?? undefined)
      : undefined;
  const scheduledFunctionId =
    nextRunAt === undefined
      ? undefined
      : await ctx.scheduler.runAt(nextRunAt, internal.runTriggerSchedule.fire, {
          runTriggerId: trigger._id,
          generation,
        });
  await ctx.db.patch("runTriggers", trigger._id, { nextRunAt, scheduledFunctionId, scheduleGeneration: generation });
}

async function cancelPending(ctx: MutationCtx, scheduledFunctionId: Id<"_scheduled_functions"> | undefined) {
  if (scheduledFunctionId === undefined) return;
  const scheduled = await ctx.db.system.get("_scheduled_functions", scheduledFunctionId);
  if (scheduled?.state.kind === "pending") await ctx.scheduler.cancel(scheduledFunctionId);
}

// ---- Console (admins manage, every member may look) -----------------------------------------

function invalid(path: string, message: string) {
  return apiError("INVALID_REQUEST", `${path}: ${message}`, { issues: [{ path, message }] });
}

type TriggerFields = {
  name?: string;
  source?: string;
  eventType?: string;
  schedule?: Schedule;
  action?: TriggerAction;
};

/** The fields a trigger of `type` must have (on create) and must not have. */
function checkShape(type: "event" | "schedule", fields: TriggerFields, creating: boolean) {
  const [needed, foreign] =
    type === "event" ? [["source", "eventType"], ["schedule"]] : [["schedule"], ["source", "eventType"]];
  for (const field of foreign as (keyof TriggerFields)[]) {
    if (fields[field] !== undefined) throw invalid(field, `is not a field of a trigger of type \`${type}\`.`);
  }
  if (!creating) return;
  for (const field of needed as (keyof TriggerFields)[]) {
    if (fields[field] === undefined) throw invalid(field, `is required for a trigger of type \`${type}\`.`);
  }
}

async function checkTrigger(ctx: QueryCtx, workspaceId: Id<"workspaces">, fields: TriggerFields) {
  for (const field of ["name", "source", "eventType"] as const) {
    const value = fields[field];
    if (value !== undefined && (value.trim() === "" || value.length > 120))
      throw invalid(field, "must be 1–120 characters.");
  }
  if (fields.schedule !== undefined) {
    const problem = scheduleProblem(fields.schedule);
    if (problem !== null) throw invalid(problem.path, problem.message);
  }
  const { action } = fields;
  if (action === undefined) return;
  if (!action.createRun && !action.enqueueJob) throw invalid("action", "must create a run, enqueue a job, or both.");
  await requireRepo(ctx, workspaceId, action.repoId, "action.repoId");
  const templates = {
    "action.createRun.runRefTemplate": action.createRun?.runRefTemplate,
    "action.createRun.goalTemplate": action.createRun?.goalTemplate,
    "action.enqueueJob.promptTemplate": action.enqueueJob?.promptTemplate,
  };
  for (const [path, template] of Object.entries(templates)) {
    if (template === undefined) continue;
    const problems = templateProblems(template);
    if (problems.length > 0) throw invalid(path, problems.join(" "));
  }
  if (action.enqueueJob) {
    if (action.enqueueJob.promptTemplate.trim() === "")
      throw invalid("action.enqueueJob.promptTemplate", "must not be empty.");
    if (utf8Bytes(action.enqueueJob.promptTemplate) > MAX_PROMPT_BYTES) {
      throw invalid("action.enqueueJob.promptTemplate", `must be at most ${MAX_PROMPT_BYTES} bytes.`);
    }
    const problem = requirementsProblem(action.enqueueJob.requirements ?? {});
    if (problem !== null) {
      const path = `action.enqueueJob.requirements${problem.key ? `.${problem.key}` : ""}`;
      throw invalid(path, problem.message);
    }
  }
}

async function requireTrigger(ctx: QueryCtx, workspaceId: Id<"workspaces">, runTriggerId: Id<"runTriggers">) {
  const trigger = await ctx.db.get("runTriggers", runTriggerId);
  if (trigger === null || trigger.workspaceId !== workspaceId) {
    throw apiError("RUN_TRIGGER_NOT_FOUND", "No run trigger with this id in this workspace.");
  }
  return trigger;
}

/** A trigger as the Console shows it: a schedule trigger also lists its next firings. */
function withUpcoming(trigger: Doc<"runTriggers">) {
  const { schedule, nextRunAt } = trigger;
  const upcomingRuns =
    schedule === undefined || nextRunAt === undefined
      ? []
      : [nextRunAt, ...nextRunTimes(schedule, nextRunAt, UPCOMING_RUNS - 1)];
  return { ...trigger, upcomingRuns };
}

export const list = workspaceQuery({
  args: { paginationOpts: paginationOptsValidator },
  handler: async (ctx, { paginationOpts }) => {
    const page = await ctx.db
      .query("runTriggers")
      .withIndex("by_workspace_match", (q) => q.eq("workspaceId", ctx.workspace.workspaceId))
      .paginate(boundedPage(paginationOpts));
    return { ...page, page: page.page.map(withUpcoming) };
  },
});

const triggerTypeValidator = v.union(v.literal("event"), v.literal("schedule"));

export const create = workspaceMutation({
  minRole: "admin",
  args: {
    name: v.string(),
    /** Default `event`. */
    type: v.optional(triggerTypeValidator),
    source: v.optional(v.string()),
    eventType: v.optional(v.string()),
    schedule: v.optional(scheduleValidator),
    enabled: v.optional(v.boolean()),
    action: triggerActionValidator,
  },
  returns: v.id("runTriggers"),
  handler: async (ctx, { type = "event", workspaceId: _checked, ...fields }) => {
    const { workspaceId } = ctx.workspace;
    checkShape(type, fields, true);
    await checkTrigger(ctx, workspaceId, fields);
    const schedule = fields.schedule && { cron: fields.schedule.cron.trim(), timeZone: fields.schedule.timeZone };
    const runTriggerId = await ctx.db.insert("runTriggers", {
      workspaceId,
      name: fields.name,
      type,
      ...(type === "event" ? { source: fields.source, eventType: fields.eventType } : { schedule }),
      enabled: fields.enabled ?? true,
      action: fields.action,
      createdBy: ctx.userId,
      updatedAt: Date.now(),
    });
    if (type === "schedule") await armSchedule(ctx, (await ctx.db.get("runTriggers", runTriggerId))!, Date.now());
    await recordConsoleChange(ctx, "run_trigger.created", { runTriggerId, name: fields.name });
    return runTriggerId;
  },
});

/**
 * Changes the fields sent (a new `action` or `schedule` replaces the old one whole; the type
 * stays). A schedule trigger is re-armed from now: its pending firing is canceled and the next
 * one follows the new schedule (none while disabled).
 */
export const update = workspaceMutation({
  minRole: "admin",
  args: {
    runTriggerId: v.id("runTriggers"),
    name: v.optional(v.string()),
    source: v.optional(v.string()),
    eventType: v.optional(v.string()),
    schedule: v.optional(scheduleValidator),
    enabled: v.optional(v.boolean()),
    action: v.optional(triggerActionValidator),
  },
  handler: async (ctx, { runTriggerId, workspaceId: _checked, ...changes }) => {
    const { workspaceId } = ctx.workspace;
    const trigger = await requireTrigger(ctx, workspaceId, runTriggerId);
    checkShape(trigger.type, changes, false);
    await checkTrigger(ctx, workspaceId, changes);
    const patch = changes.schedule
      ? { ...changes, schedule: { cron: changes.schedule.cron.trim(), timeZone: changes.schedule.timeZone } }
      : changes;
    await ctx.db.patch("runTriggers", runTriggerId, { ...patch, updatedAt: Date.now() });
    if (trigger.type === "schedule" && (changes.schedule !== undefined || changes.enabled !== undefined)) {
      await armSchedule(ctx, (await ctx.db.get("runTriggers", runTriggerId))!, Date.now());
    }
    await recordConsoleChange(ctx, "run_trigger.updated", {
      runTriggerId,
      name: trigger.name,
      changed: changedFields(changes),
    });
  },
});

export const remove = workspaceMutation({
  minRole: "admin",
  args: { runTriggerId: v.id("runTriggers") },
  handler: async (ctx, { runTriggerId }) => {
    const trigger = await requireTrigger(ctx, ctx.workspace.workspaceId, runTriggerId);
    await cancelPending(ctx, trigger.scheduledFunctionId);
    await ctx.db.delete("runTriggers", runTriggerId);
    await recordConsoleChange(ctx, "run_trigger.deleted", { runTriggerId, name: trigger.name });
  },
});
