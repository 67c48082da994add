/** Answers what the route table does not: CORS preflight, 404 and 405. */
import { httpAction } from "../_generated/server";
import { apiError } from "../model/errors";
import { CORS_HEADERS, errorResponse, requestIdOf } from "./httpUtil";
import type { Route } from "./route";

export function fallback(routes: readonly Route[]) {
  const methodsByPath = new Map<string, string[]>();
  for (const route of routes) {
    methodsByPath.set(route.path, [...(methodsByPath.get(route.path) ?? []), route.method]);
  }
  return httpAction(async (_ctx, request) => {
    const requestId = requestIdOf(request);
    const path = new URL(request.url).pathname;
    if (request.method === "OPTIONS") {
      return new Response(null, { status: 204, headers: { ...CORS_HEADERS, "x-request-id": requestId } });
    }
    const allowed = methodsByPath.get(path);
    if (allowed === undefined) {
      return errorResponse(requestId, apiError("ROUTE_NOT_FOUND", `No route ${path}.`).data);
    }
    const allow = [...allowed, "OPTIONS"].join(", ");
    return errorResponse(
      requestId,
      apiError("METHOD_NOT_ALLOWED", `${path} accepts ${allowed.join(" or ")}, not ${request.method}.`).data,
      { allow },
    );
  });
}
