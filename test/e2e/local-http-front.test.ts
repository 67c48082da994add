// @vitest-environment node
/**
 * The HTTP front thread (scripts/local/httpFront.ts): the control-plane routes run there and call
 * the engine thread once per function, everything else passes through to the engine thread's
 * own server. Both ways must answer exactly as the single-threaded server does.
 */
import { readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ConvexError } from "convex/values";
import { startLocalServer, type LocalServer } from "../../scripts/local/server";
import { decodeError, encodeError, resultOf } from "../../scripts/local/httpFrontProtocol";
import { openJournalFile, type JournalFile, type OpenJournalFile } from "../../scripts/local/journalWriter";
import { frontEntry } from "../../scripts/local/frontBundle";
import { makeTempDir, removeTempDirs } from "../support/local-process";

const TOKEN = "ias_front_test_token_0123456789abcdef";

let front: LocalServer;
let single: LocalServer;
const frontLog: string[] = [];
let previousToken: string | undefined;
beforeAll(async () => {
  previousToken = process.env.IAS_CONTROL_PLANE_SERVICE_TOKEN;
  process.env.IAS_CONTROL_PLANE_SERVICE_TOKEN = TOKEN;
  front = await startLocalServer({
    port: 0,
    dataDir: makeTempDir(),
    log: (line) => frontLog.push(line),
    httpFront: true,
  });
  single = await startLocalServer({ port: 0, dataDir: makeTempDir(), log: () => {}, httpFront: false });
});
afterAll(async () => {
  await front?.close();
  await single?.close();
  if (previousToken === undefined) delete process.env.IAS_CONTROL_PLANE_SERVICE_TOKEN;
  else process.env.IAS_CONTROL_PLANE_SERVICE_TOKEN = previousToken;
  removeTempDirs();
});

type Answer = { status: number; contentType: string | null; body: unknown };

async function send(server: LocalServer, method: string, path: string, body?: string): Promise<Answer> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body,
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: compared as text
  }
  return { status: response.status, contentType: response.headers.get("content-type"), body: normalized(parsed) };
}

/** Times, request ids and job tokens differ between two servers; everything else must not. */
function normalized(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalized);
  if (value === null || typeof value !== "object") {
    return typeof value === "number" && value > 1e12 ? "<time>" : value;
  }
  return Object.fromEntries(
    Object.entries(value).map(([key, field]) => [
      key,
      key === "jobToken" || key === "requestId" ? "<secret or id>" : normalized(field),
    ]),
  );
}

describe("the front answers the control plane as the single-threaded server does", () => {
  test("a whole job's life, refusals and malformed bodies included", async () => {
    const script = async (server: LocalServer) => {
      const answers: Answer[] = [];
      const post = async (route: string, body: unknown) => {
        const answer = await send(server, "POST", `/control-plane${route}`, JSON.stringify(body));
        answers.push(answer);
        return answer.body as Record<string, any>;
      };
      const { workspaceId } = await post("/v1/workspaces/resolve", { slug: "local" });
      const { repoId } = await post("/v1/repos/upsert", { workspaceId, remoteUrlHash: "front", status: "active" });
      const { workerId } = await post("/v1/workers/heartbeat", {
        workspaceId,
        displayName: "w",
        machineFingerprint: "w",
        status: "online",
        capabilities: { reposAllowed: [repoId] },
      });
      await post("/v1/jobs/enqueue", { workspaceId, repoId, kind: "work", prompt: "p", priority: 3 });
      const claim = await post("/v1/jobs/claim-next", { workspaceId, workerId });
      const lease = { workspaceId, workerId, jobId: claim.jobId, claimGeneration: claim.claimGeneration };
      await post("/v1/jobs/heartbeat", { ...lease, message: "working" });
      await post("/v1/jobs/complete", { ...lease, outcome: "done" });
      await post("/v1/jobs/complete", { ...lease, outcome: "done" }); // idempotent repeat
      await post("/v1/jobs/heartbeat", { ...lease, message: "late" }); // a refusal (ConvexError data)
      await post("/v1/jobs/claim-next", { workspaceId, workerId: "1234workers" }); // a bad id
      await post("/v1/jobs/get", { workspaceId, jobId: claim.jobId });
      answers.push(await send(server, "POST", "/control-plane/v1/jobs/enqueue", "{not json"));
      answers.push(await send(server, "POST", "/control-plane/v1/jobs/enqueue", `{"a":${"[".repeat(100)}`));
      answers.push(await send(server, "POST", "/control-plane/v1/nothing-here", "{}"));
      answers.push(await send(server, "GET", "/control-plane/v1/jobs/enqueue"));
      answers.push(await send(server, "GET", "/control-plane/health"));
      return answers;
    };
    const fromFront = await script(front);
    const fromSingle = await script(single);
    expect(fromFront).toEqual(fromSingle);
    // The script did reach every outcome it is meant to compare.
    expect(fromFront.map((answer) => answer.status)).toEqual([
      200, 200, 200, 200, 200, 200, 200, 200, 409, 404, 200, 400, 400, 404, 405, 200,
    ]);
  });

  test("a body over the limit is refused while it streams, and the connection stays usable", async () => {
    const big = JSON.stringify({ prompt: "x".repeat(2 * 1024 * 1024) });
    const answers = await Promise.all(
      [front, single].map((server) => send(server, "POST", "/control-plane/v1/jobs/enqueue", big)),
    );
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[0]).toMatchObject({ status: 413, body: { error: "REQUEST_TOO_LARGE" } });
    expect((await send(front, "GET", "/control-plane/health")).status).toBe(200);
  });
});

