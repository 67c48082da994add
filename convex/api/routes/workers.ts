/** Worker and repo routes. Handlers live in convex/workers.ts and convex/repos.ts. */
import { z } from "zod";
import { internal } from "../../_generated/api";
import { REPO_STATUSES, WORKER_STATUSES } from "../../model/workers";
import { splitCapabilities } from "../../model/capabilities";
import {
  listWorkersRequest,
  repoRequest,
  resolveRepoRequest,
  upsertRepoRequest,
  workerHeartbeatRequest,
} from "../requests/workers";
import { defineRoute, type Route } from "../route";
import { CP, idField } from "../schemas";

const repoSchema = z.object({
  _id: idField("repos"),
  _creationTime: z.number(),
  workspaceId: idField("workspaces"),
  remoteUrlHash: z.string(),
  label: z.string().optional(),
  status: z.enum(REPO_STATUSES),
  updatedAt: z.number(),
});

export const workerRoutes: Route[] = [
  defineRoute({
    method: "POST",
    path: `${CP}/v1/workers/heartbeat`,
    auth: "bearer",
    cors: false,
    tag: "workers",
    summary: "Register or refresh a worker, keyed by machineFingerprint (else displayName), with its capabilities.",
    request: workerHeartbeatRequest,
    response: z.object({
      workerId: idField("workers"),
      drainRequested: z.boolean().meta({
        description: "An admin drained this worker: finish the current job, report `offline` and stop claiming.",
      }),
    }),
    errors: ["WORKSPACE_NOT_FOUND"],
    handler: (ctx, { caller, body }) => {
      const { workspaceId, displayName, machineFingerprint, status, capabilities, ...inventory } = body;
      return ctx.runMutation(internal.workers.heartbeat, {
        caller,
        workspaceId,
        displayName,
        machineFingerprint,
        status,
        ...splitCapabilities(capabilities),
        inventory,
      });
    },
  }),
  defineRoute({
    method: "POST",
    path: `${CP}/v1/workers/list`,
    auth: "bearer",
    cors: true,
    tag: "workers",
    summary: "The workspace's workers, most recently seen first, with `online` and `drainRequested` (viewer+).",
    request: listWorkersRequest,
    response: z.object({
      workers: z.array(
        z
          .looseObject({
            _id: idField("workers"),
            displayName: z.string(),
            status: z.enum(WORKER_STATUSES),
            online: z.boolean(),
            drainRequested: z.boolean(),
            lastSeenAt: z.number(),
            capabilities: z.record(z.string(), z.unknown()),
          })
          .meta({ description: "A worker as stored, its inventory and capabilities as sent." }),
      ),
      nextCursor: z.string().nullable(),
    }),
    errors: ["WORKSPACE_NOT_FOUND"],
    handler: (ctx, { caller, body }) => ctx.runQuery(internal.workerAdmin.list, { caller, ...body }),
  }),
  defineRoute({
    method: "POST",
    path: `${CP}/v1/repos/resolve`,
    auth: "bearer",
    cors: true,
    tag: "repos",
    summary: "Find a repo by its remote URL hash; nulls when unknown.",
    request: resolveRepoRequest,
    response: z.object({ repoId: idField("repos").nullable(), repo: repoSchema.nullable() }),
    errors: ["WORKSPACE_NOT_FOUND"],
    handler: (ctx, { caller, body }) => ctx.runQuery(internal.repos.resolve, { caller, ...body }),
  }),
  defineRoute({
    method: "POST",
    path: `${CP}/v1/repos/get`,
    auth: "bearer",
    cors: true,
    tag: "repos",
    summary: "One repo by id; null when missing.",
    request: repoRequest,
    response: z.object({ repo: repoSchema.nullable() }),
    errors: ["WORKSPACE_NOT_FOUND"],
    handler: (ctx, { caller, body }) => ctx.runQuery(internal.repos.get, { caller, ...body }),
  }),
  defineRoute({
    method: "POST",
    path: `${CP}/v1/repos/upsert`,
    auth: "bearer",
    cors: true,
    tag: "repos",
    summary: "Create or update the repo with this remote URL hash; `created` says which.",
    request: upsertRepoRequest,
    response: z.object({ repoId: idField("repos"), created: z.boolean() }),
    errors: ["WORKSPACE_NOT_FOUND"],
    handler: (ctx, { caller, body }) => ctx.runMutation(internal.repos.upsert, { caller, ...body }),
  }),
];
