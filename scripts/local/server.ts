/**
 * The local-mode server: a Node HTTP server on 127.0.0.1 that hands every request to the real
 * `convex/http.ts` router running in the durable engine, after restoring its state.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { internal } from "../../convex/_generated/api";
import { LOCAL_WORKSPACE_SLUG } from "../../convex/model/slug";
import { lockDataDir, prepareDataDir, reason } from "./data-dir";
import { createEngine, type Engine } from "./engine";
import { convexModuleMap, type ModuleMap } from "./modules";
import { startCronRunner, type CronSpec } from "./crons";
import { rearmScheduledFunctions } from "./scheduled";
import { openJournalStore } from "./store";
import type { FrontConfig } from "./httpFrontProtocol";
import type { OpenJournalFile } from "./journalWriter";
import { answerLocalFiles } from "./files";
import { answerDevicePage } from "./devicePage";
import { answerConsole } from "../console/serve";
import { createConvexApi, type ConvexApi } from "./convexApi/syncServer";
import { refusedForeignHost, refusedForeignHostUpgrade } from "./hostCheck";
import { logRequest } from "./requestLog";
import {
  drainServer,
  fetchInitOf,
  HOST,
  pathOf,
  pathOnlyOf,
  sendFetchResponse,
  sendInternalError,
} from "./fetchBridge";
import { FrontListenError, startHttpFront, type HttpFront } from "./httpFrontThread";
import { messageOf } from "./messageOf";

export { HOST };
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
  /**
   * Serve the public port from the HTTP front thread (httpFront.ts), which runs the control-plane
   * routes of the repo's `convex/http.ts` itself. Default: on unless `modules` is given.
   */
  httpFront?: boolean;
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
    // The port clients address: the front's when there is one (this server is then its upstream).
    let port = 0;
    const httpServer = createServer((request, response) => {
      if (options.requestLog !== false) logRequest(request, response, log);
      const handled = answer(engine, convexApi, port, request, response, log).finally(() => inFlight.delete(handled));
      inFlight.add(handled);
    });
    server = httpServer;
    // The Convex sync protocol (ConvexClient / ConvexReactClient). Host checks apply here too.
    httpServer.on("upgrade", (request, socket, head) => {
      if (!refusedForeignHostUpgrade(request, socket, port)) convexApi.handleUpgrade(request, socket, head);
    });
    const useFront = options.httpFront ?? options.modules === undefined;
    const ownPort = await listen(httpServer, useFront ? 0 : options.port);
    let front: HttpFront | undefined;
    if (useFront) {
      front = await startFront(
        engine,
        { port: options.port, internalPort: ownPort, requestLog: options.requestLog !== false },
        log,
      );
      cleanups.unshift(() => void front?.close(0));
    }
    port = front?.port ?? ownPort;
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
          await front?.close(DRAIN_MS);
          await drainServer(httpServer, inFlight, DRAIN_MS);
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

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => reject(listenError(port, error.code, reason(error))));
    server.listen(port, HOST, () => {
      const address = server.address();
      resolve(typeof address === "object" && address !== null ? address.port : port);
    });
  });
}

function listenError(port: number, code: string | undefined, why: string): ListenError {
  if (code === "EADDRINUSE") {
    return new ListenError(
      `Port ${port} on ${HOST} is already in use. Stop the other process or choose another port with --port N (or PORT=N).`,
    );
  }
  return new ListenError(`Cannot listen on ${HOST}:${port}: ${why}.`);
}

/** The HTTP front thread on the public port; a port it cannot take is a ListenError, as above. */
async function startFront(engine: Engine, config: FrontConfig, log: (message: string) => void): Promise<HttpFront> {
  try {
    return await startHttpFront(engine, config, log, (error) => {
      console.error(`FATAL: the local server's HTTP thread stopped (${reason(error)}).`);
      process.exit(70);
    });
  } catch (error) {
    if (error instanceof FrontListenError) throw listenError(config.port, error.code, error.message);
    throw error;
  }
}

/** `convex/crons.ts` is optional: without it there is nothing to run. */
async function loadCrons(modules: ModuleMap): Promise<{ crons: Record<string, CronSpec> } | null> {
  const key = Object.keys(modules).find((name) => /^(\.\.\/)+convex\/crons\.[jt]s$/.test(name));
  if (key === undefined) return null;
  const crons = (await modules[key]!()).default;
  return crons?.isCrons ? crons : null;
}

async function answer(
  engine: Engine,
  convexApi: ConvexApi,
  port: number,
  request: IncomingMessage,
  response: ServerResponse,
  log: (message: string) => void,
) {
  try {
    if (refusedForeignHost(request, response, port)) return;
    if (await answerLocalFiles(engine, request, response)) return;
    if (await answerDevicePage(engine, request, response)) return;
    if (await answerConsole(request, response)) return;
    if (await convexApi.answerHttp(request, response)) return;
    const result = await engine.t.fetch(pathOf(request.url), await fetchInitOf(request));
    // Every commit so far (this request's and any it read) and every blob is on disk first.
    await engine.durable();
    await sendFetchResponse(result, request.method ?? "GET", response);
  } catch (error) {
    // The path only: query strings may carry signed file URLs.
    log(`Local server: ${request.method} ${pathOnlyOf(request.url)} failed: ${messageOf(error)}`);
    if (!response.headersSent) await engine.durable().catch(() => undefined); // a failed disk has already stopped the process
    sendInternalError(response);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
