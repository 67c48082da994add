/** Run routes. Handlers live in convex/runs.ts. */
import { z } from "zod";
import { internal } from "../../_generated/api";
import { RUN_STATUSES } from "../../model/runs";
import { runRequest, updateRunRequest, upsertRunByRefRequest } from "../requests/runs";
import { defineRoute, type Route } from "../route";
import { CP, idField } from "../schemas";

const runSchema = z
  .object({
    _id: idField("runs"),
    _creationTime: z.number(),
    workspaceId: idField("workspaces"),
    repoId: idField("repos"),
    runRef: z
      .string()
      .meta({ description: "Never changes; workers find the run's folder `docs/ias/runs/<runRef>` by it." }),
    status: z.enum(RUN_STATUSES),
    currentMilestone: z.string().optional(),
    runStatePath: z.string().optional(),
    blockedByDecisionRequestId: idField("decisionRequests").optional(),
    goal: z.string().optional(),
    updatedAt: z.number(),
  })
  .meta({ description: "A run (SPEC §7)." });

export const runRoutes: Route[] = [
  defineRoute({
    method: "POST",
    path: `${CP}/v1/runs/upsert`,
    auth: "bearer",
    cors: true,
    tag: "runs",
    summary: "Create or update the run (goal) of a repo with this `runRef`; `created` says which.",
    request: upsertRunByRefRequest,
    response: z.object({ runId: idField("runs"), created: z.boolean() }),
    errors: ["WORKSPACE_NOT_FOUND", "REPO_NOT_FOUND", "DECISION_REQUEST_NOT_FOUND"],
    handler: (ctx, { caller, body }) => ctx.runMutation(internal.runs.upsertByRef, { caller, ...body }),
  }),
  defineRoute({
    method: "POST",
    path: `${CP}/v1/runs/get`,
    auth: "bearer",
    cors: true,
    tag: "runs",
    summary: "One run by id; null when missing.",
    request: runRequest,
    response: z.object({ run: runSchema.nullable() }),
    errors: ["WORKSPACE_NOT_FOUND"],
    handler: (ctx, { caller, body }) => ctx.runQuery(internal.runs.getById, { caller, ...body }),
  }),
  defineRoute({
    method: "POST",
    path: `${CP}/v2/runs/upsert`,
    auth: "bearer",
    cors: true,
    tag: "runs",
    summary: "Update the fields sent on a run, by id.",
    request: updateRunRequest,
    response: z.object({ runId: idField("runs") }),
    errors: ["WORKSPACE_NOT_FOUND", "RUN_NOT_FOUND", "DECISION_REQUEST_NOT_FOUND"],
    handler: (ctx, { caller, body }) => ctx.runMutation(internal.runs.updateById, { caller, ...body }),
  }),
];
