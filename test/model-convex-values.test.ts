/** Convex's value rules (convex/model/convexValues.ts): sizes, nesting, shapes, names, text. */
import { getConvexSize } from "convex/values";
import { describe, expect, test } from "vitest";
import {
  convexSize,
  oversizedDocumentProblem,
  requestJsonProblem,
  storedValueProblem,
  truncateText,
} from "../convex/model/convexValues";

/** `depth` arrays, each holding the next one. */
function nested(depth: number): unknown {
  let value: unknown = [];
  for (let i = 1; i < depth; i++) value = [value];
  return value;
}

describe("convexSize counts bytes as the Convex backend does", () => {
  test("numbers are 9 bytes, null and booleans 1, strings 2 + UTF-8, containers 2 + their parts", () => {
    expect(convexSize(null)).toBe(1);
    expect(convexSize(true)).toBe(1);
    expect(convexSize(0)).toBe(9);
    expect(convexSize(1e308)).toBe(9);
    expect(convexSize("")).toBe(2);
    expect(convexSize("abc")).toBe(5);
    expect(convexSize("é")).toBe(4);
    expect(convexSize("🙂")).toBe(6);
    expect(convexSize([])).toBe(2);
    expect(convexSize([1, 2])).toBe(20);
    expect(convexSize({})).toBe(2);
    expect(convexSize({ a: 1 })).toBe(13);
    expect(convexSize({ a: undefined, b: null })).toBe(5);
  });

  test("agrees with the convex package's own accounting on mixed values", () => {
    const values = [
      { commitSha: "abc123", prUrl: "https://example.com/pr/1", changedPaths: ["a.ts", "b/ü.ts"] },
      [[1, 2, [3, { deep: [true, false, null] }]], "text", 1.5],
      { "": 1, "key with spaces": { "$not-first": "x" }, _under: [] },
    ];
    for (const value of values) expect(convexSize(value)).toBe(getConvexSize(value as never));
  });

  test("246 KB of JSON numbers is over 1 MiB in Convex", () => {
    const evidence = { n: Array.from({ length: 15 }, () => Array.from({ length: 8_192 }, () => 1)) };
    expect(JSON.stringify(evidence).length).toBeLessThan(250_000);
    expect(convexSize(evidence)).toBeGreaterThan(1_048_576);
  });
});

describe("storedValueProblem", () => {
  test("accepts what a document field may hold", () => {
    expect(storedValueProblem({ commitSha: "abc", changedPaths: ["a", "b"], nested: nested(14) })).toBeNull();
    expect(storedValueProblem({ _allowed: 1, "spaces and-dashes": 2, "": 3 })).toBeNull();
  });

  test("a field may nest 15 levels: the document itself is the 16th", () => {
    expect(storedValueProblem(nested(15))).toBeNull();
    expect(storedValueProblem(nested(16))).toMatchObject({ rule: "nesting" });
    expect(storedValueProblem(nested(12), { levelsAbove: 5 })).toMatchObject({ rule: "nesting" });
  });

  test("arrays of at most 8,192 items, objects of at most 1,024 fields", () => {
    expect(storedValueProblem({ list: new Array(8_192).fill(0) })).toBeNull();
    expect(storedValueProblem({ list: new Array(8_193).fill(0) })).toMatchObject({ rule: "arrayItems", path: "list" });
    const fields = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, i]));
    expect(storedValueProblem(fields(1_024))).toBeNull();
    expect(storedValueProblem({ inner: fields(1_025) })).toMatchObject({ rule: "objectFields", path: "inner" });
  });

  test("field names: no leading $, printable ASCII only, at most 1,024 characters", () => {
    expect(storedValueProblem({ a: { $where: 1 } })).toMatchObject({ rule: "fieldName", path: "a.$where" });
    expect(storedValueProblem({ naïve: 1 })).toMatchObject({ rule: "fieldName", path: "naïve" });
    expect(storedValueProblem({ "tab\there": 1 })).toMatchObject({ rule: "fieldName" });
    expect(storedValueProblem({ ["k".repeat(1_024)]: 1 })).toBeNull();
    expect(storedValueProblem({ ["k".repeat(1_025)]: 1 })).toMatchObject({ rule: "fieldName" });
  });

  test("strings and keys must be valid UTF-16: no unpaired surrogate", () => {
    expect(storedValueProblem({ list: ["ok 🙂", "bad \ud800"] })).toMatchObject({ rule: "text", path: "list.1" });
    expect(storedValueProblem({ ["\udc00"]: 1 })).toMatchObject({ rule: "text" });
    expect(storedValueProblem({ text: "\ud83d" })).toMatchObject({ rule: "text", path: "text" });
  });

  test("the byte budget counts numbers at 9 bytes", () => {
    const numbers = new Array(8_000).fill(1); // 16 KB of JSON, 72,002 bytes in Convex
    expect(storedValueProblem(numbers, { maxBytes: 72_002 })).toBeNull();
    expect(storedValueProblem(numbers, { maxBytes: 72_001 })).toMatchObject({ rule: "size" });
  });

  test("values that are not Convex values are refused", () => {
    expect(storedValueProblem({ at: new Date(0) })).toMatchObject({ rule: "type", path: "at" });
  });
});

describe("requestJsonProblem", () => {
  test("walks 100,000 levels without recursion and reports the nesting", () => {
    expect(requestJsonProblem(nested(100_000), 64)).toMatchObject({ rule: "nesting", message: /deeper than 64/ });
    expect(requestJsonProblem(nested(64), 64)).toBeNull();
  });

  test("checks text everywhere but leaves key shapes and sizes to the schemas", () => {
    expect(requestJsonProblem({ naïve: new Array(9_000).fill(0) }, 64)).toBeNull();
    expect(requestJsonProblem({ a: [{ b: "\ud800" }] }, 64)).toMatchObject({ rule: "text", path: "a.0.b" });
  });
});

test("oversizedDocumentProblem names the largest field being written", () => {
  const big = "x".repeat(700_000);
  expect(oversizedDocumentProblem({ prompt: big, message: "m" }, ["message"])).toBeNull();
  expect(oversizedDocumentProblem({ prompt: big, evidence: big, message: "m" }, ["message", "evidence"])).toMatchObject(
    { rule: "size", path: "evidence" },
  );
});

test("truncateText never splits a surrogate pair", () => {
  expect(truncateText("ab🙂", 3)).toBe("ab");
  expect(truncateText("ab🙂", 4)).toBe("ab🙂");
  expect(truncateText("abc", 2)).toBe("ab");
  expect(truncateText("🙂", 1)).toBe("");
});
