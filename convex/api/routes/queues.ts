/** Queue pause routes (SPEC §6 "Pause"). Handlers live in convex/queuePauses.ts. */
import { z } from "zod";
import { internal } from "../../_generated/api";
import { LANES } from "../../model/jobs";
import { queuePauseRequest } from "../requests/queues";
import { defineRoute, type Route } from "../route";
import { CP, idField } from "../schemas";

const queuesSchema = z.object({
  queues: z.array(
    z.object({
      lane: z.enum(LANES),
      lanePaused: z.boolean(),
      pausedRepoIds: z.array(idField("repos")),
    }),
  ),
});

const pauseRoute = (verb: "pause" | "resume") =>
  defineRoute({
    method: "POST",
    path: `${CP}/v1/queues/${verb}`,
    auth: "bearer",
    cors: true,
    tag: "queues",
    summary:
      verb === "pause"
        ? "Pause a lane (every lane when none is named) or one repo in it: its jobs are not claimed (`QUEUE_PAUSED`); enqueue still works. Admins and service tokens."
        : "Resume what pause paused: the lane (every lane when none is named), or one repo in it. Admins and service tokens.",
    request: queuePauseRequest,
    response: queuesSchema,
    errors: ["WORKSPACE_NOT_FOUND", "REPO_NOT_FOUND"],
    handler: (ctx, { caller, body }) => ctx.runMutation(internal.queuePauses[verb], { caller, ...body }),
  });

export const queueRoutes: Route[] = [pauseRoute("pause"), pauseRoute("resume")];
