/**
 * The local-mode server: a Node HTTP server on 127.0.0.1 that hands every request to the real
 * `convex/http.ts` router running in the durable engine, after restoring its state.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { internal } from "../../convex/_generated/api";
import { LOCAL_WORKSPACE_SLUG } from "../../convex/model/slug";
import { lockDataDir, prepareDataDir, reason } from "./data-dir";
import { createEngine, type Engine } from "./engine";
import { convexModuleMap, type ModuleMap } from "./modules";
import { startCronRunner, type CronSpec } from "./crons";
import { rearmScheduledFunctions } from "./scheduled";
import { openJournalStore } from "./store";
import type { OpenJournalFile } from "./journalWriter";
import { answerLocalFiles } from "./files";
import { answerDevicePage } from "./devicePage";
import { answerConsole } from "../console/serve";
import { createConvexApi, type ConvexApi } from "./convexApi/syncServer";
import { refusedForeignHost, refusedForeignHostUpgrade } from "./hostCheck";
import { logRequest } from "./requestLog";

export const HOST = "127.0.0.1";
export { LOCAL_WORKSPACE_SLUG };
/** How long a graceful shutdown waits for requests already being answered. */
const DRAIN_MS = 5_000;

export type LocalServerOptions = {
  /** 0 picks a free port. */
  port: number;
  dataDir: string;
  compactAboveBytes?: number;
  /** Opens journal segments (tests pass a double that records writes and fsyncs). */
  openJournalFile?: OpenJournalFile;
  log?: (message: string) => void;
  /** One line per request through `log` (requestLog.ts); `npm start -- --quiet` turns it off. Default on. */
  requestLog?: boolean;
  /** Defaults to the repo's `convex/` folder. */
  modules?: ModuleMap;
};

export type LocalServer = {
  url: string;
  port: number;
  workspace: { slug: string; workspaceId: string; created: boolean };
  /** Stops accepting, lets in-flight requests finish, stops timers, releases the data dir. */
  close(): Promise<void>;
};

/** The port is taken or not ours to use; worded for the person running `npm start`. */
export class ListenError extends Error {
  override name = "ListenError";
}

export async function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const log = options.log ?? ((message: string) => console.log(message));
  prepareDataDir(options.dataDir);
  const releaseLock = lockDataDir(options.dataDir);
  const cleanups: Array<() => void> = [releaseLock];
  let server: Server | undefined;
  try {
    const store = openJournalStore(options.dataDir, {
      compactAboveBytes: options.compactAboveBytes,
      openJournalFile: options.openJournalFile,
      log,
    });
    cleanups.unshift(() => void store.close());
    const modules = options.modules ?? convexModuleMap();
    const engine = await createEngine({ modules, store });
    const convexApi = createConvexApi(engine, modules, log);

    const inFlight = new Set<Promise<void>>();
    const httpServer = createServer((request, response) => {
      if (options.requestLog !== false) logRequest(request, response, log);
      const handled = answer(engine, convexApi, request, response, log).finally(() => inFlight.delete(handled));
      inFlight.add(handled);
    });
    server = httpServer;
    // The Convex sync protocol (ConvexClient / ConvexReactClient). Host checks apply here too.
    httpServer.on("upgrade", (request, socket, head) => {
      if (!refusedForeignHostUpgrade(request, socket)) convexApi.handleUpgrade(request, socket, head);
    });
    const port = await listen(httpServer, options.port);
    const url = `http://${HOST}:${port}`;
    // Read by later features (device approval page) and by @convex-dev/auth's config.
    process.env.IAS_LOCAL_MODE = "true";
    process.env.IAS_LOCAL_BASE_URL = url;
    process.env.CONVEX_SITE_URL ||= url;

    const scheduled = rearmScheduledFunctions(engine, log);
    await scheduled.markInterrupted();
    const workspace = await engine.t.mutation(internal.workspaces.ensureLocalWorkspace, { slug: LOCAL_WORKSPACE_SLUG });
    // Jobs stored before the metrics counters existed are counted once, in scheduled pages (docs/deploying.md).
    const backfill = await engine.t.mutation(internal.metricsBackfill.resume, {});
    if (backfill !== "not_needed") log(`Counting the stored jobs for the metrics (backfill ${backfill}).`);
    const crons = await loadCrons(modules);
    const cronRunner = crons === null ? null : startCronRunner(crons, engine.call, log);
    if (cronRunner) log(`Running ${cronRunner.identifiers.length} cron job(s): ${cronRunner.identifiers.join(", ")}.`);

    let closing: Promise<void> | undefined;
    return {
      url,
      port,
      workspace: { slug: LOCAL_WORKSPACE_SLUG, workspaceId: workspace.workspaceId, created: workspace.created },
      close: () =>
        (closing ??= (async () => {
          cronRunner?.stop();
          scheduled.stop();
          convexApi.close();
          await drain(httpServer, inFlight);
          // Scheduled functions already running may still commit; give them the same grace.
          await Promise.race([engine.t.finishInProgressScheduledFunctions(), delay(DRAIN_MS)]);
          await engine.filesFlushed();
          await store.close();
          for (const cleanup of cleanups) cleanup();
        })()),
    };
  } catch (error) {
    if (server?.listening) server.close();
    for (const cleanup of cleanups) cleanup();
    throw error;
  }
}

