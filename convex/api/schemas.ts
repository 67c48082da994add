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

/** How deep client-sent free-form JSON may nest (Convex itself allows more; nobody needs it). */
const MAX_JSON_DEPTH = 16;

/** The first key, at any depth, that Convex cannot store (1–1024 printable ASCII, no leading `$`). */
function unstorableKey(value: unknown, depth = 0): string | null {
  if (depth > MAX_JSON_DEPTH) return `(nesting deeper than ${MAX_JSON_DEPTH})`;
  if (Array.isArray(value)) {
    for (const item of value) {
      const bad = unstorableKey(item, depth + 1);
      if (bad !== null) return bad;
    }
    return null;
  }
  if (value === null || typeof value !== "object") return null;
  for (const [key, item] of Object.entries(value)) {
    if (key.length === 0 || key.length > 1024 || key.startsWith("$") || !/^[\x20-\x7e]*$/.test(key)) return JSON.stringify(key);
    const bad = unstorableKey(item, depth + 1);
    if (bad !== null) return bad;
  }
  return null;
}

/**
 * A free-form JSON object from a client (job evidence, integration payloads), refused with a 400
 * when Convex could not store it, instead of failing later with a 500.
 */
export const storableJsonObject = z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
  const bad = unstorableKey(value);
  if (bad !== null) {
    ctx.addIssue({
      code: "custom",
      message: `cannot store key ${bad}: keys must be 1–1024 printable ASCII characters not starting with "$", nested at most ${MAX_JSON_DEPTH} deep`,
    });
  }
});
