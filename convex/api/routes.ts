/**
 * The route table: the one source for the router (http.ts), request validation (endpoint.ts)
 * and the OpenAPI document (openapi.ts). Rows are grouped by domain in ./routes/; to add a
 * route, add a row there and a domain function for its handler to call.
 */
import { buildOpenApiDocument } from "./openapi";
import type { Route } from "./route";
import { authRoutes } from "./routes/auth";
import { contextPackRoutes } from "./routes/contextPacks";
import { integrationRoutes } from "./routes/integrations";
import { jobRoutes } from "./routes/jobs";
import { jobTokenRoutes } from "./routes/jobToken";
import { metaRoutes } from "./routes/meta";
import { queueRoutes } from "./routes/queues";
import { metricsRoutes } from "./routes/metrics";
import { runRoutes } from "./routes/runs";
import { uncertaintyRoutes } from "./routes/uncertainties";
import { uploadRoutes } from "./routes/uploads";
import { workerRoutes } from "./routes/workers";
import { workspaceRoutes } from "./routes/workspaces";

export const routes: readonly Route[] = [
  ...metaRoutes(() => openApi()),
  ...metricsRoutes,
  ...workspaceRoutes,
  ...authRoutes,
  ...workerRoutes,
  ...jobRoutes,
  ...jobTokenRoutes,
  ...queueRoutes,
  ...runRoutes,
  ...uncertaintyRoutes,
  ...contextPackRoutes,
  ...uploadRoutes,
  ...integrationRoutes,
];

let cachedDocument: ReturnType<typeof buildOpenApiDocument> | undefined;
/** The OpenAPI document of `routes`, built once per process. */
export function openApi() {
  cachedDocument ??= buildOpenApiDocument(routes);
  return cachedDocument;
}
