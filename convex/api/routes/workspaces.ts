/** Workspace routes. Handlers live in convex/workspaces.ts. */
import { z } from "zod";
import { internal } from "../../_generated/api";
import { resolveWorkspaceRequest } from "../requests/misc";
import { defineRoute, type Route } from "../route";
import { CP, workspaceSummarySchema } from "../schemas";

export const workspaceRoutes: Route[] = [
  defineRoute({
    method: "POST",
    path: `${CP}/v1/workspaces/resolve`,
    auth: "bearer",
    cors: true,
    tag: "workspaces",
    summary: "Find a workspace by slug. Missing and inaccessible slugs both answer null.",
    request: resolveWorkspaceRequest,
    response: z.object({
      workspaceId: z.string().nullable(),
      workspace: workspaceSummarySchema.nullable(),
    }),
    handler: (ctx, { caller, body }) => ctx.runQuery(internal.workspaces.resolveBySlug, { caller, ...body }),
  }),
];
