/**
 * Run triggers (SPEC §8). Owns `runTriggers`. Admins manage triggers of type `event` in the
 * Console; ingest finds the enabled ones matching an event (`matchingEventTriggers`) and, when
 * a fired trigger runs, `executeTriggerAction` creates its run and/or enqueues its job.
 */
import { paginationOptsValidator } from "convex/server";
import { v } from "convex/values";
import type { Doc, Id } from "./_generated/dataModel";
import type { MutationCtx, QueryCtx } from "./_generated/server";
import { recordConsoleChange } from "./audit";
import { changedFields } from "./model/audit";
import { workspaceMutation, workspaceQuery } from "./functions";
import { enqueueJob } from "./jobs";
import { truncateText } from "./model/convexValues";
import { apiError } from "./model/errors";
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

// ---- Console (admins manage, every member may look) -----------------------------------------

function invalid(path: string, message: string) {
  return apiError("INVALID_REQUEST", `${path}: ${message}`, { issues: [{ path, message }] });
}

async function checkTrigger(
  ctx: QueryCtx,
  workspaceId: Id<"workspaces">,
  fields: { name?: string; source?: string; eventType?: string; action?: TriggerAction },
) {
  for (const field of ["name", "source", "eventType"] as const) {
    const value = fields[field];
    if (value !== undefined && (value.trim() === "" || value.length > 120))
      throw invalid(field, "must be 1–120 characters.");
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

export const list = workspaceQuery({
  args: { paginationOpts: paginationOptsValidator },
  handler: async (ctx, { paginationOpts }) =>
    await ctx.db
      .query("runTriggers")
      .withIndex("by_workspace_match", (q) => q.eq("workspaceId", ctx.workspace.workspaceId))
      .paginate(boundedPage(paginationOpts)),
});

export const create = workspaceMutation({
  minRole: "admin",
  args: {
    name: v.string(),
    source: v.string(),
    eventType: v.string(),
    enabled: v.optional(v.boolean()),
    action: triggerActionValidator,
  },
  returns: v.id("runTriggers"),
  handler: async (ctx, fields) => {
    const { workspaceId } = ctx.workspace;
    await checkTrigger(ctx, workspaceId, fields);
    const runTriggerId = await ctx.db.insert("runTriggers", {
      workspaceId,
      name: fields.name,
      type: "event",
      source: fields.source,
      eventType: fields.eventType,
      enabled: fields.enabled ?? true,
      action: fields.action,
      createdBy: ctx.userId,
      updatedAt: Date.now(),
    });
    await recordConsoleChange(ctx, "run_trigger.created", { runTriggerId, name: fields.name });
    return runTriggerId;
  },
});

/** Changes the fields sent (a new `action` replaces the old one whole). */
export const update = workspaceMutation({
  minRole: "admin",
  args: {
    runTriggerId: v.id("runTriggers"),
    name: v.optional(v.string()),
    source: v.optional(v.string()),
    eventType: v.optional(v.string()),
    enabled: v.optional(v.boolean()),
    action: v.optional(triggerActionValidator),
  },
  handler: async (ctx, { runTriggerId, workspaceId: _checked, ...changes }) => {
    const { workspaceId } = ctx.workspace;
    const trigger = await requireTrigger(ctx, workspaceId, runTriggerId);
    await checkTrigger(ctx, workspaceId, changes);
    await ctx.db.patch("runTriggers", runTriggerId, { ...changes, updatedAt: Date.now() });
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
    await ctx.db.delete("runTriggers", runTriggerId);
    await recordConsoleChange(ctx, "run_trigger.deleted", { runTriggerId, name: trigger.name });
  },
});
