/** The shape of one row of the route table (see routes.ts). */
import type { z } from "zod";
import type { ActionCtx } from "../_generated/server";
import type { Caller, JobCaller } from "../access";
import type { ErrorCode } from "../model/errors";

export type AuthMode =
  /** `Authorization: Bearer <token>` (SPEC §3). */
  | "bearer"
  /**
   * `Authorization: Bearer <job token>` only (the `/v1/job/*` routes a job's command calls). Every
   * other token is TOKEN_SCOPE here, and a job token is TOKEN_SCOPE on every "bearer" route.
   */
  | "job"
  /** No bearer: health, OpenAPI, device start/poll, integrations (which check their own secrets). */
  | "none";

export type HandlerInput<Body, A extends AuthMode> = {
  caller: A extends "bearer" ? Caller : A extends "job" ? JobCaller : null;
  body: Body;
  /** The raw body text, for routes that verify a signature over it. */
  rawBody: string;
  request: Request;
};

export type RouteSpec<Req extends z.ZodType, Res extends z.ZodType, A extends AuthMode> = {
  method: "GET" | "POST";
  path: string;
  auth: A;
  /**
   * Whether browsers may read this route's answers (CORS headers; preflight answered). Decided per
   * route (docs/api.md, "CORS"): yes where a browser page (a Console, an API explorer) may call with
   * a bearer token it holds, and for health and the OpenAPI document; no where no browser needs it:
   * device start and poll (a web page could otherwise start a login and read its `deviceSecret`),
   * the integration webhooks (servers call them), and the worker-only routes (claim, heartbeat,
   * log, complete).
   */
  cors: boolean;
  tag: string;
  summary: string;
  description?: string;
  /** Required for POST routes: the JSON body. Unknown fields are dropped, known ones checked strictly. */
  request?: Req;
  /** The success fields that sit next to `ok: true`, or the whole body when `responseContentType` is set. */
  response: Res;
  /** For routes whose success is not a JSON envelope (metrics): the content type of the body `response` describes. */
  responseContentType?: string;
  /**
   * For routes with `auth: "none"` that carry their own secret (integrations): checked where bearer
   * auth would be, after the JSON parse and before validation, so an unauthenticated caller learns
   * nothing about the body it sent. Throws an `apiError` to refuse.
   */
  verify?: (input: { request: Request; rawBody: string }) => Promise<void>;
  /** Error codes this route can answer beyond those every route shares. */
  errors?: ErrorCode[];
  /** Returns the success fields, or a whole Response for routes that are not JSON envelopes. */
  handler: (ctx: ActionCtx, input: HandlerInput<z.output<Req>, A>) => Promise<z.input<Res> | Response>;
};

export type Route = RouteSpec<z.ZodType, z.ZodType, AuthMode>;

/** Declares one route with its handler typed by its schemas. */
export function defineRoute<Req extends z.ZodType, Res extends z.ZodType, A extends AuthMode>(
  spec: RouteSpec<Req, Res, A>,
): Route {
  return spec as unknown as Route;
}
