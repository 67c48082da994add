// @vitest-environment node
/** openapi.json is generated from the route table, current, valid OpenAPI 3.1, and served as is. */
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, test } from "vitest";
import { routes } from "../convex/api/routes";
import { OPENAPI_PATH, renderOpenApi } from "../scripts/openapi";
import { newConvex } from "./support/harness";

describe("openapi.json", () => {
  test("is current: `npm run openapi` would not change it", () => {
    expect(readFileSync(OPENAPI_PATH, "utf8"), "openapi.json is stale: run `npm run openapi`").toBe(renderOpenApi());
  });

  test("is a valid OpenAPI 3.1 document", async () => {
    const validator = new Validator();
    const result = await validator.validate(JSON.parse(readFileSync(OPENAPI_PATH, "utf8")));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  test("documents every route of the table with its auth, body and error responses", () => {
    const document = JSON.parse(readFileSync(OPENAPI_PATH, "utf8"));
    for (const route of routes) {
      const operation = document.paths[route.path]?.[route.method.toLowerCase()];
      expect(operation, `${route.method} ${route.path}`).toBeDefined();
      const scheme = { bearer: [{ bearer: [] }], job: [{ jobToken: [] }], none: [] }[route.auth];
      expect(operation.security).toEqual(scheme);
      expect(operation.responses["200"]).toBeDefined();
      expect(operation.responses["500"]).toBeDefined();
      if (route.method === "POST") {
        expect(operation.requestBody.content["application/json"].schema).toBeDefined();
        expect(operation.responses["400"].description).toContain("INVALID_REQUEST");
        expect(operation.responses["413"].description).toContain("REQUEST_TOO_LARGE");
      }
      if (route.auth !== "none") {
        expect(operation.responses["401"].description).toContain("MISSING_TOKEN");
        expect(operation.responses["403"].description).toContain("TOKEN_SCOPE");
      }
    }
    expect(document.components.securitySchemes.bearer).toEqual(
      expect.objectContaining({ type: "http", scheme: "bearer" }),
    );
  });

  test("the server serves the same document", async () => {
    const response = await newConvex().fetch("/control-plane/openapi.json");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(JSON.parse(readFileSync(OPENAPI_PATH, "utf8")));
  });
});
