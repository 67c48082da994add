/**
 * Convex's HTTP API on the local server's port, as `ConvexHttpClient` (convex 1.48) and the
 * documented fetch-based callers use it:
 *
 *   POST /api/query | /api/mutation | /api/action   {path, args, format?}
 *   POST /api/function                              {path, args, format?}  (any kind)
 *   POST /api/run/<module/path>/<name>              {args, format?}        (format defaults to json)
 *   POST /api/query_ts, /api/query_at_ts            consistentQuery's timestamp and read
 *
 * Answers: 200 {status:"success", value, logLines} or 560 {status:"error", errorMessage,
 * errorData?, logLines}; a request that cannot be run gets {code, message} with a 4xx. CORS is
 * open (auth is a bearer token, never a cookie), as on a deployment, so a Console dev server works.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { jsonToConvex, type JSONValue } from "convex/values";
import { z } from "zod";
import { ERROR_STATUS, type ErrorCode } from "../../../convex/model/errors";
import { canonicalPath, exportClean, isResolved, outcomeOf, type FunctionKind, type UdfResult } from "./functions";
import { AuthFailure, type VerifiedIdentity } from "./identity";
import { decodeTs, encodeTs, ProtocolError } from "./protocol";
import type { ConvexRuntime } from "./runtime";

/** Convex's limit on a function's arguments. */
export const MAX_ARGS_BYTES = 16 * 1024 * 1024;
/** `STATUS_CODE_UDF_FAILED` of the client: the function ran and threw. */
const UDF_FAILED = 560;
const FIXED_ROUTES = new Set([
  "/api/query",
  "/api/mutation",
  "/api/action",
  "/api/function",
  "/api/query_ts",
  "/api/query_at_ts",
]);

const KIND_OF_ROUTE: Record<string, FunctionKind> = {
  "/api/query": "query",
  "/api/mutation": "mutation",
  "/api/action": "action",
};

const requestBody = z.object({
  path: z.string().max(1024).optional(),
  args: z.union([z.record(z.string(), z.unknown()), z.array(z.unknown())]).optional(),
  format: z.string().optional(),
  componentPath: z.string().optional(),
  ts: z.string().optional(),
});

class RequestError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** True when `request` is one of the paths above (answered here); false leaves it to the router. */
export async function answerConvexApi(runtime: ConvexRuntime, request: IncomingMessage, response: ServerResponse) {
  const path = new URL(request.url ?? "/", "http://127.0.0.1").pathname;
  if (!FIXED_ROUTES.has(path) && !path.startsWith("/api/run/")) return false;
  const cors = corsHeaders(request);
  if (request.method === "OPTIONS") {
    response.writeHead(204, cors).end();
    return true;
  }
  try {
    if (request.method !== "POST") throw new RequestError("METHOD_NOT_ALLOWED", `${path} takes POST.`);
    if (path === "/api/query_ts") return send(response, 200, { ts: encodeTs(runtime.clock.now()) }, cors);
    const identity = await identityOf(runtime, request.headers.authorization);
    const body = requestBody.safeParse(await readJson(request));
    if (!body.success) {
      const issue = body.error.issues[0]!;
      throw new RequestError("INVALID_REQUEST", `${issue.path.join(".") || "body"}: ${issue.message}`);
    }
    const { format, componentPath } = body.data;
    if (componentPath) throw new RequestError("INVALID_REQUEST", "componentPath: local mode runs root functions only.");
    const udfPath = path.startsWith("/api/run/") ? runPath(path) : body.data.path;
    if (udfPath === undefined) throw new RequestError("INVALID_REQUEST", "path: required.");
    if (canonicalPath(udfPath) === null)
      throw new RequestError("INVALID_REQUEST", `path: "${udfPath}" is not a function path.`);
    // The documented default is `json`; the official clients always ask for convex_encoded_json.
    const exportValue = valueFormat(format ?? "json");
    const argsJson = argsOf(body.data.args);
    if (path === "/api/query_at_ts") requireLatest(runtime, body.data.ts);

    const kind = path === "/api/query_at_ts" ? "query" : (KIND_OF_ROUTE[path] ?? "any");
    const resolved = await runtime.runner.resolvePublic(udfPath, kind);
    let result: UdfResult | { encoded: ReturnType<typeof outcomeOf> };
    if (!isResolved(resolved)) result = resolved;
    else if (resolved.kind === "query") {
      // As of now: a cached result that a later commit made stale must not answer (read your writes).
      const request = { path: resolved.path, argsJson, argsKey: JSON.stringify(argsJson), journal: null };
      const { results } = await runtime.runner.runQueries(identity, [request], runtime.clock.now());
      result = { encoded: results[0]!.outcome };
    } else {
      result = (await runtime.runner.runWrite(resolved, identity, argsJson)).result;
    }
    await runtime.durable();
    const outcome = "encoded" in result ? result.encoded : outcomeOf(result);
    if (outcome.success) {
      return send(
        response,
        200,
        { status: "success", value: exportValue(JSON.parse(outcome.valueJson)), logLines: [] },
        cors,
      );
    }
    const errorData =
      outcome.errorDataJson === undefined ? {} : { errorData: exportValue(JSON.parse(outcome.errorDataJson)) };
    return send(
      response,
      UDF_FAILED,
      { status: "error", errorMessage: outcome.errorMessage, ...errorData, logLines: [] },
      cors,
    );
  } catch (error) {
    if (error instanceof RequestError)
      return send(response, ERROR_STATUS[error.code], { code: error.code, message: error.message }, cors);
    if (error instanceof AuthFailure) return send(response, 401, { code: error.code, message: error.message }, cors);
    throw error;
  }
}

