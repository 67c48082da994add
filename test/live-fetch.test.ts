// @vitest-environment node
/**
 * `fresh_v1` live fetch (SPEC §8) against a local HTTP server standing in for the source:
 * success, timeout, oversize, host (and port) not allowed, binary content, the per-call budget,
 * and failures that mark one item only. Plain http to 127.0.0.1 is allowed here through the
 * test-only IAS_LIVE_FETCH_ALLOW_INSECURE_LOCALHOST.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test, vi } from "vitest";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { LIVE_FETCH_MAX_BYTES, LIVE_FETCH_TOTAL_BYTES } from "../convex/model/liveFetch";
import { freshConvex, resetTestEnvironment, type Json, type TestConvex } from "./support/harness";
import { ok } from "./support/api";
import { workspaceWithRun } from "./support/runs-fixtures";

let source: Server;
let origin: string;
const requested: string[] = [];
let slowRequestArrived: () => void = () => undefined;
let docServed: () => void = () => undefined;

beforeAll(async () => {
  source = createServer((request, response) => {
    requested.push(request.url ?? "");
    switch (request.url) {
      case "/doc":
        response.writeHead(200, { "content-type": "text/markdown; charset=utf-8" });
        response.on("finish", () => docServed());
        return response.end("# Spec\nUsers can change their settings. ✓");
      case "/exactly-max":
        response.writeHead(200, { "content-type": "application/json" });
        return response.end("a".repeat(LIVE_FETCH_MAX_BYTES));
      case "/almost-max":
        response.writeHead(200, { "content-type": "text/plain" });
        return response.end("a".repeat(LIVE_FETCH_MAX_BYTES - 1));
      case "/latin1":
        response.writeHead(200, { "content-type": "text/plain; charset=iso-8859-1" });
        return response.end(Buffer.from([0x63, 0x61, 0x66, 0xe9]));
      case "/image":
        response.writeHead(200, { "content-type": "image/png" });
        return response.end(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff]));
      case "/untyped":
        return response.end(Buffer.from([0x00, 0x01, 0x02]));
      case "/huge-streamed": {
        // No content-length: the cap must be enforced while reading.
        response.writeHead(200, { "content-type": "text/plain" });
        const chunk = "b".repeat(64 * 1024);
        let sent = 0;
        const pump = () => {
          while (sent < 2 * LIVE_FETCH_MAX_BYTES) {
            sent += chunk.length;
            if (!response.write(chunk)) return void response.once("drain", pump);
          }
          response.end();
        };
        return pump();
      }
      case "/huge-declared":
        response.writeHead(200, { "content-type": "text/plain", "content-length": String(LIVE_FETCH_MAX_BYTES + 1) });
        return response.end("c".repeat(LIVE_FETCH_MAX_BYTES + 1));
      case "/slow":
        slowRequestArrived();
        return; // never answers
      case "/moved":
        response.writeHead(302, { location: "https://elsewhere.example/" });
        return response.end();
      default:
        response.writeHead(404);
        return response.end("nope");
    }
  });
  await new Promise<void>((resolve) => source.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(source.address() as AddressInfo).port}`;
});
afterAll(async () => {
  source.closeAllConnections();
  await new Promise((resolve) => source.close(resolve));
});

let t: TestConvex;
beforeEach(() => {
  requested.length = 0;
  t = freshConvex({
    IAS_LIVE_FETCH_ALLOWED_HOSTS: `docs.example.com,${new URL(origin).host}`,
    IAS_LIVE_FETCH_ALLOW_INSECURE_LOCALHOST: "true",
  });
});
afterEach(resetTestEnvironment);

/** A run whose pack selects one item per URL (no stored text), in this order. */
async function packOf(urls: string[], extra: { text?: string } = {}) {
  const acme = await workspaceWithRun(t);
  for (const [index, url] of urls.entries()) {
    await acme.console.mutation(api.contextLake.create, {
      workspaceId: acme.workspaceId,
      title: `item ${index}`,
      url,
      runId: acme.runId as Id<"runs">,
      ...extra,
    });
  }
  const resolve = (body: Json = {}) =>
    ok(acme.call, "/v1/context-packs/resolve-run-v1", { workspaceId: acme.workspaceId, runId: acme.runId, ...body });
  const build = (body: Json = {}) =>
    ok(acme.call, "/v1/context-packs/build-run-v1", { workspaceId: acme.workspaceId, runId: acme.runId, ...body });
  return { ...acme, resolve, build };
}

const outcome = (item: Json) => (item.fetchError ? item.fetchError.code : item.contentSource);

