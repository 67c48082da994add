/**
 * "No input may produce a 500" (SPEC §2), checked for every route of the route table, so a new
 * route is covered without touching this file. Each route gets a body built from its request
 * schema (real ids of a seeded workspace where a field names one), then every top-level field is
 * replaced in turn by values of the wrong type, size or shape. Whatever the route answers, it
 * must be the envelope with a SPEC code, never a 500.
 */
import { afterEach, beforeAll, expect, test, vi } from "vitest";
import { z } from "zod";
import { routes } from "../convex/api/routes";
import { SERVICE_TOKEN } from "./fixtures";
import { newConvex, type Json, type TestConvex } from "./harness";
import { queueWorkspace } from "./queue-fixtures";
import { ok } from "./api";

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
  { "naïve": 1 },
];

let t: TestConvex;
let knownIds: Record<string, string>;
beforeAll(async () => {
  vi.stubEnv("IAS_CONTROL_PLANE_SERVICE_TOKEN", SERVICE_TOKEN);
  t = newConvex();
  const acme = await queueWorkspace(t, "acme");
  const workerId = await acme.worker("w1");
  const runId = (await ok(acme.call, "/v1/runs/upsert", { workspaceId: acme.workspaceId, repoId: acme.repoId, runRef: "r", status: "in_progress" })).runId;
  const jobId = await acme.enqueue({ runId });
  await acme.claimJob(workerId);
  knownIds = { workspaceId: acme.workspaceId, repoId: acme.repoId, workerId, jobId, runId };
});
afterEach(() => vi.useRealTimers());

type JsonSchema = {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  minimum?: number;
  anyOf?: JsonSchema[];
};

/** A plausible value for a field: a real id when the name says so, else the simplest valid-looking value. */
function sampleValue(name: string, schema: JsonSchema): unknown {
  if (name in knownIds) return knownIds[name];
  if (schema.enum) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type[0] : (schema.type ?? schema.anyOf?.[0]?.type);
  switch (type) {
    case "string":
      return name === "slug" || name.endsWith("Slug") ? "acme" : "sample";
    case "number":
    case "integer":
      return schema.minimum ?? 1;
    case "boolean":
      return false;
    case "array":
      return schema.items ? [sampleValue("", schema.items)] : [];
    case "object":
      return {};
    default:
      return "sample";
  }
}

/** The request's required fields with sample values, and the names of all its fields. */
function sampleBody(request: z.ZodType): { body: Json; fields: string[] } {
  const schema = z.toJSONSchema(request, { io: "input", unrepresentable: "any" }) as JsonSchema;
  const properties = schema.properties ?? {};
  const body: Json = {};
  for (const name of schema.required ?? []) body[name] = sampleValue(name, properties[name] ?? {});
  return { body, fields: Object.keys(properties) };
}

const ERROR_STATUSES = new Set([400, 401, 403, 404, 405, 409, 413, 429, 503]);

test.each(routes.filter((route) => route.method === "POST" && route.request).map((route) => [route.path, route] as const))(
  "%s answers every hostile field with the envelope, never a 500",
  async (path, route) => {
    const { body: valid, fields } = sampleBody(route.request!);
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
        expect(answer, where).toMatchObject({ ok: false, error: expect.stringMatching(/^[A-Z_]+$/), message: expect.any(String) });
      }
    }
  },
  60_000,
);
