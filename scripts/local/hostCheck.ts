/**
 * DNS-rebinding guard of the local server: a web page whose domain is made to resolve to
 * 127.0.0.1 reaches this server with its own domain in `Host`; only this server's own loopback
 * names are answered (`127.0.0.1:<port>`, `localhost:<port>`, `[::1]:<port>`), anything else
 * gets 421 HOST_NOT_ALLOWED before any route (device page, API, files) runs.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { ERROR_STATUS } from "../../convex/model/errors";

const LOOPBACK_NAMES = ["127.0.0.1", "localhost", "[::1]"];

/** Whether `host` (a Host header) names this server on a loopback address and `port`. */
export function isLoopbackHost(host: string | undefined, port: number): boolean {
  if (host === undefined) return false;
  const normalized = host.trim().toLowerCase();
  return LOOPBACK_NAMES.some((name) => normalized === `${name}:${port}`);
}

function refusal(port: number): string {
  return JSON.stringify({
    ok: false,
    error: "HOST_NOT_ALLOWED",
    message:
      `The local server answers only requests addressed to 127.0.0.1:${port}, localhost:${port} or [::1]:${port}; ` +
      "this Host header names another site (a DNS-rebinding guard). Use one of those addresses.",
  });
}

/**
 * Answers 421 and returns true when the request's Host is not ours; call first for every request.
 * `port` is the one clients address (the HTTP front's, when the request was passed through it).
 */
export function refusedForeignHost(request: IncomingMessage, response: ServerResponse, port: number): boolean {
  if (isLoopbackHost(request.headers.host, port)) return false;
  response.writeHead(ERROR_STATUS.HOST_NOT_ALLOWED, { "content-type": "application/json; charset=utf-8" });
  response.end(refusal(port));
  return true;
}

/** The same guard for a WebSocket upgrade (the sync protocol): 421 on the raw socket, then closed. */
export function refusedForeignHostUpgrade(request: IncomingMessage, socket: Duplex, port: number): boolean {
  if (isLoopbackHost(request.headers.host, port)) return false;
  const body = refusal(port);
  socket.end(
    `HTTP/1.1 ${ERROR_STATUS.HOST_NOT_ALLOWED} Misdirected Request\r\n` +
      "content-type: application/json; charset=utf-8\r\n" +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
  return true;
}
