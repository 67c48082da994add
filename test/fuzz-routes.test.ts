/**
 * "No input may produce a 500" (SPEC §2), checked for every route of the route table, so a new
 * route is covered without touching this file. Each route gets a body built from its request
 * schema (test/route-samples.ts, with real ids of a seeded workspace), then every top-level field is
 * replaced in turn by values of the wrong type, size or shape. Whatever the route answers, it
 * must be the envelope with a SPEC code, never a 500.
 */
import { afterEach, beforeAll, expect, test, vi } from "vitest";
import { z } from "zod";
import type { Route } from "../convex/api/route";
import { routes } from "../convex/api/routes";
import { SERVICE_TOKEN } from "./support/fixtures";
import { freshConvex, type Json, type TestConvex } from "./support/harness";
import { queueWorkspace } from "./support/queue-fixtures";
import { ok } from "./support/api";
import { sampleBody } from "./support/route-samples";

const HOSTILE_VALUES: unknown[] = [
  null,
  -1,
  1e308,
  true,
  "",
  "x".repeat(5_000),
  "\u0000\ud800 🙂",
  "jobs/",
  [],
  [{ $bad: 1 }],
  { $where: "1" },
  { naïve: 1 },
];

let t: TestConvex;
let knownIds: Record<string, string>;
beforeAll(async () => {
  t = freshConvex();
  const acme = await queueWorkspace(t, "acme");
  const workerId = await acme.worker("w1");
  const runId = (
    await ok(acme.call, "/v1/runs/upsert", {
      workspaceId: acme.workspaceId,
      repoId: acme.repoId,
      runRef: "r",
      status: "in_progress",
    })
  ).runId;
  const jobId = await acme.enqueue({ runId });
  await acme.claimJob(workerId);
  knownIds = { workspaces: acme.workspaceId, repos: acme.repoId, workers: workerId, jobs: jobId, runs: runId };
});
afterEach(() => vi.useRealTimers());

/** Every field a route's body may carry (the hostile values go into each in turn). */
function fieldsOf(route: Route): string[] {
  const schema = z.toJSONSchema(route.request!, { io: "input", unrepresentable: "any" }) as { properties?: object };
  return Object.keys(schema.properties ?? {});
}

const ERROR_STATUSES = new Set([400, 401, 403, 404, 405, 409, 413, 429, 503]);

test.each(
  routes.filter((route) => route.method === "POST" && route.request).map((route) => [route.path, route] as const),
)(
  "%s answers every hostile field with the envelope, never a 500",
  async (path, route) => {
    const valid = sampleBody(route, (table) => knownIds[table] ?? "sample");
    const fields = fieldsOf(route);
    // Hostile bodies first, while the seeded job is still claimed, so they reach the writes.
    const bodies: unknown[] = [];
    for (const field of fields) for (const value of HOSTILE_VALUES) bodies.push({ ...valid, [field]: value });
    bodies.push([], "text", 42, null, valid);
    for (const body of bodies) {
      const response = await t.fetch(path, {
        method: "POST",
        headers: { authorization: `Bearer ${SERVICE_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const answer = (await response.json()) as Json;
      const where = `${path} ${JSON.stringify(body).slice(0, 200)} -> ${response.status} ${JSON.stringify(answer).slice(0, 200)}`;
      if (response.status === 200) {
        expect(answer.ok, where).toBe(true);
      } else {
        expect(ERROR_STATUSES.has(response.status), where).toBe(true);
        expect(answer, where).toMatchObject({
          ok: false,
          error: expect.stringMatching(/^[A-Z_]+$/),
          message: expect.any(String),
        });
      }
    }
  },
  60_000,
);

const DEEP_BODY = `{"a":${"[".repeat(10_000)}${"]".repeat(10_000)}}`;

test.each(routes.filter((route) => route.method === "POST").map((route) => [route.path] as const))(
  "%s answers 10,000-deep JSON with 400 INVALID_JSON, with a token or without",
  async (path) => {
    for (const authorization of [`Bearer ${SERVICE_TOKEN}`, undefined]) {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (authorization !== undefined) headers.authorization = authorization;
      const response = await t.fetch(path, { method: "POST", headers, body: DEEP_BODY });
      const answer = (await response.json()) as Json;
      expect(answer, `${path} ${authorization ?? "no token"}`).toMatchObject({
        ok: false,
        error: "INVALID_JSON",
        message: "The request body is nested deeper than 64 levels.",
      });
      expect(response.status).toBe(400);
    }
  },
);
