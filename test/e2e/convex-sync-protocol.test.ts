// @vitest-environment node
/**
 * The sync protocol on the wire (a raw `ws` socket speaking what convex 1.48's client sends):
 * versions and timestamps of Transitions, MutationResponse timestamps, AuthError on expired
 * tokens (at Authenticate and mid-session), and FatalError naming what the server cannot use.
 */
import { beforeAll, describe, expect, test } from "vitest";
import WebSocket from "ws";
import { api } from "../../convex/_generated/api";
import { httpClient, nowSeconds, signedToken, signUp, type Session } from "../support/convex-clients";
import type { LocalProcess } from "../support/local-process";
import { serverPerFile } from "../support/server-per-file";

const localServer = serverPerFile();
let server: LocalProcess;
let ada: Session;
beforeAll(async () => {
  server = localServer();
  // The first sign-up in local mode joins workspace local; Ada comes second, so her list starts empty.
  await signUp(server, "developer@example.com");
  ada = await signUp(server, "ada@example.com");
});

type Message = Record<string, any>;

/** A socket that queues what the server sends, so a test can take messages in order. */
async function rawSocket(path = "/api/1.48.0/sync") {
  const ws = new WebSocket(`${server.baseUrl.replace("http", "ws")}${path}`);
  const inbox: Message[] = [];
  let wake = () => {};
  ws.on("message", (data) => {
    inbox.push(JSON.parse(data.toString()));
    wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return {
    ws,
    closed,
    send: (message: unknown) => ws.send(typeof message === "string" ? message : JSON.stringify(message)),
    /** The next message that is not a Ping. */
    async next(timeoutMs = 15_000): Promise<Message> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const message = inbox.shift();
        if (message !== undefined && message.type !== "Ping") return message;
        if (message !== undefined) continue;
        if (Date.now() > deadline) throw new Error("no message from the server");
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
    },
  };
}

const connect = {
  type: "Connect",
  sessionId: "00000000-0000-4000-8000-000000000000",
  connectionCount: 0,
  lastCloseReason: null,
  clientTs: Date.now(),
};
const ts = (encoded: string) => Buffer.from(encoded, "base64").readBigUInt64LE();
const listMine = (queryId: number) => ({ type: "Add", queryId, udfPath: "workspaces:listMine", args: [{}] });

describe("Transitions", () => {
  test("versions chain, timestamps grow with each commit, and a mutation settles at its timestamp", async () => {
    const socket = await rawSocket();
    socket.send(connect);
    socket.send({ type: "Authenticate", tokenType: "User", value: ada.token, baseVersion: 0 });
    socket.send({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [listMine(7)] });
    let transition = await socket.next();
    // Authenticate and ModifyQuerySet may land in one Transition or two; the last holds both.
    while (transition.endVersion.querySet !== 1 || transition.endVersion.identity !== 1)
      transition = await socket.next();
    expect(transition.type).toBe("Transition");
    expect(transition.modifications).toEqual([
      { type: "QueryUpdated", queryId: 7, value: [], logLines: [], journal: null },
    ]);
    expect(transition.clientClockSkew).toEqual(expect.any(Number));

    // A commit by someone else (the HTTP API) moves the subscription forward.
    await httpClient(server, ada.token).mutation(api.workspaces.create, { slug: "one", name: "One" });
    const next = await socket.next();
    expect(next.startVersion).toEqual(transition.endVersion);
    expect(ts(next.endVersion.ts)).toBeGreaterThan(ts(transition.endVersion.ts));
    expect(next.modifications[0]).toMatchObject({ type: "QueryUpdated", queryId: 7, value: [{ slug: "one" }] });

    // A mutation over the socket: its response carries the timestamp, and a Transition reaches it.
    socket.send({ type: "Mutation", requestId: 0, udfPath: "workspaces:create", args: [{ slug: "two", name: "Two" }] });
    const response = await socket.next();
    expect(response).toMatchObject({ type: "MutationResponse", requestId: 0, success: true, logLines: [] });
    expect(typeof response.result).toBe("string");
    const settled = await socket.next();
    expect(settled.startVersion).toEqual(next.endVersion);
    expect(ts(settled.endVersion.ts)).toBeGreaterThanOrEqual(ts(response.ts));
    expect(settled.modifications[0].value.map((w: Message) => w.slug).sort()).toEqual(["one", "two"]);

    // A failing mutation answers with its ConvexError data and no timestamp.
    socket.send({
      type: "Mutation",
      requestId: 1,
      udfPath: "workspaces:create",
      args: [{ slug: "two", name: "Again" }],
    });
    let failed = await socket.next();
    // A Transition that only advances the timestamp may come first; it changes no query.
    while (failed.type === "Transition" && failed.modifications.length === 0) failed = await socket.next();
    expect(failed).toMatchObject({
      type: "MutationResponse",
      requestId: 1,
      success: false,
      errorData: { code: "CONFLICT" },
    });
    expect(failed.ts).toBeUndefined();

    socket.send({
      type: "ModifyQuerySet",
      baseVersion: 1,
      newVersion: 2,
      modifications: [{ type: "Remove", queryId: 7 }],
    });
    const removed = await socket.next();
    expect(removed.endVersion.querySet).toBe(2);
    expect(removed.modifications).toEqual([{ type: "QueryRemoved", queryId: 7 }]);
    socket.ws.close();
  });

  test("a query's failure arrives as QueryFailed with its ConvexError data", async () => {
    const socket = await rawSocket();
    socket.send(connect);
    socket.send({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [listMine(0)] });
    const transition = await socket.next();
    expect(transition.modifications).toEqual([
      {
        type: "QueryFailed",
        queryId: 0,
        errorMessage: expect.stringContaining("Sign in to use the Console."),
        errorData: { code: "UNAUTHENTICATED", message: "Sign in to use the Console." },
        logLines: [],
        journal: null,
      },
    ]);
    socket.ws.close();
  });
});

test("a quiet socket gets a sync Ping after 15 s of silence (the client reconnects after 60 s of silence)", async () => {
  const ws = new WebSocket(`${server.baseUrl.replace("http", "ws")}/api/1.48.0/sync`);
  const started = Date.now();
  const first = await new Promise<Message>((resolve) =>
    ws.once("message", (data) => resolve(JSON.parse(data.toString()))),
  );
  expect(first).toEqual({ type: "Ping" });
  expect(Date.now() - started).toBeGreaterThanOrEqual(14_000);
  expect(Date.now() - started).toBeLessThan(25_000);
  ws.close();
}, 40_000);

describe("auth errors", () => {
  test("an expired JWT at Authenticate: AuthError (update attempted), then the socket closes", async () => {
    const socket = await rawSocket();
    const expired = await signedToken(server, {
      sub: `${ada.userId}|s`,
      iat: nowSeconds() - 7200,
      exp: nowSeconds() - 3600,
    });
    socket.send(connect);
    socket.send({ type: "Authenticate", tokenType: "User", value: expired, baseVersion: 0 });
    expect(await socket.next()).toEqual({
      type: "AuthError",
      error: "Token expired.",
      baseVersion: 0,
      authUpdateAttempted: true,
    });
    expect((await socket.closed).code).toBe(1000);
  });

  test("a token that expires mid-session: AuthError (no update attempted) once it does", async () => {
    const socket = await rawSocket();
    const sub = `${ada.userId}|s`;
    const shortLived = await signedToken(server, { sub, iat: nowSeconds(), exp: nowSeconds() + 2 });
    socket.send(connect);
    socket.send({ type: "Authenticate", tokenType: "User", value: shortLived, baseVersion: 0 });
    socket.send({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [listMine(0)] });
    let message = await socket.next();
    while (message.type === "Transition") message = await socket.next(10_000);
    expect(message).toEqual({
      type: "AuthError",
      error: "Convex token identity expired.",
      baseVersion: 1,
      authUpdateAttempted: false,
    });
    await socket.closed;
  });
});

describe("FatalError", () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ["an unknown message type", { type: "Subscribe", queryId: 1 }, /Unknown client message type "Subscribe"/],
    ["invalid JSON", "{not json", /invalid JSON/],
    [
      "a known type with a bad field",
      { type: "Mutation", udfPath: "workspaces:create", args: [{}] },
      /Malformed Mutation message: requestId/,
    ],
    [
      "a query set version out of step",
      { type: "ModifyQuerySet", baseVersion: 3, newVersion: 4, modifications: [] },
      /base version 3/,
    ],
    [
      "a Remove of a query never added",
      { type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [{ type: "Remove", queryId: 9 }] },
      /query 9 is not subscribed/,
    ],
  ];
  test.each(cases)("%s gets a FatalError naming it, then the socket closes", async (_name, message, expected) => {
    const socket = await rawSocket();
    socket.send(connect);
    socket.send(message);
    const answer = await socket.next();
    expect(answer.type).toBe("FatalError");
    expect(answer.error).toMatch(expected);
    expect((await socket.closed).code).toBe(1008);
  });

  test("an upgrade on any other path is refused with 404", async () => {
    const error = await rawSocket("/api/sync-elsewhere").then(
      () => null,
      (failure: Error) => failure,
    );
    expect(error?.message).toMatch(/404/);
  });
});
