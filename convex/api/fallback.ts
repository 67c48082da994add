/**
 * Answers what the route table does not: CORS preflight, 404 and 405. Preflight and errors carry
 * CORS headers only for paths with a route that allows browsers (`cors`), so a page's preflight
 * to device start fails and the browser never sends the request.
 */
import { httpAction } from "../_generated/server";
import { apiError } from "../model/errors";
import { CORS_HEADERS, errorResponse, requestIdOf } from "./httpUtil";
import type { Route } from "./route";

export function fallback(routes: readonly Route[]) {
  const methodsByPath = new Map<string, string[]>();
  const corsPaths = new Set<string>();
  for (const route of routes) {
    methodsByPath.set(route.path, [...(methodsByPath.get(route.path) ?? []), route.method]);
    if (route.cors) corsPaths.add(route.path);
  }
  return httpAction(async (_ctx, request) => {
    const requestId = requestIdOf(request);
    const path = new URL(request.url).pathname;
    const cors = corsPaths.has(path) ? CORS_HEADERS : {};
    if (request.method === "OPTIONS") {
      return new Response(null, { status: 204, headers: { ...cors, "x-request-id": requestId } });
    }
    const allowed = methodsByPath.get(path);
    if (allowed === undefined) {
      return errorResponse(requestId, apiError("ROUTE_NOT_FOUND", `No route ${path}.`).data);
    }
    const allow = [...allowed, "OPTIONS"].join(", ");
    return errorResponse(
      requestId,
      apiError("METHOD_NOT_ALLOWED", `${path} accepts ${allowed.join(" or ")}, not ${request.method}.`).data,
      { ...cors, allow },
    );
  });
}
