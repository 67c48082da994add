/**
 * Node's HTTP server on one side, the fetch `Request`/`Response` of an HTTP action on the other:
 * the request's headers and body in, the answer out. Used by the server's own thread
 * (server.ts) and by its HTTP front thread (httpFront.ts).
 */
import { once } from "node:events";
import type { IncomingMessage, Server, ServerResponse } from "node:http";

export const HOST = "127.0.0.1";

/** Headers that describe the hop between client and us, not the request itself. */
const HOP_BY_HOP = new Set([
  "host",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "proxy-connection",
  "expect",
]);

/** The request's end-to-end headers, as a fetch `Headers`. */
export function fetchHeadersOf(request: IncomingMessage): Headers {
  const headers = new Headers();
  for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i]!;
    if (!HOP_BY_HOP.has(name.toLowerCase())) headers.append(name, request.rawHeaders[i + 1]!);
  }
  return headers;
}

/** The fetch `RequestInit` of a Node request: method, end-to-end headers and body. */
export async function fetchInitOf(request: IncomingMessage): Promise<RequestInit> {
  const method = request.method ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD";
  return {
    method,
    headers: fetchHeadersOf(request),
    body: hasBody ? await bodyOf(request) : undefined,
    duplex: "half",
  } as RequestInit;
}

/** Writes an HTTP action's answer: status, headers (each cookie its own line), then the body. */
export async function sendFetchResponse(result: Response, method: string, response: ServerResponse): Promise<void> {
  const outgoing: Record<string, string | string[]> = {};
  result.headers.forEach((value, name) => {
    if (name !== "set-cookie") outgoing[name] = value;
  });
  const cookies = result.headers.getSetCookie();
  if (cookies.length > 0) outgoing["set-cookie"] = cookies;
  response.writeHead(result.status, outgoing);
  if (result.body === null || method === "HEAD") {
    response.end();
    return;
  }
  // A one-chunk body (every JSON answer) goes out with the headers in one write.
  const reader = result.body.getReader();
  let chunk = await reader.read();
  for (;;) {
    if (chunk.done) {
      response.end();
      return;
    }
    const next = await reader.read();
    if (next.done) {
      response.end(chunk.value);
      return;
    }
    if (!response.write(chunk.value)) await once(response, "drain");
    chunk = next;
  }
}

/** The 500 a request gets when answering it failed; the details stay in the log. */
export function sendInternalError(response: ServerResponse): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  response.writeHead(500, { "content-type": "application/json; charset=utf-8" });
  response.end(JSON.stringify({ ok: false, error: "INTERNAL_ERROR", message: "The local server failed to answer." }));
}

/**
 * Stops accepting, lets the requests in flight finish for at most `withinMs`, then drops every
 * connection; resolves once the server is closed.
 */
export async function drainServer(
  server: Server,
  inFlight: Iterable<Promise<unknown>>,
  withinMs: number,
): Promise<void> {
  const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  await Promise.race([Promise.all(inFlight), new Promise((resolve) => setTimeout(resolve, withinMs).unref())]);
  server.closeAllConnections();
  await stopped;
}

/** The path and query of a request target (origin-form or absolute-form). */
export function pathOf(url: string | undefined): string {
  if (url === undefined || url === "") return "/";
  if (url.startsWith("/")) return url;
  const parsed = new URL(url, `http://${HOST}`); // absolute-form request target
  return parsed.pathname + parsed.search;
}

/** The path only: query strings may carry signed file URLs, so logs name just this. */
export function pathOnlyOf(url: string | undefined): string {
  return pathOf(url).split("?")[0]!;
}

/** Bodies up to this size are read whole before the route runs; larger ones are streamed. */
const BUFFERED_BODY_BYTES = 64 * 1024;

/**
 * The request body: the bytes themselves when it is small (no stream to bridge), else a web
 * stream that starts with what was read, so the endpoint's own size limit stops reading early.
 */
function bodyOf(request: IncomingMessage): Promise<Uint8Array | ReadableStream<Uint8Array>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.byteLength;
      if (size > BUFFERED_BODY_BYTES) {
        detach();
        request.pause();
        resolve(bodyStreamOf(request, chunks));
      }
    };
    const onEnd = () => {
      detach();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      detach();
      reject(error);
    };
    const detach = () => {
      request.off("data", onData);
      request.off("end", onEnd);
      request.off("error", onError);
    };
    request.on("data", onData);
    request.on("end", onEnd);
    request.on("error", onError);
  });
}

/**
 * The rest of the request body as a web stream (after `first`), read on demand. Cancelling
 * (413) drains the rest instead of destroying the socket, which would kill the connection
 * before the 413 is written.
 */
function bodyStreamOf(request: IncomingMessage, first: Buffer[]): ReadableStream<Uint8Array> {
  let done = false;
  const bytes = (chunk: Buffer) => new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        for (const chunk of first) controller.enqueue(bytes(chunk));
        request.on("data", (chunk: Buffer) => {
          if (done) return;
          controller.enqueue(bytes(chunk));
          if ((controller.desiredSize ?? 0) <= 0) request.pause();
        });
        request.on("end", () => {
          if (!done) controller.close();
          done = true;
        });
        request.on("error", (error) => {
          if (!done) controller.error(error);
          done = true;
        });
      },
      pull() {
        request.resume();
      },
      cancel() {
        done = true;
        request.resume(); // discard the rest
      },
    },
    { highWaterMark: 64 * 1024, size: (chunk) => chunk.byteLength },
  );
}