/** Stops accepting, lets in-flight requests finish (bounded), then drops every connection. */
async function drain(server: Server, inFlight: Set<Promise<void>>) {
  const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  await Promise.race([Promise.all(inFlight), delay(DRAIN_MS)]);
  server.closeAllConnections();
  await stopped;
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE") {
        reject(
          new ListenError(
            `Port ${port} on ${HOST} is already in use. Stop the other process or choose another port with --port N (or PORT=N).`,
          ),
        );
      } else {
        reject(new ListenError(`Cannot listen on ${HOST}:${port}: ${reason(error)}.`));
      }
    });
    server.listen(port, HOST, () => {
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : port);
    });
  });
}

/** `convex/crons.ts` is optional: without it there is nothing to run. */
async function loadCrons(modules: ModuleMap): Promise<{ crons: Record<string, CronSpec> } | null> {
  const key = Object.keys(modules).find((name) => /^(\.\.\/)+convex\/crons\.[jt]s$/.test(name));
  if (key === undefined) return null;
  const crons = (await modules[key]!()).default;
  return crons?.isCrons ? crons : null;
}

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

async function answer(
  engine: Engine,
  convexApi: ConvexApi,
  request: IncomingMessage,
  response: ServerResponse,
  log: (message: string) => void,
) {
  try {
    if (refusedForeignHost(request, response)) return;
    if (await answerLocalFiles(engine, request, response)) return;
    if (await answerDevicePage(engine, request, response)) return;
    if (await answerConsole(request, response)) return;
    if (await convexApi.answerHttp(request, response)) return;
    const method = request.method ?? "GET";
    const headers = new Headers();
    for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
      const name = request.rawHeaders[i]!;
      if (!HOP_BY_HOP.has(name.toLowerCase())) headers.append(name, request.rawHeaders[i + 1]!);
    }
    const hasBody = method !== "GET" && method !== "HEAD";
    const result = await engine.t.fetch(pathOf(request.url), {
      method,
      headers,
      body: hasBody ? await bodyOf(request) : undefined,
      duplex: "half",
    } as RequestInit);
    // Every commit so far (this request's and any it read) and every blob is on disk first.
    await engine.durable();
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
  } catch (error) {
    // The path only: query strings may carry signed file URLs.
    log(
      `Local server: ${request.method} ${pathOf(request.url).split("?")[0]} failed: ${error instanceof Error ? error.message : String(error)}`,
    );
    if (response.headersSent) {
      response.destroy();
      return;
    }
    await engine.durable().catch(() => undefined); // a failed disk has already stopped the process
    response.writeHead(500, { "content-type": "application/json; charset=utf-8" });
    response.end(JSON.stringify({ ok: false, error: "INTERNAL_ERROR", message: "The local server failed to answer." }));
  }
}

function pathOf(url: string | undefined): string {
  if (url === undefined || url === "") return "/";
  if (url.startsWith("/")) return url;
  const parsed = new URL(url, `http://${HOST}`); // absolute-form request target
  return parsed.pathname + parsed.search;
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

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
