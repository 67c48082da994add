// @vitest-environment node
/** The request log's line format (scripts/local/requestLog.ts); test/e2e/local-request-log.test.ts runs it for real. */
import { expect, test } from "vitest";
import { formatRequestLine } from "../scripts/local/requestLog";

const at = new Date(Date.UTC(2031, 0, 15, 12, 0, 0, 123));

test("ISO time, method, path, status, whole milliseconds, request id", () => {
  expect(
    formatRequestLine({
      at,
      method: "POST",
      path: "/control-plane/v1/jobs/claim-next",
      status: 200,
      ms: 3.6,
      requestId: "abc-1",
    }),
  ).toBe("2031-01-15T12:00:00.123Z POST /control-plane/v1/jobs/claim-next 200 4ms abc-1");
});

test("never the query string; odd characters and missing ids are shown harmlessly", () => {
  expect(
    formatRequestLine({
      at,
      method: "GET",
      path: "/local/files/kg2?sig=secret&exp=1",
      status: 200,
      ms: 0,
      requestId: null,
    }),
  ).toBe("2031-01-15T12:00:00.123Z GET /local/files/kg2 200 0ms -");
  expect(formatRequestLine({ at, method: "GET", path: "/a b\u00e9", status: 404, ms: 1, requestId: "has space" })).toBe(
    "2031-01-15T12:00:00.123Z GET /a?b? 404 1ms -",
  );
  expect(formatRequestLine({ at, method: "POST", path: "", status: null, ms: 12, requestId: "x" })).toBe(
    "2031-01-15T12:00:00.123Z POST / aborted 12ms x",
  );
});
