// @vitest-environment node
/**
 * The local engine's hold on convex-test (scripts/local/convexTestInternals.ts): members that
 * moved stop it at start with the version it needs, queries that stop reaching the ordered walk
 * are caught by the start-up probe, modules are imported once, and Convex's transaction limits
 * apply, counting documents a `.filter()` skipped as Convex does.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { convexTest } from "convex-test";
import { afterAll, expect, test } from "vitest";
import schema from "../../convex/schema";
import {
  CONVEX_TEST_VERSION,
  checkInternals,
  openInternals,
  probeQueryExecution,
} from "../../scripts/local/convexTestInternals";
import type { Engine } from "../../scripts/local/engine";
import type { ModuleMap } from "../../scripts/local/modules";
import { localModules as modules, openEngine } from "../support/local-engine";
import { makeTempDir, removeTempDirs } from "../support/local-process";

afterAll(removeTempDirs);

async function engineWith(moduleMap?: ModuleMap): Promise<Engine> {
  return (await openEngine(makeTempDir(), moduleMap)).engine;
}

test("convex and convex-test are pinned exactly, to the versions installed and the adapter's", () => {
  const manifest = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
  expect(manifest.dependencies.convex).toBe("1.48.0");
  expect(manifest.dependencies["convex-test"]).toBe("0.0.60");
  expect(CONVEX_TEST_VERSION).toBe("0.0.60");
  const require = createRequire(import.meta.url);
  const installed = (name: string) =>
    JSON.parse(readFileSync(require.resolve(`${name}/package.json`), "utf8")).version as string;
  expect(installed("convex")).toBe("1.48.0");
  expect(installed("convex-test")).toBe("0.0.60");
});

test("a convex-test whose DatabaseFake lost `_schema` is refused, naming the member and the version", async () => {
  const { db, manager } = await openInternals(convexTest(schema, modules), { hasSchema: true });
  const global = { components: { "": { db } }, transactionManager: manager };
  expect(() => checkInternals(global, { hasSchema: true })).not.toThrow();

  const renamed = db as unknown as Record<string, unknown>;
  renamed._schemaDefinition = renamed._schema;
  delete renamed._schema;
  expect(() => checkInternals(global, { hasSchema: true })).toThrow(
    /convex-test 0\.0\.60 .*DatabaseFake\._schema\.tables/,
  );
  renamed._schema = renamed._schemaDefinition;

  const startQuery = renamed.startQuery;
  delete renamed.startQuery;
  Object.defineProperty(renamed, "startQuery", { value: undefined, configurable: true });
  expect(() => checkInternals(global, { hasSchema: true })).toThrow(/DatabaseFake\.startQuery is undefined/);
  Object.defineProperty(renamed, "startQuery", { value: startQuery, configurable: true, writable: true });
});

test("the start-up probe fails when index-range queries do not reach the ordered walk", async () => {
  // Plain convex-test: nothing installed, so the walk counter never moves.
  await expect(probeQueryExecution(convexTest(schema, modules), () => 0)).rejects.toThrow(
    /convex-test 0\.0\.60 .*no longer reach DatabaseFake\.startQuery/,
  );
  const engine = await engineWith();
  const before = engine.queryStats().walks;
  await engine.t.query(async (ctx: any) =>
    ctx.db
      .query("jobs")
      .withIndex("by_workspace", (q: any) => q.eq("workspaceId", "1workspaces"))
      .first(),
  );
  expect(engine.queryStats().walks).toBe(before + 1);
});

test("each module is imported once, however many calls run its functions", async () => {
  const loads = new Map<string, number>();
  const counting: ModuleMap = Object.fromEntries(
    Object.entries(modules).map(([key, load]) => [
      key,
      () => {
        loads.set(key, (loads.get(key) ?? 0) + 1);
        return load();
      },
    ]),
  );
  const engine = await engineWith(counting);
  for (let i = 0; i < 5; i++) await engine.call("workspaces:ensureLocalWorkspace", { slug: "local" });
  expect(loads.get("../convex/workspaces.ts")).toBe(1);
  expect(loads.get("../convex/schema.ts")).toBe(1);
});

test("engine.call runs a query, a mutation and an action by path (their kind read from the module)", async () => {
  const engine = await engineWith();
  const { workspaceId } = (await engine.call("workspaces:ensureLocalWorkspace", { slug: "local" })) as any;
  expect(await engine.call("readiness:probe", {})).toBeNull();
  // An action by path: delivering a webhook that does not exist does nothing.
  const deliver = engine.call("webhookDelivery:deliver", { deliveryId: "10000webhookDeliveries", attempt: 1 });
  await expect(deliver).resolves.toBeNull();
  expect(workspaceId).toMatch(/workspaces$/);
  // A path with no such module or export gets convex-test's own error.
  await expect(engine.call("nothing:here", {})).rejects.toThrow(/nothing/);
  await expect(engine.call("workspaces:nothingHere", {})).rejects.toThrow(/nothingHere/);
});

test("arguments are checked inside the handler, not by convex-test's per-call JSON walk, with its answers and messages", async () => {
  const engine = await engineWith();
  const { workspaceId } = (await engine.call("workspaces:ensureLocalWorkspace", { slug: "local" })) as any;
  // The engine's modules hand convex-test no validator to parse and walk on each call...
  const workspaces = await import("../../convex/workspaces");
  const registered = workspaces.ensureLocalWorkspace as unknown as { exportArgs(): string };
  expect(JSON.parse(registered.exportArgs())).toEqual({ type: "any" });
  // ...and still refuse what convex-test 0.0.60 refuses, with its words (pinned here, since the
  // modules are shared with any plain convexTest in this process).
  const service = { kind: "service" };
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ["workspaces:ensureLocalWorkspace", { slug: 5 }, "Validator error: Expected `string`, got `5`"],
    ["workspaces:ensureLocalWorkspace", {}, "Validator error: Missing required field `slug` in object"],
    ["workspaces:ensureLocalWorkspace", { slug: "x", extra: 1 }, "Validator error: Unexpected field `extra` in object"],
    // A union of objects (the caller) and a union of literals (the lane), as on every lease call.
    [
      "leases:claimNext",
      { workspaceId, workerId: "w", lane: "worker", caller: { kind: "robot" } },
      'Validator error: Expected one of object, object, object, got `{"kind":"robot"}`',
    ],
    [
      "leases:claimNext",
      { workspaceId, workerId: "w", lane: "boat", caller: service },
      'Validator error: Expected one of literal, literal, got `"boat"`',
    ],
  ];
  const before = engine.documentsOf("workspaces").length;
  for (const [path, args, message] of cases) {
    await expect(engine.call(path, args as never)).rejects.toThrow(message);
  }
  expect(engine.documentsOf("workspaces")).toHaveLength(before);
  // Arguments that pass reach the function (which then looks for the worker).
  await expect(
    engine.call("leases:claimNext", { workspaceId, workerId: "w", lane: "worker", caller: service }),
  ).rejects.toThrow(/worker/i);
});

test("Convex's read limit applies in local mode, counting documents that `.filter()` skipped", async () => {
  const engine = await engineWith();
  const plainWithLimits = convexTest({ schema, modules, transactionLimits: true });
  const name = "x".repeat(900_000);
  for (const run of [(fn: any) => engine.t.run(fn), (fn: any) => plainWithLimits.run(fn)]) {
    // 20 documents of 0.9 MB: 18 MB, over the 16 MiB a transaction may read (two writes of 9 MB).
    for (let batch = 0; batch < 2; batch++) {
      await run(async (ctx: any) => {
        for (let i = 0; i < 10; i++) await ctx.db.insert("users", { name });
      });
    }
  }
  const readAll = (ctx: any) => ctx.db.query("users").withIndex("by_creation_time").collect();
  const findNobody = (ctx: any) =>
    ctx.db
      .query("users")
      .withIndex("by_creation_time")
      .filter((q: any) => q.eq(q.field("name"), "nobody"))
      .first();
  await expect(engine.t.run(readAll)).rejects.toThrow(/Read too much data .*16777216 bytes/);
  // Convex scans all 18 MB to find nothing, and refuses; plain convex-test counts only what it returns.
  await expect(engine.t.run(findNobody)).rejects.toThrow(/Read too much data .*16777216 bytes/);
  expect(await plainWithLimits.run(findNobody)).toBeNull();
});
