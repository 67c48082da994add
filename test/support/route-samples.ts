/**
 * A valid request body for any route of the route table, built from the route's own zod schema
 * (through its JSON Schema), so suites that sweep the table cover a new route without being
 * edited. Only required fields are filled: a field's first example when its schema gives one
 * (for rules JSON Schema cannot state, such as a refinement), ids from `ids` (by table, read from
 * the id field's description that `idOf` writes), the first enum value, the smallest allowed
 * number, strings and arrays of their minimum length.
 */
import { z } from "zod";
import type { Route } from "../../convex/api/route";

type JsonSchema = {
  type?: string;
  enum?: unknown[];
  const?: unknown;
  examples?: unknown[];
  anyOf?: JsonSchema[];
  description?: string;
  minLength?: number;
  minimum?: number;
  exclusiveMinimum?: number;
  minItems?: number;
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
};

/** "A jobs id (a `jobs/` prefix is accepted)." → "jobs" (see `idOf` in convex/api/schemas.ts). */
const ID_DESCRIPTION = /^A (\w+) id\b/;

export function sampleBody(route: Route, ids: (table: string) => string): Record<string, unknown> {
  if (route.request === undefined) return {};
  const schema = z.toJSONSchema(route.request, { io: "input", unrepresentable: "any" }) as JsonSchema;
  return sampleOf(schema, ids, "body") as Record<string, unknown>;
}

function sampleOf(schema: JsonSchema, ids: (table: string) => string, path: string): unknown {
  if (schema.const !== undefined) return schema.const;
  if (schema.examples !== undefined && schema.examples.length > 0) return schema.examples[0];
  if (schema.enum !== undefined) return schema.enum[0];
  if (schema.anyOf !== undefined) {
    const option = schema.anyOf.find((candidate) => candidate.type !== "null") ?? schema.anyOf[0]!;
    return sampleOf({ description: schema.description, ...option }, ids, path);
  }
  switch (schema.type) {
    case "string": {
      const table = ID_DESCRIPTION.exec(schema.description ?? "")?.[1];
      return table !== undefined ? ids(table) : "x".repeat(Math.max(1, schema.minLength ?? 0));
    }
    case "integer":
    case "number":
      return schema.minimum ?? (schema.exclusiveMinimum !== undefined ? schema.exclusiveMinimum + 1 : 0);
    case "boolean":
      return false;
    case "array":
      return Array.from({ length: schema.minItems ?? 0 }, (_, i) => sampleOf(schema.items ?? {}, ids, `${path}[${i}]`));
    case "object":
    case undefined: {
      const body: Record<string, unknown> = {};
      for (const name of schema.required ?? [])
        body[name] = sampleOf(schema.properties?.[name] ?? {}, ids, `${path}.${name}`);
      return body;
    }
    default:
      throw new Error(`${path}: no sample for JSON Schema type ${schema.type}; extend test/route-samples.ts`);
  }
}
