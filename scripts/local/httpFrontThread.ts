/**
 * Starts the HTTP front (httpFront.ts) in a worker thread and serves its function calls on this
 * thread, the engine's: each call runs as its own transaction, as from an HTTP action, and is
 * answered once every commit so far is on disk (the same rule as server.ts's own answers).
 */
import { SHARE_ENV, Worker } from "node:worker_threads";
import type { Engine } from "./engine";
import { frontEntry } from "./frontBundle";
import {
  encodeError,
  resultOf,
  type CallMessage,
  type EngineMessage,
  type FrontConfig,
  type FrontMessage,
} from "./httpFrontProtocol";

export type HttpFront = {
  port: number;
  /** Stops accepting, lets requests in flight finish (at most `withinMs`), stops the thread. */
  close(withinMs: number): Promise<void>;
};

export class FrontListenError extends Error {
  constructor(
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export function startHttpFront(
  engine: Engine,
  config: FrontConfig,
  log: (line: string) => void,
  onFatal: (error: unknown) => void,
): Promise<HttpFront> {
  const worker = new Worker(frontEntry(log).url, {
    workerData: config,
    env: SHARE_ENV,
    resourceLimits: { maxYoungGenerationSizeMb: 4 },
  });
  const send = (message: EngineMessage) => worker.postMessage(message);
  let drained: (() => void) | undefined;
  let started = false;
  return new Promise((resolve, reject) => {
    worker.on("message", (message: FrontMessage) => {
      switch (message.type) {
        case "call":
          void serveCall(engine, message).then(send);
          return;
        case "log":
          log(message.line);
          return;
        case "listening": {
          started = true;
          let closing: Promise<void> | undefined;
          resolve({
            port: message.port,
            close: (withinMs) =>
              (closing ??= (async () => {
                const done = new Promise<void>((resolve) => (drained = resolve));
                send({ type: "drain", withinMs });
                await done;
                await worker.terminate();
              })()),
          });
          return;
        }
        case "listenError":
          void worker.terminate();
          reject(new FrontListenError(message.code, message.message));
          return;
        case "drained":
          drained?.();
      }
    });
    worker.once("error", (error) => {
      if (started) onFatal(error);
      else reject(error);
    });
  });
}

async function serveCall(engine: Engine, { id, udfPath, args }: CallMessage): Promise<EngineMessage> {
  try {
    const value = await engine.call(udfPath, args);
    await engine.durable();
    return { type: "result", id, ok: true, value: resultOf(value) };
  } catch (error) {
    await engine.durable().catch(() => undefined); // a failed disk has already stopped the process
    return { type: "result", id, ok: false, error: encodeError(error) };
  }
}
