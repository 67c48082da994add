/**
 * The single wrapper every route goes through, in this order:
 *   body size limit -> JSON parse -> bearer auth (or the route's own `verify`) -> zod validation
 *   -> handler -> envelope.
 * A job token (model/jobTokens.ts) is accepted on `auth: "job"` routes only, and only a job token
 * there: either way round is 403 TOKEN_SCOPE, after the token itself was found good.
 * Workspace access and role are checked by the domain function the handler calls, inside its
 * own transaction (see access.ts), so they can never be stale.
 */
import { ConvexError } from "convex/values";
import { internal } from "../_generated/api";
import { httpAction, type ActionCtx } from "../_generated/server";
import type { Caller, JobCaller } from "../access";
import { CONVEX_LIMITS, requestJsonProblem } from "../model/convexValues";
import { apiError, isApiErrorData, type ApiErrorData } from "../model/errors";
import { parseJobToken } from "../model/jobTokens";
import { secretsEqual, sha256Hex } from "../model/tokens";
import {
  CORS_HEADERS,
  MAX_BODY_BYTES,
  errorOf,
  errorResponse,
  jsonResponse,
  readBodyWithin,
  requestIdOf,
} from "./httpUtil";
import type { AuthMode, Route } from "./route";

export function endpoint(route: Route) {
  const cors = route.cors ? CORS_HEADERS : {};
  return httpAction(async (ctx, request) => {
    const requestId = requestIdOf(request);
    try {
      const rawBody = route.method === "POST" ? await readBodyText(request) : "";
      const json = route.method === "POST" ? parseJson(rawBody) : {};
      const caller = route.auth === "none" ? null : await identify(ctx, request, route.auth);
      await route.verify?.({ request, rawBody });
      const body = route.request ? validate(route.request, json) : {};
      const result = await route.handler(ctx, { caller: caller as never, body, rawBody, request });
      if (result instanceof Response) {
        result.headers.set("x-request-id", requestId);
        for (const [name, value] of Object.entries(cors)) result.headers.set(name, value);
        return result;
      }
      return jsonResponse(requestId, 200, { ok: true, ...(result as object) }, cors);
    } catch (error) {
      const apiErrorData = toApiError(error, requestId, route.path);
      const headers: Record<string, string> =
        apiErrorData.retryAfterMs === undefined
          ? cors
          : { ...cors, "retry-after": String(Math.ceil(apiErrorData.retryAfterMs / 1000)) };
      return errorResponse(requestId, apiErrorData, headers);
    }
  });
}

async function readBodyText(request: Request): Promise<string> {
  const bytes = await readBodyWithin(request, MAX_BODY_BYTES);
  if (bytes === "too_large") {
    throw apiError("REQUEST_TOO_LARGE", `Request bodies are limited to ${MAX_BODY_BYTES} bytes.`);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw apiError("INVALID_JSON", "The request body is not valid UTF-8.");
  }
}

/**
 * Deepest request body accepted: Convex's own limit on function arguments. Checked before anything
 * recursive (validation, `JSON.stringify`, Convex's argument encoding) sees the value, so a
 * 10,000-deep body is a 400 on every route, before authentication, never a stack overflow.
 */
export const MAX_BODY_NESTING = CONVEX_LIMITS.argumentNesting;

/** An empty body counts as `{}` so routes without fields can be called with a bare POST. */
function parseJson(text: string): unknown {
  if (text.trim() === "") return {};
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof SyntaxError ? `: ${error.message}` : ".";
    throw apiError("INVALID_JSON", `The request body is not valid JSON${detail}`);
  }
  const problem = requestJsonProblem(json, MAX_BODY_NESTING);
  if (problem?.rule === "nesting") {
    throw apiError("INVALID_JSON", `The request body is nested deeper than ${MAX_BODY_NESTING} levels.`);
  }
  if (problem !== null) {
    // JSON allows `\ud800` escapes that are not Unicode text; Convex cannot store such strings.
    const { path, message } = problem;
    throw apiError("INVALID_REQUEST", `${path || "body"}: ${message}.`, { issues: [{ path, message }] });
  }
  return json;
}

/** Establishes the caller (SPEC §3). Token values never reach an error message or log. */
async function identify(
  ctx: ActionCtx,
  request: Request,
  mode: Exclude<AuthMode, "none">,
): Promise<Caller | JobCaller> {
  const header = request.headers.get("authorization");
  if (header === null || header.trim() === "") {
    if (mode === "bearer" && process.env.IAS_DEV_ALLOW_UNAUTH === "true") return { kind: "dev" };
    throw apiError("MISSING_TOKEN", "Send an `Authorization: Bearer <token>` header.");
  }
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (match === null) {
    throw apiError("INVALID_TOKEN", "The Authorization header must be `Bearer <token>`.");
  }
  const token = match[1]!;
  const jobToken = parseJobToken(token);
  if (jobToken !== null) {
    const found = await ctx.runQuery(internal.jobToken.authenticate, {
      jobId: jobToken.jobId,
      secretHash: await sha256Hex(jobToken.secret),
      now: Date.now(),
    });
    if (!found.ok) throw apiError(found.code, found.message);
    if (mode !== "job") {
      throw apiError(
        "TOKEN_SCOPE",
        "A job token may only call the /v1/job/* routes (log, report, uncertainties, milestone, children).",
      );
    }
    return found.caller;
  }
  const caller = await identifyMinted(ctx, token);
  if (mode === "job") {
    throw apiError("TOKEN_SCOPE", "The /v1/job/* routes take the job token a job's command gets as IAS_JOB_TOKEN.");
  }
  return caller;
}

/** The env service token or a token this deployment minted. */
async function identifyMinted(ctx: ActionCtx, token: string): Promise<Caller> {
  const serviceToken = process.env.IAS_CONTROL_PLANE_SERVICE_TOKEN;
  if (serviceToken && (await secretsEqual(token, serviceToken))) return { kind: "service" };

  const now = Date.now();
  const found = await ctx.runQuery(internal.tokens.authenticate, { tokenHash: await sha256Hex(token), now });
  if (!found.ok) throw apiError(found.code, found.message);
  if (found.lastUsedStale) {
    await ctx.runMutation(internal.tokens.touchLastUsed, { tokenId: found.caller.tokenId, now });
  }
  return found.caller;
}

function validate(schema: NonNullable<Route["request"]>, json: unknown): unknown {
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => ({
    path: issue.path.map(String).join("."),
    message: issue.message,
  }));
  const first = issues[0]!;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
  throw apiError("INVALID_REQUEST", `${first.path || "body"}: ${first.message}${more}`, { issues });
}

/** Our own errors keep their code; anything else is a 500 whose details stay in the server log. */
function toApiError(error: unknown, requestId: string, path: string): ApiErrorData {
  if (error instanceof ConvexError && isApiErrorData(error.data)) return error.data;
  const description = error instanceof Error ? `${error.name}: ${error.message}` : "non-Error thrown";
  console.error(`[${requestId}] ${path} failed: ${description}`);
  return errorOf("INTERNAL_ERROR", `Something went wrong on our side (request ${requestId}).`);
}
