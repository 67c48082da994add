/**
 * Local mode's request log (SPEC §9b): one line per request answered, in the order they end,
 *
 *   2031-01-15T12:00:00.123Z POST /control-plane/v1/jobs/claim-next 200 4ms 6f1c…-request-id
 *
 * (arrival time, method, path, status, milliseconds, request id). Never a body, a header other
 * than the request id, or the query string (signed file URLs carry their signature there); `npm
 * start -- --quiet` turns it off.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

export type RequestLogEntry = {
  at: Date;
  method: string;
  path: string;
  /** null when the connection closed before an answer was sent. */
  status: number | null;
  ms: number;
  requestId: string | null;
};

/** Request ids as the API accepts them (printable ASCII, no spaces, ≤ 200); anything else prints as `-`. */
const PRINTABLE_ID = /^[\x21-\x7e]{1,200}$/;
const MAX_PATH_LENGTH = 2_048;

export function formatRequestLine(entry: RequestLogEntry): string {
  const path = entry.path
    .split("?")[0]!
    .slice(0, MAX_PATH_LENGTH)
    .replace(/[^\x21-\x7e]/g, "?");
  const id = entry.requestId !== null && PRINTABLE_ID.test(entry.requestId) ? entry.requestId : "-";
  const status = entry.status === null ? "aborted" : String(entry.status);
  return `${entry.at.toISOString()} ${entry.method} ${path || "/"} ${status} ${Math.round(entry.ms)}ms ${id}`;
}

/** Logs `request` once its answer is sent (or the client went away). Call first in the request handler. */
export function logRequest(request: IncomingMessage, response: ServerResponse, log: (line: string) => void): void {
  const at = new Date();
  const started = performance.now();
  // Headers handed to writeHead (as the server does) are not readable afterwards: note the id on the way.
  let answeredId: unknown;
  const writeHead = response.writeHead.bind(response) as (...args: unknown[]) => ServerResponse;
  response.writeHead = ((...args: unknown[]) => {
    const headers = args.find((arg) => typeof arg === "object" && arg !== null && !Array.isArray(arg));
    answeredId = (headers as Record<string, unknown> | undefined)?.["x-request-id"];
    return writeHead(...args);
  }) as typeof response.writeHead;
  response.once("close", () => {
    const answered = answeredId ?? response.getHeader("x-request-id") ?? request.headers["x-request-id"];
    log(
      formatRequestLine({
        at,
        method: request.method ?? "GET",
        path: pathOnly(request.url),
        status: response.headersSent ? response.statusCode : null,
        ms: performance.now() - started,
        requestId: typeof answered === "string" ? answered : null,
      }),
    );
  });
}

/** The path of a request target (origin-form or absolute-form), without its query. */
function pathOnly(target: string | undefined): string {
  if (target === undefined || target === "") return "/";
  if (target.startsWith("/")) return target.split("?")[0]!;
  try {
    return new URL(target).pathname;
  } catch {
    return "/";
  }
}
