// @vitest-environment node
/**
 * The schema the backend evaluates on push must pass its table and index rules (a schema it
 * refuses refuses the whole push, as a second `jobs.by_parent_status` would have). Checked here
 * from convex/schema.ts; test/e2e/deploy-bundle.test.ts checks the schema.js the real CLI pushes.
 */
import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";
import { expect, test } from "vitest";
import schema from "../convex/schema";
import { schemaProblems, validatorProblems, type SchemaJson, type ValidatorJson } from "./support/schema-rules";

/** `export()` is what the backend calls on schema.js's default export (internal in convex's types). */
const exported = (definition: object) => JSON.parse((definition as { export(): string }).export()) as SchemaJson;

test("convex/schema.ts passes the backend's table and index rules", () => {
  const json = exported(schema);
  expect(json.tables.map((table) => table.tableName)).toEqual(expect.arrayContaining(["jobs", "workers", "runs"]));
  expect(schemaProblems(json)).toEqual([]);
});

test("the rules refuse what the backend refuses", () => {
  const problems = (table: ReturnType<typeof defineTable>) => schemaProblems(exported(defineSchema({ things: table })));
  const doc = { a: v.string(), b: v.string(), nested: v.object({ _x: v.string() }) };

  expect(problems(defineTable(doc).index("by_a", ["a"]).index("by_a", ["a"]))).toEqual([
    'Table "things" has two or more definitions of index "by_a".',
  ]);
  expect(problems(defineTable(doc).index("by_a", ["a"]).index("by_b", ["b"]).index("by_a", ["a", "b"]))).toEqual([
    'Table "things" has two or more definitions of index "by_a".',
  ]);
  expect(problems(defineTable(doc).index("by_a", ["a", "b"]).index("by_a_too", ["a", "b"]))).toEqual([
    'In table "things" index "by_a_too" and index "by_a" have the same fields.',
  ]);
  // A prefix is another index, not the same one.
  expect(problems(defineTable(doc).index("by_a", ["a"]).index("by_a_b", ["a", "b"]))).toEqual([]);

  expect(problems(defineTable(doc).index("by_creation_time", ["a"]))).toEqual([
    'In table "things" cannot name an index "by_creation_time": the name is reserved.',
  ]);
  expect(problems(defineTable(doc).index("_mine", ["a"]))).toHaveLength(1);
  expect(problems(defineTable(doc).index("by-a", ["a"]))).toEqual(['Invalid index name: "by-a".']);
  expect(problems(defineTable(doc).index(`b${"y".repeat(64)}`, ["a"]))).toHaveLength(1);

  expect(problems(defineTable(doc).index("by_a_time", ["a", "_creationTime"]))).toEqual([
    'In table "things" index "by_a_time": _creationTime is added to every index.',
  ]);
  expect(problems(defineTable(doc).index("by_id", ["_id" as "a"]))).toHaveLength(2);
  expect(problems(defineTable(doc).index("by_x", ["nested._x"]))).toEqual([
    'In table "things" index "by_x": reserved fields (starting with _) are not allowed.',
  ]);
  expect(problems(defineTable(doc).index("by_a_a", ["a", "a"]))).toEqual([
    'In table "things" index "by_a_a" holds a field twice.',
  ]);
  expect(problems(defineTable(doc).index("by_nothing", [] as unknown as ["a"]))).toEqual([
    'In table "things" index "by_nothing" must have at least one field.',
  ]);

  const many = (count: number) => Array.from({ length: count }, (_, i) => `f${i}`) as [string, ...string[]];
  // `.index` adds to the table it is called on: each case starts from a new one.
  const wide = () => defineTable(v.object(Object.fromEntries(many(40).map((field) => [field, v.string()]))));
  expect(problems(wide().index("by_15", many(15)))).toEqual([]);
  expect(problems(wide().index("by_16", many(16)))).toEqual([
    'In table "things" index "by_16" has 16 fields; indexes may have up to 16 with _creationTime.',
  ]);
  const indexed = (count: number) => many(count).reduce((table, field) => table.index(`by_${field}`, [field]), wide());
  expect(problems(indexed(32))).toEqual([]);
  expect(problems(indexed(33))).toEqual(['Table "things" cannot have more than 32 indexes (it has 33).']);

  expect(
    problems(
      defineTable(doc).searchIndex("search_a", { searchField: "a" }).searchIndex("search_a2", { searchField: "a" }),
    ),
  ).toEqual(['In table "things" search indexes "search_a2" and "search_a" have the same searchField.']);
  expect(problems(defineTable(doc).index("by_a", ["a"]).searchIndex("by_a", { searchField: "b" }))).toEqual([
    'Table "things" has two or more definitions of index "by_a".',
  ]);

  expect(schemaProblems(exported(defineSchema({ _things: defineTable(doc) })))).toEqual([
    "_things is a reserved table name.",
  ]);
});

test("validators: field names are identifiers without $, records have string keys, literal keys need optional values", () => {
  // `.json` is what exportArgs() writes for a validator (internal in convex's types).
  const problems = (validator: object) => validatorProblems((validator as { json: ValidatorJson }).json, "f args");
  expect(
    problems(
      v.object({ ok_1: v.string(), _internal: v.optional(v.number()), nested: v.array(v.object({ x: v.id("jobs") })) }),
    ),
  ).toEqual([]);
  expect(problems(v.object({ "x-request-id": v.string() }))).toEqual([
    'f args: field "x-request-id" is not an identifier.',
  ]);
  expect(problems(v.object({ outer: v.union(v.null(), v.object({ $ref: v.string() })) }))).toEqual([
    'f args.outer | 1: field "$ref" starts with "$".',
  ]);
  expect(problems(v.object({ __: v.string(), [`f${"x".repeat(64)}`]: v.string() }))).toHaveLength(2);
  expect(problems(v.record(v.string(), v.number()))).toEqual([]);
  expect(problems(v.record(v.id("jobs"), v.number()))).toEqual([]);
  expect(problems(v.record(v.number() as never, v.number()))).toEqual(["f args: records can only have string keys."]);
  expect(problems(v.record(v.union(v.literal("a"), v.literal("b")), v.number()))).toEqual([
    "f args: records with string literal keys must have an optional value.",
  ]);
  expect(problems(v.id("no-such table"))).toEqual(['f args: invalid table name "no-such table" in v.id.']);
  expect(problems(v.id("_storage"))).toEqual([]);
});

test("a table's document validator is checked with the schema", () => {
  const json = exported(defineSchema({ things: defineTable({ "bad-name": v.string() }) }));
  expect(schemaProblems(json)).toEqual(['table "things": field "bad-name" is not an identifier.']);
});
