/**
 * The wire format of Convex's WebSocket sync protocol as the official client (convex 1.48,
 * `convex/src/browser/sync/protocol.ts`) speaks it: schemas for what the client sends and
 * encoders for what the server answers. Timestamps travel as base64 of a little-endian u64.
 */
import { z } from "zod";

const nonNegativeInt = z.number().int().nonnegative();
/** Convex-encoded JSON values; decoded (and so validated) when a function runs. */
const jsonArgs = z.array(z.unknown());

const addQuery = z.object({
  type: z.literal("Add"),
  queryId: nonNegativeInt,
  udfPath: z.string(),
  args: jsonArgs,
  journal: z.string().nullish(),
  componentPath: z.string().optional(),
});
const removeQuery = z.object({ type: z.literal("Remove"), queryId: nonNegativeInt });

const request = {
  requestId: nonNegativeInt,
  udfPath: z.string(),
  args: jsonArgs,
  componentPath: z.string().optional(),
};

const clientMessages = {
  Connect: z.object({
    type: z.literal("Connect"),
    sessionId: z.string(),
    connectionCount: z.number(),
    lastCloseReason: z.string().nullable(),
    maxObservedTimestamp: z.string().optional(),
    clientTs: z.number().optional(),
  }),
  ModifyQuerySet: z.object({
    type: z.literal("ModifyQuerySet"),
    baseVersion: nonNegativeInt,
    newVersion: nonNegativeInt,
    modifications: z.array(z.discriminatedUnion("type", [addQuery, removeQuery])),
  }),
  Mutation: z.object({ type: z.literal("Mutation"), ...request }),
  Action: z.object({ type: z.literal("Action"), ...request }),
  Authenticate: z.discriminatedUnion("tokenType", [
    z.object({
      type: z.literal("Authenticate"),
      tokenType: z.literal("User"),
      value: z.string(),
      baseVersion: nonNegativeInt,
    }),
    z.object({
      type: z.literal("Authenticate"),
      tokenType: z.literal("Admin"),
      value: z.string(),
      baseVersion: nonNegativeInt,
      impersonating: z.unknown().optional(),
    }),
    z.object({ type: z.literal("Authenticate"), tokenType: z.literal("None"), baseVersion: nonNegativeInt }),
  ]),
  Event: z.object({ type: z.literal("Event"), eventType: z.string(), event: z.unknown() }),
};

export type ClientMessageType = keyof typeof clientMessages;
export type ClientMessage = { [K in ClientMessageType]: z.infer<(typeof clientMessages)[K]> }[ClientMessageType];
export type AddQuery = z.infer<typeof addQuery>;
export type QuerySetModification = AddQuery | z.infer<typeof removeQuery>;

/** A message the server cannot act on; the session answers it with a FatalError naming it. */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}

/** Parses one text frame. Unknown types, bad JSON and bad shapes throw a ProtocolError that says which. */
export function parseClientMessage(text: string): ClientMessage {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ProtocolError(`Received invalid JSON on the WebSocket: ${(error as Error).message}`);
  }
  const type =
    typeof raw === "object" && raw !== null && !Array.isArray(raw) ? (raw as { type?: unknown }).type : undefined;
  if (typeof type !== "string") throw new ProtocolError("Received a message without a string `type` on the WebSocket.");
  if (!Object.hasOwn(clientMessages, type)) {
    throw new ProtocolError(
      `Unknown client message type "${type.slice(0, 100)}" (local mode speaks: ${Object.keys(clientMessages).join(", ")}).`,
    );
  }
  const parsed = clientMessages[type as ClientMessageType].safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const at = issue.path.length > 0 ? issue.path.join(".") : "(message)";
    throw new ProtocolError(`Malformed ${type} message: ${at}: ${issue.message}`);
  }
  return parsed.data as ClientMessage;
}