describe("everything else passes through to the engine thread unchanged", () => {
  test("the Console page, its headers and a Convex HTTP API call", async () => {
    for (const path of ["/", "/console/does-not-exist.js"]) {
      const [a, b] = await Promise.all([front, single].map((server) => fetch(`${server.url}${path}`)));
      expect(a!.status, path).toBe(b!.status);
      expect(await a!.text(), path).toBe(await b!.text());
      // Each names the port its client used: the Host header passed through unchanged.
      const own = (response: Response, server: LocalServer) =>
        ["content-type", "content-security-policy", "cache-control"].map((header) =>
          response.headers.get(header)?.replaceAll(String(server.port), "<port>"),
        );
      expect(own(a!, front), path).toEqual(own(b!, single));
      if (a!.status === 200)
        expect(a!.headers.get("content-security-policy")).toContain(`ws://127.0.0.1:${front.port}`);
    }
    const query = JSON.stringify({ path: "nothing:here", args: {}, format: "json" });
    const answers = await Promise.all([front, single].map((server) => send(server, "POST", "/api/query", query)));
    expect(answers[0]).toEqual(answers[1]);
  });

  test("a foreign Host is refused on both paths, the WebSocket upgrade included", async () => {
    const port = front.port;
    const status = (path: string, headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const outgoing = httpRequest({ host: "127.0.0.1", port, path, headers }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        outgoing.on("upgrade", (response, socket) => {
          socket.destroy();
          resolve(response.statusCode ?? 0);
        });
        outgoing.on("error", reject);
        outgoing.end();
      });
    expect(await status("/control-plane/health", { host: `evil.example:${port}` })).toBe(421);
    expect(await status("/", { host: `evil.example:${port}` })).toBe(421);
    expect(await status("/control-plane/health", { host: `localhost:${port}` })).toBe(200);
    expect(await status("/", { host: `localhost:${port}` })).toBe(200);
    const upgrade = {
      connection: "Upgrade",
      upgrade: "websocket",
      "sec-websocket-version": "13",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
    };
    const refused = new Promise<number>((resolve, reject) => {
      const outgoing = httpRequest({
        host: "127.0.0.1",
        port,
        path: "/api/1.48.0/sync",
        headers: { ...upgrade, host: `evil.example:${port}` },
      });
      outgoing.on("response", (response) => resolve(response.statusCode ?? 0));
      outgoing.on("upgrade", () => reject(new Error("upgraded for a foreign host")));
      outgoing.on("error", reject);
      outgoing.end();
    });
    expect(await refused).toBe(421);
    expect(await status("/api/1.48.0/sync", { ...upgrade, host: `127.0.0.1:${port}` })).toBe(101);
  });
});

