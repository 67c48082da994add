/** Routes about the API itself: health, readiness and the OpenAPI document. */
import { z } from "zod";
import { internal } from "../../_generated/api";
import { apiError } from "../../model/errors";
import { defineRoute, type Route } from "../route";
import { CP, emptyResponse } from "../schemas";

export const metaRoutes = (openApi: () => unknown): Route[] => [
  defineRoute({
    method: "GET",
    path: `${CP}/health`,
    auth: "none",
    cors: true,
    tag: "meta",
    summary: "Liveness check; no authentication.",
    response: emptyResponse,
    handler: async () => ({}),
  }),
  defineRoute({
    method: "GET",
    path: `${CP}/ready`,
    auth: "none",
    cors: true,
    tag: "meta",
    summary: "Readiness check: 200 once the database answers, else 503 NOT_READY; no authentication.",
    description:
      "Unlike `/health`, which answers whenever the HTTP layer runs, this reads one document, so a load balancer or " +
      "orchestrator sends traffic only once the database can serve it.",
    response: emptyResponse,
    errors: ["NOT_READY"],
    handler: async (ctx) => {
      try {
        await ctx.runQuery(internal.readiness.probe, {});
      } catch {
        throw apiError("NOT_READY", "The database did not answer; try again shortly.");
      }
      return {};
    },
  }),
  defineRoute({
    method: "GET",
    path: `${CP}/openapi.json`,
    auth: "none",
    cors: true,
    tag: "meta",
    summary: "This API's OpenAPI 3.1 document (the same as openapi.json in the repository).",
    response: z.looseObject({}).meta({ description: "An OpenAPI 3.1 document" }),
    handler: async () =>
      new Response(JSON.stringify(openApi()), { headers: { "content-type": "application/json; charset=utf-8" } }),
  }),
];
