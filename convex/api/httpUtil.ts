/** Response helpers of the HTTP layer: the envelope, CORS headers and request ids. */
import { ERROR_STATUS, type ApiErrorData, type ErrorCode } from "../model/errors";

export const MAX_BODY_BYTES = 262_144;

/** Sent only on routes whose `cors` is true (see route.ts). */
export const CORS_HEADERS: Record<string, string> = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, POST, OPTIONS",
  "access-control-allow-headers": "authorization, content-type, x-request-id",
  "access-control-expose-headers": "x-request-id",
  "access-control-max-age": "86400",
};

const ACCEPTABLE_REQUEST_ID = /^[\x21-\x7e]{1,200}$/;

/** Echoes the caller's `x-request-id` when it is a sane header value, else makes one up. */
export function requestIdOf(request: Request): string {
  const given = request.headers.get("x-request-id");
  return given !== null && ACCEPTABLE_REQUEST_ID.test(given) ? given : crypto.randomUUID();
}

export function jsonResponse(
  requestId: string,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "x-request-id": requestId,
      ...headers,
    },
  });
}

export function errorResponse(requestId: string, error: ApiErrorData, headers: Record<string, string> = {}) {
  const { code, message, ...extra } = error;
  return jsonResponse(requestId, ERROR_STATUS[code], { ok: false, error: code, message, ...extra }, headers);
}

export function errorOf(
  code: ErrorCode,
  message: string,
  extra: Omit<ApiErrorData, "code" | "message"> = {},
): ApiErrorData {
  return { code, message, ...extra };
}

/**
 * Reads at most `limit` bytes of a request's or response's body. Stops (and cancels the stream)
 * as soon as the limit is passed, so an oversized body is never held in memory whole.
 */
export async function readBodyWithin(message: Request | Response, limit: number): Promise<Uint8Array | "too_large"> {
  const declared = message.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) {
    await message.body?.cancel().catch(() => undefined);
    return "too_large";
  }
  if (message.body === null) return new Uint8Array(0);
  const reader = message.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      return "too_large";
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}
