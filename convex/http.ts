import { httpRouter, ROUTABLE_HTTP_METHODS } from "convex/server";
import { endpoint } from "./api/endpoint";
import { fallback } from "./api/fallback";
import { routes } from "./api/routes";
import { auth } from "./auth";

const http = httpRouter();

auth.addHttpRoutes(http);
for (const route of routes) {
  http.route({ path: route.path, method: route.method, handler: endpoint(route) });
}
// Everything else: CORS preflight, 404 ROUTE_NOT_FOUND, 405 METHOD_NOT_ALLOWED.
const unrouted = fallback(routes);
for (const method of ROUTABLE_HTTP_METHODS) {
  http.route({ pathPrefix: "/", method, handler: unrouted });
}

export default http;