describe("fresh_v1", () => {
  test("fetches items without stored text; each failure marks only its item", async () => {
    const { build, resolve } = await packOf([
      `${origin}/doc`,
      `${origin}/exactly-max`,
      `${origin}/huge-streamed`,
      `${origin}/huge-declared`,
      `${origin}/missing`,
      `${origin}/moved`,
      `http://localhost:${new URL(origin).port}/doc`,
      "https://not-listed.example.com/doc",
    ]);
    await build();
    const plain = await resolve();
    expect(plain.items.map(outcome)).toEqual(Array(8).fill("none"));
    expect(requested).toEqual([]);

    const fresh = await resolve({ expansionHints: ["fresh_v1", "some_future_hint"] });
    expect(fresh.items.map(outcome)).toEqual([
      "live",
      "live",
      "TOO_LARGE",
      "TOO_LARGE",
      "HTTP_STATUS",
      "REDIRECT_NOT_FOLLOWED",
      "HOST_NOT_ALLOWED",
      "HOST_NOT_ALLOWED",
    ]);
    expect(fresh.items[0]).toMatchObject({
      content: "# Spec\nUsers can change their settings. ✓",
      contentSource: "live",
      fetchError: null,
    });
    expect(fresh.items[1].content).toHaveLength(LIVE_FETCH_MAX_BYTES);
    expect(fresh.items[2]).toMatchObject({ content: null, contentSource: "none" });
    // Refused hosts were never contacted; redirects were not followed.
    expect(requested.sort()).toEqual([
      "/doc",
      "/exactly-max",
      "/huge-declared",
      "/huge-streamed",
      "/missing",
      "/moved",
    ]);
  });

  test("only textual content types are decoded, in their charset; binary bodies fail that item", async () => {
    const { build, resolve } = await packOf([`${origin}/latin1`, `${origin}/image`, `${origin}/untyped`]);
    await build();
    const fresh = await resolve({ expansionHints: ["fresh_v1"] });
    expect(fresh.items.map(outcome)).toEqual(["live", "NOT_TEXT", "NOT_TEXT"]);
    expect(fresh.items[0].content).toBe("café");
    expect(fresh.items[1]).toMatchObject({
      content: null,
      contentSource: "none",
      fetchError: { message: expect.stringContaining("image/png") },
    });
  });

  test("a host listed without a port is only its default port", async () => {
    vi.stubEnv("IAS_LIVE_FETCH_ALLOWED_HOSTS", "docs.example.com,127.0.0.1");
    const { build, resolve } = await packOf([`${origin}/doc`, "https://docs.example.com:6379/"]);
    await build();
    expect((await resolve({ expansionHints: ["fresh_v1"] })).items.map(outcome)).toEqual([
      "HOST_NOT_ALLOWED",
      "HOST_NOT_ALLOWED",
    ]);
    expect(requested).toEqual([]);
  });

  test("one call never fetches more than its total live budget", async () => {
    const { build, resolve } = await packOf(Array.from({ length: 12 }, () => `${origin}/almost-max`));
    await build();
    const fresh = await resolve({ expansionHints: ["fresh_v1"] });
    const live = fresh.items.filter((item: Json) => item.contentSource === "live");
    const liveBytes = live.reduce((sum: number, item: Json) => sum + item.content.length, 0);
    expect(liveBytes).toBeLessThanOrEqual(LIVE_FETCH_TOTAL_BYTES);
    expect(live).toHaveLength(Math.floor(LIVE_FETCH_TOTAL_BYTES / LIVE_FETCH_MAX_BYTES));
    expect(fresh.items.map(outcome).filter((code: string) => code !== "live")).toEqual(
      Array(12 - live.length).fill("TOTAL_BUDGET_EXHAUSTED"),
    );
  });

  test("stored text wins; the hint given at build applies to every resolve", async () => {
    const { build, resolve } = await packOf([`${origin}/doc`], { text: "stored copy" });
    await build({ expansionHints: ["fresh_v1"] });
    expect((await resolve()).items[0]).toMatchObject({ content: "stored copy", contentSource: "stored" });
    expect(requested).toEqual([]);
  });

  test("https only: without the test-only switch plain http is refused", async () => {
    vi.stubEnv("IAS_LIVE_FETCH_ALLOW_INSECURE_LOCALHOST", "");
    const { build, resolve } = await packOf([`${origin}/doc`]);
    await build();
    expect((await resolve({ expansionHints: ["fresh_v1"] })).items[0].fetchError).toMatchObject({ code: "NOT_HTTPS" });
    expect(requested).toEqual([]);
  });

  test("a source that does not answer times out after 10 s, and only that item fails", async () => {
    const { build, resolve } = await packOf([`${origin}/slow`, `${origin}/doc`]);
    await build();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const arrived = new Promise<void>((resolve) => (slowRequestArrived = resolve));
    const served = new Promise<void>((resolve) => (docServed = resolve));
    let settled = false;
    const pending = resolve({ expansionHints: ["fresh_v1"] }).finally(() => (settled = true));
    // Both fetches started on the same fake clock: let /doc's answer be read before time moves,
    // or its own 10 s timer would fire too.
    await Promise.all([arrived, served]);
    for (let tick = 0; tick < 100; tick++) await new Promise((next) => setImmediate(next));
    await vi.advanceTimersByTimeAsync(9_999);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const answer = await pending;
    expect(answer.items.map(outcome)).toEqual(["TIMEOUT", "live"]);
    expect(answer.items[0].fetchError.message).toMatch(/10000 ms/);
  });
});
