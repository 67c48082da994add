/** Zod building blocks shared by request and response schemas of the route table. */
import { z } from "zod";
import type { TableNames } from "../_generated/dataModel";

/** Prefix of every worker-facing route. */
export const CP = "/control-plane";

/**
 * A document id of `table`. Workers may send `table/<id>`; the prefix is stripped here and the
 * id itself is checked against the table inside the domain function (`requireId`), which
 * answers 400 when it is not an id of that table.
 */
export function idOf(table: TableNames) {
  return z
    .string()
    .min(1)
    .max(128)
    .transform((raw) => (raw.startsWith(`${table}/`) ? raw.slice(table.length + 1) : raw))
    .meta({ description: `A ${table} id (a \`${table}/\` prefix is accepted).` });
}

/** A response field holding an id (plain string on the wire). */
export function idField(table: TableNames) {
  return z.string().meta({ description: `A ${table} id.` });
}

export const workspaceSummarySchema = z
  .object({ _id: idField("workspaces"), slug: z.string(), name: z.string() })
  .meta({ description: "A workspace as workers see it." });

/** Success envelope fields with nothing to report. */
export const emptyResponse = z.object({});

/**
 * Convex's limits on stored values (docs: data types), minus room for the document around a
 * client's free-form JSON: nesting, array length, keys per object, key shape.
 */
const MAX_JSON_DEPTH = 12;
const MAX_ARRAY_LENGTH = 8_192;
const MAX_OBJECT_KEYS = 1_024;

/** Why Convex could not store `value` (first problem found), or null. */
function unstorable(value: unknown, depth = 0): string | null {
  if (depth > MAX_JSON_DEPTH) return `nesting deeper than ${MAX_JSON_DEPTH}`;
  if (Array.isArray(value)) {
    if (value.length > MAX_ARRAY_LENGTH) return `an array longer than ${MAX_ARRAY_LENGTH}`;
    for (const item of value) {
      const problem = unstorable(item, depth + 1);
      if (problem !== null) return problem;
    }
    return null;
  }
  if (value === null || typeof value !== "object") return null;
  const entries = Object.entries(value);
  if (entries.length > MAX_OBJECT_KEYS) return `an object with more than ${MAX_OBJECT_KEYS} keys`;
  for (const [key, item] of entries) {
    if (key.length === 0 || key.length > 1024 || /^[$_]/.test(key) || !/^[\x20-\x7e]*$/.test(key)) {
      return `key ${JSON.stringify(key)} (keys must be 1–1024 printable ASCII characters, not starting with "$" or "_")`;
    }
    const problem = unstorable(item, depth + 1);
    if (problem !== null) return problem;
  }
  return null;
}

/**
 * A free-form JSON object from a client (job evidence), refused with a 400 when Convex could not
 * store it, instead of failing later with a 500.
 */
export const storableJsonObject = z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
  const problem = unstorable(value);
  if (problem !== null) ctx.addIssue({ code: "custom", message: `cannot store ${problem}` });
});
