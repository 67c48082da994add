/**
 * The messages between the local server's engine thread and its HTTP front thread
 * (httpFront.ts). Values cross by structured clone, which keeps every Convex value as it is
 * (bigint, ArrayBuffer, -0, NaN); convex-test encodes a call's arguments as a deployment would
 * (fields set to `undefined` dropped) on the engine thread.
 */
import { ConvexError, type Value } from "convex/values";

export type FrontConfig = {
  /** The public port to listen on (0 picks a free one). */
  port: number;
  /** The engine thread's own HTTP server, which answers everything the front does not. */
  internalPort: number;
  requestLog: boolean;
};

/** A function call an HTTP action makes (`ctx.runQuery`, `runMutation`, `runAction`). */
export type CallMessage = { type: "call"; id: number; udfPath: string; args: Record<string, Value> };

export type FrontMessage =
  | CallMessage
  | { type: "log"; line: string }
  | { type: "listening"; port: number }
  | { type: "listenError"; code: string | undefined; message: string }
  | { type: "drained" };

export type EngineMessage =
  | { type: "result"; id: number; ok: true; value: Value }
  | { type: "result"; id: number; ok: false; error: CallError }
  | { type: "drain"; withinMs: number };

/** A thrown error as it crosses: a ConvexError keeps its data, anything else its name and message. */
export type CallError = { convexData?: Value; name: string; message: string };

/** A function that returns nothing answers null, as on a deployment. */
export function resultOf(value: unknown): Value {
  return value === undefined ? null : (value as Value);
}

export function encodeError(error: unknown): CallError {
  if (error instanceof ConvexError)
    return { convexData: error.data as Value, name: error.name, message: error.message };
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: "Error", message: String(error) };
}

export function decodeError(error: CallError): Error {
  if (error.convexData !== undefined) return new ConvexError(error.convexData);
  const decoded = new Error(error.message);
  decoded.name = error.name;
  return decoded;
}
