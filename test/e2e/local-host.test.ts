// @vitest-environment node
/**
 * DNS rebinding (SPEC §10): a page on evil.example whose name resolves to 127.0.0.1 reaches the
 * local server with `Host: evil.example:<port>`. Only the server's own loopback names are served;
 * every other Host gets 421 HOST_NOT_ALLOWED before any route, the approval page included.
 */
import { request } from "node:http";
import { afterAll, beforeAll, expect, test } from "vitest";
import { isLoopbackHost } from "../../scripts/local/hostCheck";
import { removeTempDirs, spawnLocalServer, type LocalProcess } from "../support/local-process";

let server: LocalProcess;
beforeAll(async () => {
  server = await spawnLocalServer();
});
afterAll(async () => {
  await server?.stop();
  removeTempDirs();
});

/** A GET with an explicit Host header (fetch does not let one set it). */
function getWithHost(path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: "127.0.0.1", port: server.port, path, headers: { host } }, (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    });
    outgoing.on("error", reject);
    outgoing.end();
  });
}

test("a foreign Host is refused with 421 and a message naming the addresses served", async () => {
  for (const path of ["/control-plane/health", "/local/device?id=x", "/control-plane/openapi.json"]) {
    const refused = await getWithHost(path, `evil.example:${server.port}`);
    expect(refused.status, path).toBe(421);
    expect(JSON.parse(refused.body)).toMatchObject({
      ok: false,
      error: "HOST_NOT_ALLOWED",
      message: expect.stringContaining(`127.0.0.1:${server.port}`),
    });
  }
  expect((await getWithHost("/control-plane/health", `127.0.0.1:${server.port + 1}`)).status).toBe(421);
});

test("the loopback names of the server's own port are served", async () => {
  for (const host of [`127.0.0.1:${server.port}`, `localhost:${server.port}`, `[::1]:${server.port}`]) {
    const served = await getWithHost("/control-plane/health", host);
    expect(served.status, host).toBe(200);
    expect(JSON.parse(served.body)).toEqual({ ok: true });
  }
});

test("isLoopbackHost: exact loopback name and port only", () => {
  expect(isLoopbackHost("127.0.0.1:3211", 3211)).toBe(true);
  expect(isLoopbackHost("LOCALHOST:3211", 3211)).toBe(true);
  expect(isLoopbackHost("[::1]:3211", 3211)).toBe(true);
  expect(isLoopbackHost("127.0.0.1", 3211)).toBe(false);
  expect(isLoopbackHost("127.0.0.1.evil.example:3211", 3211)).toBe(false);
  expect(isLoopbackHost("localhost:32110", 3211)).toBe(false);
  expect(isLoopbackHost(undefined, 3211)).toBe(false);
});

test("a WebSocket upgrade (the Convex sync protocol) with a foreign Host is refused with 421 too", async () => {
  const upgradeWithHost = (host: string) =>
    new Promise<number>((resolve, reject) => {
      const outgoing = request({
        host: "127.0.0.1",
        port: server.port,
        path: "/api/1.48.0/sync",
        headers: {
          host,
          connection: "Upgrade",
          upgrade: "websocket",
          "sec-websocket-version": "13",
          "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
      });
      outgoing.on("upgrade", (response, socket) => {
        socket.destroy();
        resolve(response.statusCode ?? 0);
      });
      outgoing.on("response", (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      outgoing.on("error", reject);
      outgoing.end();
    });
  expect(await upgradeWithHost(`evil.example:${server.port}`)).toBe(421);
  expect(await upgradeWithHost(`127.0.0.1:${server.port}`)).toBe(101);
});