describe("the front's code is one bundled JavaScript module, not TypeScript through tsx", () => {
  test("the server's front was started from its bundle", () => {
    expect(frontLog.filter((line) => line.includes("through tsx"))).toEqual([]);
  });

  test("the same sources give the same file; only plain imports remain; old files are removed", () => {
    const cacheDir = join(makeTempDir(), "cache");
    const logged: string[] = [];
    const first = frontEntry((line) => logged.push(line), cacheDir);
    expect(first.bundled).toBe(true);
    const file = fileURLToPath(first.url);
    expect(dirname(file)).toBe(cacheDir);
    const code = readFileSync(file, "utf8");
    // Every import left is a package or a Node module; nothing of the repo's own sources.
    const specifiers = [...code.matchAll(/^import .* from "([^"]+)";$/gm)].map((match) => match[1]!);
    expect(specifiers.length).toBeGreaterThan(3);
    expect(specifiers.filter((specifier) => specifier.startsWith(".") || specifier.endsWith(".ts"))).toEqual([]);
    expect(code).toContain("/control-plane/"); // httpFront.ts itself is in it

    const old = join(cacheDir, "httpFront-0000000000000000.mjs");
    const recent = join(cacheDir, "httpFront-1111111111111111.mjs");
    writeFileSync(old, "");
    writeFileSync(recent, "");
    const dayAndMinuteAgo = (Date.now() - 24 * 60 * 60 * 1000 - 60_000) / 1000;
    utimesSync(old, dayAndMinuteAgo, dayAndMinuteAgo);
    const second = frontEntry((line) => logged.push(line), cacheDir);
    expect(second.url.href).toBe(first.url.href);
    expect(readdirSync(cacheDir).sort()).toEqual([basename(file), basename(recent)].sort());
    expect(logged).toEqual([]);
  });

  test("where the bundle cannot be written, the front runs through tsx and says so", () => {
    const notADirectory = join(makeTempDir(), "file");
    writeFileSync(notADirectory, "");
    const logged: string[] = [];
    const entry = frontEntry((line) => logged.push(line), join(notADirectory, "cache"));
    expect(entry.bundled).toBe(false);
    expect(basename(fileURLToPath(entry.url))).toBe("httpFrontEntry.mjs");
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/^Local server: the HTTP front runs through tsx \(bundling it failed: .+\)\.$/);
  });
});

test("errors cross the threads with their ConvexError data, or their name and message", () => {
  // structured clone keeps the data as it is, bigints included
  const refused = decodeError(structuredClone(encodeError(new ConvexError({ code: "LEASE_LOST", count: 2n }))));
  expect(refused).toBeInstanceOf(ConvexError);
  expect((refused as ConvexError<any>).data).toEqual({ code: "LEASE_LOST", count: 2n });
  const failed = decodeError(structuredClone(encodeError(new TypeError("boom"))));
  expect(failed).not.toBeInstanceOf(ConvexError);
  expect([failed.name, failed.message]).toEqual(["TypeError", "boom"]);
  // A function that returns nothing answers null, as on a deployment.
  expect(resultOf(undefined)).toBeNull();
  expect(resultOf(0)).toBe(0);
});

test("closing lets a request in flight through the front finish, then stops listening", async () => {
  let release: () => void = () => {};
  let holding = false;
  let openedWith: OpenJournalFile = openJournalFile;
  const syncRequested = new Promise<void>((requested) => {
    const openHeld = (path: string): JournalFile => {
      const real = openJournalFile(path);
      return {
        write: (bytes) => real.write(bytes),
        async sync() {
          if (holding) {
            requested();
            await new Promise<void>((resolve) => (release = resolve));
          }
          await real.sync();
        },
        close: () => real.close(),
      };
    };
    openedWith = openHeld;
  });
  const server = await startLocalServer({
    port: 0,
    dataDir: makeTempDir(),
    log: () => {},
    openJournalFile: openedWith,
  });
  const { workspaceId } = (await send(server, "POST", "/control-plane/v1/workspaces/resolve", '{"slug":"local"}'))
    .body as Record<string, string>;
  holding = true;
  const body = JSON.stringify({ workspaceId, remoteUrlHash: "closing", status: "active" });
  const answer = send(server, "POST", "/control-plane/v1/repos/upsert", body);
  await syncRequested; // the commit is made, its fsync held: nobody has been answered
  const closed = server.close();
  release();
  expect((await answer).status).toBe(200);
  await closed;
  await expect(fetch(`${server.url}/control-plane/health`)).rejects.toThrow();
});
