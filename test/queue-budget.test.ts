/**
 * SPEC §6 cost budget: documents read per worker-facing call, on a small workspace and on one
 * with 10,000 pending + 10,000 finished jobs, 200 workers and 50 repos. The counts are
 * deterministic, so they are asserted exactly equal across sizes, and within the budget.
 */
import { beforeAll, describe, expect, test } from "vitest";
import {
  BUDGET,
  LARGE,
  SMALL,
  measureCalls,
  seedWorkload,
  type Metrics,
  type Operation,
  type Runner,
} from "../scripts/bench/queue-workload";
import { newConvex } from "./support/harness";

async function measure(scale: typeof SMALL) {
  const t = newConvex();
  const workload = await seedWorkload(t as unknown as Runner, scale);
  return await measureCalls(t as unknown as Runner, workload);
}

let small: Record<string, Metrics>;
let large: Record<string, Metrics>;
beforeAll(async () => {
  small = await measure(SMALL);
  large = await measure(LARGE);
}, 300_000);

describe("documents read per call", () => {
  test.each(Object.keys(BUDGET) as Operation[])(
    "%s stays within the budget and does not grow with the workspace",
    (operation) => {
      expect(large[operation]!.documentsRead).toBeLessThanOrEqual(BUDGET[operation]);
      expect(large[operation]!.documentsRead).toBe(small[operation]!.documentsRead);
    },
  );

  test("the bearer token lookup reads one document", () => {
    expect(large["bearer auth"]!.documentsRead).toBe(1);
  });
});
