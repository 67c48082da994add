/**
 * The Convex client surface of the local server: the HTTP API (httpApi.ts) and WebSocket
 * upgrades to `/api/<client version>/sync`, one SyncSession each. After every commit, whoever
 * made it (a sync client, the worker HTTP API, a cron, a scheduled function), every session
 * re-runs its subscriptions; results shared across sessions are computed once per commit.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import type { Engine } from "../engine";
import type { ModuleMap } from "../modules";
import { answerConvexApi, MAX_ARGS_BYTES } from "./httpApi";
import { createConvexRuntime } from "./runtime";
import { SyncSession } from "./syncSession";

/** `ws://host/api/1.48.0/sync`: the client puts its own version in the path; any version is served. */
/** During a burst of commits, subscriptions are re-run at most this often (latency ≤ this). */
const FAN_OUT_INTERVAL_MS = 20;
const SYNC_PATH = /^\/api\/[0-9A-Za-z.+-]{1,64}\/sync$/;

export function createConvexApi(engine: Engine, modules: ModuleMap, log: (line: string) => void) {
  const runtime = createConvexRuntime(engine, modules, log);
  const sessions = new Set<SyncSession>();
  // A frame carries at most one function's arguments (16 MiB) plus the message around them.
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_ARGS_BYTES + 64 * 1024, perMessageDeflate: false });

  // Listeners run inside the commit, so the fan-out waits for a later turn: at once after a quiet
  // spell, at most every FAN_OUT_INTERVAL_MS during a burst of commits (one re-run for the burst).
  let fanOut: NodeJS.Timeout | undefined;
  let lastFanOut = 0;
  runtime.onCommit(() => {
    if (fanOut !== undefined) return;
    fanOut = setTimeout(
      () => {
        fanOut = undefined;
        lastFanOut = Date.now();
        for (const session of sessions) session.scheduleUpdate();
      },
      Math.max(0, lastFanOut + FAN_OUT_INTERVAL_MS - Date.now()),
    );
  });

  return {
    runtime,
    /** True when the request was a Convex API call (answered); false leaves it to the router. */
    answerHttp: (request: IncomingMessage, response: ServerResponse) => answerConvexApi(runtime, request, response),
    /** The server's `upgrade` event. Anything but the sync path is refused with 404. */
    handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer) {
      const path = new URL(request.url ?? "/", "http://127.0.0.1").pathname;
      if (!SYNC_PATH.test(path)) {
        socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => {
        const session = new SyncSession(ws, runtime, (closed) => sessions.delete(closed));
        sessions.add(session);
      });
    },
    /** Closes every sync socket (clients reconnect to the next server). */
    close() {
      clearTimeout(fanOut);
      for (const session of sessions) session.close();
      wss.close();
    },
    sessionCount: () => sessions.size,
  };
}
export type ConvexApi = ReturnType<typeof createConvexApi>;
