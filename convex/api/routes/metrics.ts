/** `GET /control-plane/metrics` (SPEC §9b): the job counters and workers online in the Prometheus text format. */
import { z } from "zod";
import { internal } from "../../_generated/api";
import type { Id } from "../../_generated/dataModel";
import type { ActionCtx } from "../../_generated/server";
import type { Caller } from "../../access";
import { EXPOSITION_CONTENT_TYPE, exposition, metricFamilies, type WorkspaceStats } from "../../model/metricsText";
import { defineRoute, type Route } from "../route";
import { CP } from "../schemas";

/** Workspaces listed per query when a deployment-wide caller scrapes every workspace. */
const WORKSPACES_PER_PAGE = 100;

/** The workspaces a caller's scrape covers: a workspace token its own, deployment-wide callers all. */
async function workspacesOf(ctx: ActionCtx, caller: Caller): Promise<Array<Id<"workspaces">>> {
  if (caller.kind === "token") return [caller.workspaceId];
  const ids: Array<Id<"workspaces">> = [];
  let cursor: string | null = null;
  for (;;) {
    const page: { workspaceIds: Array<Id<"workspaces">>; continueCursor: string; isDone: boolean } = await ctx.runQuery(
      internal.metrics.workspacePage,
      {
        caller,
        paginationOpts: { cursor, numItems: WORKSPACES_PER_PAGE },
      },
    );
    ids.push(...page.workspaceIds);
    if (page.isDone) return ids;
    cursor = page.continueCursor;
  }
}

export const metricsRoutes: Route[] = [
  defineRoute({
    method: "GET",
    path: `${CP}/metrics`,
    auth: "bearer",
    cors: false,
    tag: "meta",
    summary: "Prometheus metrics: jobs by status, claims, completions, failures, recoveries, retries, workers online.",
    description:
      "Text exposition format 0.0.4. The deployment's service token sees every workspace; a workspace service token " +
      "or an admin's device token sees its own workspace; other tokens answer 403 FORBIDDEN. Each workspace is read " +
      "in its own transaction from counters kept with every job change (docs/operations.md lists the metrics).",
    response: z.string().meta({ description: "Prometheus text exposition format" }),
    responseContentType: EXPOSITION_CONTENT_TYPE,
    handler: async (ctx, { caller }) => {
      const stats: WorkspaceStats[] = [];
      for (const workspaceId of await workspacesOf(ctx, caller)) {
        stats.push(await ctx.runQuery(internal.metrics.workspaceMetrics, { caller, workspaceId }));
      }
      return new Response(exposition(metricFamilies(stats, Date.now())), {
        headers: { "content-type": EXPOSITION_CONTENT_TYPE, "cache-control": "no-store" },
      });
    },
  }),
];