async function identityOf(runtime: ConvexRuntime, header: string | undefined): Promise<VerifiedIdentity | null> {
  if (header === undefined || header.trim() === "") return null;
  const [scheme, token] = header.trim().split(/\s+/, 2);
  if (scheme === "Convex") {
    throw new AuthFailure(
      "INVALID_TOKEN",
      "Admin keys (Authorization: Convex …) are not used by local mode; send a user JWT as Bearer.",
    );
  }
  if (scheme?.toLowerCase() !== "bearer" || !token) {
    throw new AuthFailure("INVALID_TOKEN", "The Authorization header must be `Bearer <JWT>`.");
  }
  return await runtime.verify(token);
}

/** `messages/list` of `/api/run/messages/list` becomes `messages:list`. */
function runPath(path: string): string {
  const parts = path
    .slice("/api/run/".length)
    .split("/")
    .map((part) => decodeURIComponent(part));
  if (parts.length < 2 || parts.some((part) => part === "")) {
    throw new RequestError("INVALID_REQUEST", "Give the function in the path, e.g. /api/run/messages/list.");
  }
  const name = parts.pop()!;
  return `${parts.join("/")}:${name}`;
}

function valueFormat(format: string): (json: JSONValue) => JSONValue {
  if (format === "convex_encoded_json" || format === "convex_json") return (json) => json;
  if (format === "json" || format === "convex_clean_json") return (json) => exportClean(jsonToConvex(json));
  throw new RequestError(
    "INVALID_REQUEST",
    `format: must be "json" or "convex_encoded_json", got "${format.slice(0, 50)}".`,
  );
}

/** Args as an object, or the client's one-element array; decoded later, when the function runs. */
function argsOf(args: Record<string, unknown> | unknown[] | undefined): JSONValue {
  if (args === undefined) return {};
  if (!Array.isArray(args)) return args as JSONValue;
  if (args.length !== 1) throw new RequestError("INVALID_REQUEST", "args: an array must hold exactly one object.");
  return args[0] as JSONValue;
}

/** Local mode keeps no history: a read "at" a timestamp works only while nothing has committed since. */
function requireLatest(runtime: ConvexRuntime, ts: string | undefined) {
  if (ts === undefined) throw new RequestError("INVALID_REQUEST", "ts: required.");
  let at: bigint;
  try {
    at = decodeTs(ts);
  } catch (error) {
    throw new RequestError("INVALID_REQUEST", `ts: ${(error as ProtocolError).message}`);
  }
  if (at !== runtime.clock.now()) {
    throw new RequestError(
      "INVALID_REQUEST",
      "ts: local mode keeps no history; this timestamp is no longer the latest (something committed since).",
    );
  }
}

async function readJson(request: IncomingMessage): Promise<unknown> {
  const declared = Number(request.headers["content-length"] ?? 0);
  if (declared > MAX_ARGS_BYTES)
    throw new RequestError("REQUEST_TOO_LARGE", `Bodies are limited to ${MAX_ARGS_BYTES} bytes.`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_ARGS_BYTES)
      throw new RequestError("REQUEST_TOO_LARGE", `Bodies are limited to ${MAX_ARGS_BYTES} bytes.`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new RequestError("INVALID_JSON", "The body is not valid JSON.");
  }
}

function corsHeaders(request: IncomingMessage): Record<string, string> {
  return {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": "POST, OPTIONS",
    "access-control-allow-headers":
      request.headers["access-control-request-headers"] ?? "content-type, authorization, convex-client",
    "access-control-max-age": "86400",
  };
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string>): true {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    ...headers,
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(text)),
  });
  response.end(text);
  return true;
}
