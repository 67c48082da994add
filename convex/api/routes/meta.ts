/** Routes about the API itself: health and the OpenAPI document. */
import { z } from "zod";
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
