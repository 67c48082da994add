// @vitest-environment node
/**
 * Transactions of the local engine take turns (takeTurns in scripts/local/convexTestInternals.ts):
 * in arrival order, at once when nobody else runs, and never more than TURN_SLICE_MS back to back
 * before the event loop turns (an fsync completion, a timer, a socket read).
 */
import { convexTest } from "convex-test";
import { expect, test } from "vitest";
import schema from "../../convex/schema";
import { openInternals, takeTurns, TURN_SLICE_MS } from "../../scripts/local/convexTestInternals";
import { localModules as modules } from "../support/local-engine";

async function turnTaking() {
  const t = convexTest({ schema, modules });
  takeTurns(await openInternals(t, { hasSchema: true }));
  return t;
}

/** Keeps the thread busy, as a transaction's own work does. */
function spin(ms: number) {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

test("the slice is 5 ms", () => {
  expect(TURN_SLICE_MS).toBe(5);
});

test("a burst of transactions runs in arrival order, and the event loop turns within it", async () => {
  const t = await turnTaking();
  const ran: string[] = [];
  const calls = Array.from({ length: 20 }, (_, i) =>
    t.mutation(async () => {
      spin(2);
      ran.push(`tx ${i}`);
    }),
  );
  setImmediate(() => ran.push("event loop"));
  await Promise.all(calls);
  const transactions = ran.filter((entry) => entry !== "event loop");
  expect(transactions).toEqual(Array.from({ length: 20 }, (_, i) => `tx ${i}`));
  // 2 ms each: the loop turns after at most 3 of them (5 ms), not after all 20 (convex-test's own lock).
  expect(ran.indexOf("event loop")).toBeGreaterThan(0);
  expect(ran.indexOf("event loop")).toBeLessThanOrEqual(Math.ceil(TURN_SLICE_MS / 2) + 1);
});

test("a failed transaction hands the turn on", async () => {
  const t = await turnTaking();
  const failing = t.mutation(async () => {
    throw new Error("refused");
  });
  const next = t.mutation(async () => "ran");
  await expect(failing).rejects.toThrow("refused");
  await expect(next).resolves.toBe("ran");
});

test("a transaction that finds nobody running starts without waiting for the event loop", async () => {
  const t = await turnTaking();
  await new Promise((resolve) => setImmediate(resolve)); // a fresh slice
  let turned = false;
  setImmediate(() => (turned = true));
  const seen = await t.mutation(async () => turned);
  expect(seen).toBe(false);
});
