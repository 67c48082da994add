/* eslint-disable */
/**
 * Generated `api` utility.
 *
 * THIS CODE IS AUTOMATICALLY GENERATED.
 *
 * To regenerate, run `npx convex dev`.
 * @module
 */

import type {
  ApiFromModules,
  FilterApi,
  FunctionReference,
} from "convex/server";
import type * as access from "../access.js";
import type * as api_endpoint from "../api/endpoint.js";
import type * as api_fallback from "../api/fallback.js";
import type * as api_http_util from "../api/http-util.js";
import type * as api_openapi from "../api/openapi.js";
import type * as api_route from "../api/route.js";
import type * as api_routes from "../api/routes.js";
import type * as api_routes_auth from "../api/routes/auth.js";
import type * as api_routes_meta from "../api/routes/meta.js";
import type * as api_routes_workspaces from "../api/routes/workspaces.js";
import type * as api_schemas from "../api/schemas.js";
import type * as auth from "../auth.js";
import type * as functions from "../functions.js";
import type * as http from "../http.js";
import type * as model_errors from "../model/errors.js";
import type * as model_roles from "../model/roles.js";
import type * as model_slug from "../model/slug.js";
import type * as model_tokens from "../model/tokens.js";
import type * as tokens from "../tokens.js";
import type * as workspaces from "../workspaces.js";

/**
 * A utility for referencing Convex functions in your app's API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = api.myModule.myFunction;
 * ```
 */
declare const fullApi: ApiFromModules<{
  access: typeof access;
  "api/endpoint": typeof api_endpoint;
  "api/fallback": typeof api_fallback;
  "api/http-util": typeof api_http_util;
  "api/openapi": typeof api_openapi;
  "api/route": typeof api_route;
  "api/routes": typeof api_routes;
  "api/routes/auth": typeof api_routes_auth;
  "api/routes/meta": typeof api_routes_meta;
  "api/routes/workspaces": typeof api_routes_workspaces;
  "api/schemas": typeof api_schemas;
  auth: typeof auth;
  functions: typeof functions;
  http: typeof http;
  "model/errors": typeof model_errors;
  "model/roles": typeof model_roles;
  "model/slug": typeof model_slug;
  "model/tokens": typeof model_tokens;
  tokens: typeof tokens;
  workspaces: typeof workspaces;
}>;
export declare const api: FilterApi<
  typeof fullApi,
  FunctionReference<any, "public">
>;
export declare const internal: FilterApi<
  typeof fullApi,
  FunctionReference<any, "internal">
>;
