/**
 * SPEC §6 "Production limits": every test runs with Convex's transaction limits enforced, so a
 * path that would fail on a deployment fails here. These checks fail if the harness stops
 * turning the limits on.
 */
import { afterEach, expect, test } from "vitest";
import { internal } from "../convex/_generated/api";
import { CONVEX_TEST_OPTIONS, freshConvex, resetTestEnvironment } from "./support/harness";

afterEach(resetTestEnvironment);

test("the harness creates convex-test with transactionLimits on", () => {
  expect(CONVEX_TEST_OPTIONS.transactionLimits).toBe(true);
});

test("a transaction that schedules more than 1,000 functions fails, as on a deployment", async () => {
  const t = freshConvex();
  await expect(
    t.run(async (ctx) => {
      for (let i = 0; i < 1_001; i++) await ctx.scheduler.runAfter(60_000, internal.recovery.sweepExpiredLeases, {});
    }),
  ).rejects.toThrow(/Scheduled too many functions/);
});

test("a transaction that writes more than 16 MiB fails, as on a deployment", async () => {
  const t = freshConvex();
  const text = "x".repeat(900_000);
  await expect(
    t.run(async (ctx) => {
      for (let i = 0; i < 20; i++) await ctx.db.insert("workspaces", { slug: `w${i}`, name: text, dataPolicy: "full" });
    }),
  ).rejects.toThrow(/Wrote too much data/);
});
