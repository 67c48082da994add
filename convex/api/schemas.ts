/** Zod building blocks shared by request and response schemas of the route table. */
import { v } from "convex/values";
import { z } from "zod";
import type { TableNames } from "../_generated/dataModel";
import { convexOutput } from "./convexArgs";
import { CONVEX_LIMITS, storedValueProblem } from "../model/convexValues";

/** Prefix of every worker-facing route. */
export const CP = "/control-plane";

/**
 * A document id of `table`. Workers may send `table/<id>`; the prefix is stripped here and the
 * id itself is checked against the table inside the domain function (`requireId`), which
 * answers 400 when it is not an id of that table.
 */
export function idOf(table: TableNames) {
  const stripped = z
    .string()
    .min(1)
    .max(128)
    .transform((raw) => (raw.startsWith(`${table}/`) ? raw.slice(table.length + 1) : raw))
    .meta({ description: `A ${table} id (a \`${table}/\` prefix is accepted).` });
  return convexOutput(stripped, v.string());
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
 * `schema` refined by Convex's value rules (model/convexValues.ts): what a deployment could not
 * store is a 400 naming the field (and the path inside it), never a 500 from the write. A
 * top-level field may nest 15 deep (its document is the 16th level) and hold at most `maxBytes`
 * as Convex counts them (the whole document is measured again when it is written).
 */
export function storable<T extends z.ZodType>(schema: T, maxBytes: number = CONVEX_LIMITS.documentBytes) {
  return schema.superRefine((value, ctx) => {
    const problem = storedValueProblem(value, { maxBytes });
    if (problem === null) return;
    ctx.addIssue({
      code: "custom",
      message: `cannot be stored: it ${problem.message}`,
      path: problem.path === "" ? [] : problem.path.split("."),
    });
  });
}

/** A free-form JSON object from a client (job evidence), checked by Convex's value rules. */
export const storableJsonObject = storable(z.record(z.string(), z.unknown()));