/** `longToU64` of the client: 8 little-endian bytes, base64. */
export function encodeTs(ts: bigint): string {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(ts);
  return bytes.toString("base64");
}

export function decodeTs(encoded: string): bigint {
  const bytes = Buffer.from(encoded, "base64");
  if (bytes.length !== 8) throw new ProtocolError("A timestamp must be 8 bytes of base64.");
  return bytes.readBigUInt64LE();
}

export type StateVersion = { querySet: number; identity: number; ts: bigint };

function version({ querySet, identity, ts }: StateVersion): string {
  return `{"querySet":${querySet},"ts":${JSON.stringify(encodeTs(ts))},"identity":${identity}}`;
}

/**
 * One entry of a Transition. Values arrive already serialized (`valueJson`), so a result shared
 * by many subscribers is stringified once, not once per socket.
 */
export type TransitionEntry =
  | { type: "QueryUpdated"; queryId: number; valueJson: string; journal: string | null }
  | { type: "QueryFailed"; queryId: number; errorMessage: string; errorDataJson?: string; journal: string | null }
  | { type: "QueryRemoved"; queryId: number };

export function encodeTransition(
  start: StateVersion,
  end: StateVersion,
  entries: TransitionEntry[],
  clientClockSkew: number | undefined,
): string {
  const modifications = entries.map((entry) => {
    switch (entry.type) {
      case "QueryUpdated":
        return `{"type":"QueryUpdated","queryId":${entry.queryId},"value":${entry.valueJson},"logLines":[],"journal":${JSON.stringify(entry.journal)}}`;
      case "QueryFailed":
        return (
          `{"type":"QueryFailed","queryId":${entry.queryId},"errorMessage":${JSON.stringify(entry.errorMessage)},` +
          `"logLines":[],"errorData":${entry.errorDataJson ?? "null"},"journal":${JSON.stringify(entry.journal)}}`
        );
      case "QueryRemoved":
        return `{"type":"QueryRemoved","queryId":${entry.queryId}}`;
    }
  });
  const skew = clientClockSkew === undefined ? "" : `,"clientClockSkew":${clientClockSkew}`;
  return `{"type":"Transition","startVersion":${version(start)},"endVersion":${version(end)},"modifications":[${modifications.join(",")}]${skew}}`;
}

/** Answers for Mutation / Action: the outcome of `runFunction` in the shape the client expects. */
export type FunctionOutcome =
  { success: true; valueJson: string } | { success: false; errorMessage: string; errorDataJson?: string };

export function encodeMutationResponse(requestId: number, outcome: FunctionOutcome, ts: bigint): string {
  if (outcome.success) {
    return `{"type":"MutationResponse","requestId":${requestId},"success":true,"result":${outcome.valueJson},"ts":${JSON.stringify(encodeTs(ts))},"logLines":[]}`;
  }
  return failedResponse("MutationResponse", requestId, outcome);
}

export function encodeActionResponse(requestId: number, outcome: FunctionOutcome): string {
  if (outcome.success) {
    return `{"type":"ActionResponse","requestId":${requestId},"success":true,"result":${outcome.valueJson},"logLines":[]}`;
  }
  return failedResponse("ActionResponse", requestId, outcome);
}

function failedResponse(type: string, requestId: number, outcome: Extract<FunctionOutcome, { success: false }>) {
  const data = outcome.errorDataJson === undefined ? "" : `,"errorData":${outcome.errorDataJson}`;
  return `{"type":"${type}","requestId":${requestId},"success":false,"result":${JSON.stringify(outcome.errorMessage)},"logLines":[]${data}}`;
}

export function encodeAuthError(error: string, baseVersion: number, authUpdateAttempted: boolean): string {
  return JSON.stringify({ type: "AuthError", error, baseVersion, authUpdateAttempted });
}

export function encodeFatalError(error: string): string {
  return JSON.stringify({ type: "FatalError", error });
}

export const PING = '{"type":"Ping"}';
