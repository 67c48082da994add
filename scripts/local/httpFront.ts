/**
 * The local server's HTTP front, run in a worker thread (started by httpFrontThread.ts) so that
 * sockets, HTTP parsing, `Request`/`Response` objects, JSON and the request schemas of the
 * control-plane API use the second core. It owns the public port:
 *
 * - `/control-plane/…` requests run their route of `convex/http.ts` here; each `ctx.runQuery`,
 *   `runMutation` or `runAction` is one message to the engine thread, which answers once the
 *   call's commit (and every commit before it) is on disk;
 * - everything else (the Console, the sync WebSocket, the device page, local files, Convex Auth
 *   routes) is passed through, bytes unchanged, to the engine thread's own HTTP server.
 */
import { createServer, request as httpRequest, Agent, type IncomingMessage, type ServerResponse } from "node:http";
import { connect } from "node:net";
import type { Duplex } from "node:stream";
import { parentPort, workerData } from "node:worker_threads";
import { getFunctionName, type FunctionReference } from "convex/server";
import {
  drainServer,
  fetchInitOf,
  HOST,
  pathOf,
  sendFetchResponse,
  sendInternalError,
  pathOnlyOf,
} from "./fetchBridge";
import type { Value } from "convex/values";
import { installFastDigest } from "./fastDigest";
import { decodeError, type EngineMessage, type FrontConfig, type FrontMessage } from "./httpFrontProtocol";
import { refusedForeignHost, refusedForeignHostUpgrade } from "./hostCheck";
import { logRequest } from "./requestLog";
import { messageOf } from "./messageOf";

/** Requests under this prefix run here; their routes call only functions (`convex/api/`). */
export const FRONT_PREFIX = "/control-plane/";

type Router = { lookup(path: string, method: string): [object, string, string] | null };
type Handler = (ctx: object, request: Request) => Promise<Response>;

const config = workerData as FrontConfig;
const engineThread = parentPort!;
const post = (message: FrontMessage) => engineThread.postMessage(message);

const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
let nextId = 0;

function call(reference: FunctionReference<any>, args: Record<string, unknown> = {}): Promise<any> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    post({ type: "call", id, udfPath: getFunctionName(reference), args: args as Record<string, Value> });
  });
}

const unavailable = (what: string) => () => {
  throw new Error(`${what} is not available to control-plane routes in local mode (scripts/local/httpFront.ts).`);
};

/** What a control-plane route may use of its HTTP action context. */
const ctx = {
  runQuery: call,
  runMutation: call,
  runAction: call,
  auth: { getUserIdentity: unavailable("ctx.auth") },
  storage: { getUrl: unavailable("ctx.storage"), store: unavailable("ctx.storage"), get: unavailable("ctx.storage") },
  scheduler: { runAfter: unavailable("ctx.scheduler"), runAt: unavailable("ctx.scheduler") },
  vectorSearch: unavailable("ctx.vectorSearch"),
};

async function main() {
  // Every request hashes its bearer token; this thread needs the engine thread's fast digest too.
  installFastDigest();
  const router = (await import("../../convex/http")).default as unknown as Router;
  const inFlight = new Set<Promise<void>>();
  const upstream = new Agent({ keepAlive: true });
  let publicPort = 0;

  const server = createServer((request, response) => {
    const route = routeOf(router, request);
    if (route !== null && config.requestLog) logRequest(request, response, (line) => post({ type: "log", line }));
    const handled = (route !== null ? answerHere(route, request, response) : passThrough(request, response))
      .catch((error: unknown) => {
        post({
          type: "log",
          line: `Local server: ${request.method} ${pathOnlyOf(request.url)} failed: ${messageOf(error)}`,
        });
        sendInternalError(response);
      })
      .finally(() => inFlight.delete(handled));
    inFlight.add(handled);
  });

  async function answerHere(handler: Handler, request: IncomingMessage, response: ServerResponse) {
    if (refusedForeignHost(request, response, publicPort)) return;
    const result = await handler(ctx, new Request(actionUrlOf(request), await fetchInitOf(request)));
    await sendFetchResponse(result, request.method ?? "GET", response);
  }

  /** Forwards the request to the engine thread's server and its answer back, unchanged. */
  function passThrough(request: IncomingMessage, response: ServerResponse): Promise<void> {
    return new Promise((resolve, reject) => {
      const forwarded = httpRequest(
        {
          host: HOST,
          port: config.internalPort,
          method: request.method,
          path: request.url,
          headers: request.rawHeaders,
          agent: upstream,
        },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, endToEnd(answer.rawHeaders));
          answer.pipe(response);
          answer.once("end", resolve);
          answer.once("error", reject);
        },
      );
      forwarded.once("error", reject);
      // A client that goes away stops the inner request too (a download, a long poll).
      response.once("close", () => {
        if (!response.writableFinished) forwarded.destroy();
        resolve();
      });
      request.pipe(forwarded);
    });
  }

  server.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (refusedForeignHostUpgrade(request, socket, publicPort)) return;
    const inner = connect(config.internalPort, HOST, () => {
      let lines = `${request.method} ${request.url} HTTP/${request.httpVersion}\r\n`;
      for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
        lines += `${request.rawHeaders[i]}: ${request.rawHeaders[i + 1]}\r\n`;
      }
      inner.write(`${lines}\r\n`);
      if (head.length > 0) inner.write(head);
      socket.pipe(inner).pipe(socket);
    });
    const close = () => {
      inner.destroy();
      socket.destroy();
    };
    inner.once("error", close).once("close", close);
    socket.once("error", close).once("close", close);
  });

  engineThread.on("message", (message: EngineMessage) => {
    if (message.type === "result") {
      const waiting = pending.get(message.id);
      pending.delete(message.id);
      if (message.ok) waiting?.resolve(message.value);
      else waiting?.reject(decodeError(message.error));
      return;
    }
    void drain(message.withinMs).then(() => post({ type: "drained" }));
  });

  async function drain(withinMs: number) {
    await drainServer(server, inFlight, withinMs);
    upstream.destroy();
  }

  server.once("error", (error: NodeJS.ErrnoException) =>
    post({ type: "listenError", code: error.code, message: error.message }),
  );
  server.listen(config.port, HOST, () => {
    const address = server.address();
    publicPort = typeof address === "object" && address !== null ? address.port : config.port;
    post({ type: "listening", port: publicPort });
  });
}

/** The same URL convex-test's t.fetch gives an HTTP action. */
function actionUrlOf(request: IncomingMessage): URL {
  return new URL(`https://some.convex.site${pathOf(request.url)}`);
}

/** The HTTP action of a control-plane request; null for anything the engine thread answers. */
function routeOf(router: Router, request: IncomingMessage): Handler | null {
  if (!pathOf(request.url).startsWith(FRONT_PREFIX)) return null;
  const found = router.lookup(actionUrlOf(request).pathname, request.method ?? "GET");
  return found === null ? null : (found[0] as { _handler: Handler })._handler;
}

/** Raw headers without the hop-by-hop ones of the inner connection. */
function endToEnd(rawHeaders: string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (name !== "connection" && name !== "keep-alive") kept.push(rawHeaders[i]!, rawHeaders[i + 1]!);
  }
  return kept;
}

main().catch((error: unknown) => {
  post({ type: "listenError", code: undefined, message: `the HTTP front could not start: ${messageOf(error)}` });
});
