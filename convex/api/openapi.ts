/**
 * Builds the OpenAPI 3.1 document from the route table: zod's JSON Schema for bodies and
 * openapi3-ts for the document. `scripts/openapi.ts` writes it to openapi.json; the server
 * serves the same document at GET /control-plane/openapi.json.
 */
import { OpenApiBuilder, type OperationObject, type SchemaObject } from "openapi3-ts/oas31";
import { z } from "zod";
import { ERROR_STATUS, type ErrorCode } from "../model/errors";
import { MAX_BODY_BYTES } from "./httpUtil";
import type { Route } from "./route";

/** Errors any bearer route can answer, whatever it does. */
const BEARER_ERRORS: ErrorCode[] = ["MISSING_TOKEN", "INVALID_TOKEN", "EXPIRED_TOKEN", "FORBIDDEN"];
/** Errors any JSON POST route can answer. */
const POST_ERRORS: ErrorCode[] = ["INVALID_JSON", "INVALID_REQUEST", "REQUEST_TOO_LARGE"];

const errorSchema: SchemaObject = {
  type: "object",
  required: ["ok", "error", "message"],
  properties: {
    ok: { const: false },
    error: { type: "string", enum: Object.keys(ERROR_STATUS) },
    message: { type: "string" },
    issues: {
      type: "array",
      items: {
        type: "object",
        required: ["path", "message"],
        properties: { path: { type: "string" }, message: { type: "string" } },
      },
    },
    retryAfterMs: { type: "integer" },
  },
};

export function buildOpenApiDocument(routes: readonly Route[]) {
  const builder = OpenApiBuilder.create()
    .addOpenApiVersion("3.1.0")
    .addTitle("IAS control plane API")
    .addVersion("1.0.0")
    .addDescription(
      "HTTP API used by IAS workers, CLIs and integrations. Every success is `{ok: true, ...fields}`; " +
        `every failure is \`{ok: false, error, message}\`. Bodies are limited to ${MAX_BODY_BYTES} bytes.`,
    )
    .addServer({ url: "https://{deployment}.convex.site", variables: { deployment: { default: "your-deployment" } } })
    .addServer({ url: "http://127.0.0.1:3211", description: "Local mode (npm start)" })
    .addSecurityScheme("bearer", { type: "http", scheme: "bearer", description: "Device, service or minted token" })
    .addSecurityScheme("jobToken", {
      type: "http",
      scheme: "bearer",
      description: "A job token (claim-next's `jobToken`, IAS_JOB_TOKEN for the job's command): /v1/job/* only",
    })
    .addSchema("Error", errorSchema);

  for (const route of routes) {
    builder.addPath(route.path, { [route.method.toLowerCase()]: operation(route) });
  }
  return builder.getSpec();
}

function operation(route: Route): OperationObject {
  const errors = new Set<ErrorCode>([
    ...(route.method === "POST" ? POST_ERRORS : []),
    ...(route.auth === "none" ? [] : BEARER_ERRORS),
    ...(route.auth === "none" ? [] : (["TOKEN_SCOPE"] as const)),
    ...(route.errors ?? []),
    "INTERNAL_ERROR",
  ]);
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errors) byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);

  const responses: OperationObject["responses"] = {
    "200": {
      description: "Success",
      content:
        route.responseContentType === undefined
          ? { "application/json": { schema: successSchema(route) } }
          : { [route.responseContentType]: { schema: jsonSchema(route.response, "output") } },
    },
  };
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status)] = {
      description: codes.join(", "),
      content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
    };
  }
  return {
    operationId: operationId(route),
    tags: [route.tag],
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    security: route.auth === "none" ? [] : [{ [route.auth === "job" ? "jobToken" : "bearer"]: [] }],
    ...(route.request
      ? {
          requestBody: {
            required: true,
            content: { "application/json": { schema: jsonSchema(route.request, "input") } },
          },
        }
      : {}),
    responses,
  };
}

/** `ok: true` next to the route's own fields (no `data` wrapper: SPEC §2). */
function successSchema(route: Route): SchemaObject {
  const fields = jsonSchema(route.response, "output");
  if (fields.type !== "object") return fields;
  return {
    ...fields,
    properties: { ok: { const: true }, ...(fields.properties ?? {}) },
    required: ["ok", ...(fields.required ?? [])],
  };
}

function jsonSchema(schema: z.ZodType, io: "input" | "output"): SchemaObject {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, {
    io,
    target: "draft-2020-12",
    unrepresentable: "any",
  }) as SchemaObject & { $schema?: string };
  return rest;
}

function operationId(route: Route): string {
  const words = route.path
    .replace(/^\/(control-plane\/)?/, "")
    .split(/[/-]/)
    .filter(Boolean);
  return route.method.toLowerCase() + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
}
