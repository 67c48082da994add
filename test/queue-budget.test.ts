/**
 * SPEC §6 cost budget: documents read per worker-facing call, on a small workspace and on one
 * with 10,000 pending + 10,000 finished jobs, 200 workers and 50 repos. The counts are
 * deterministic, so they are asserted exactly: equal across sizes, except claim-next, which reads
 * one head per non-empty stream of the worker's repos (2 repos in the small workspace, 50 in the
 * large one) whatever the jobs, finished jobs and workers; all within the budget.
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

const CLAIMS = ["claim-next (job available)", "claim-next (nothing claimable)"];

describe("documents read per call", () => {
  test.each((Object.keys(BUDGET) as Operation[]).filter((operation) => !CLAIMS.includes(operation)))(
    "%s stays within the budget and does not grow with the workspace",
    (operation) => {
      expect(large[operation]!.documentsRead).toBeLessThanOrEqual(BUDGET[operation]);
      expect(large[operation]!.documentsRead).toBe(small[operation]!.documentsRead);
    },
  );

  test("claim-next reads the worker, its workspace, the lane's pause document, one head per stream of its repos and the job it claims", () => {
    // The busy worker allows every ordinary repo, each holding one stream; the workload pauses one other repo.
    // The claimed job counts twice (read as a head, then patched: convex-test counts both); its
    // metrics counter delta (jobCounters.ts) is an insert and reads nothing.
    expect(small["claim-next (job available)"]!.documentsRead).toBe(4 + SMALL.repos);
    expect(large["claim-next (job available)"]!.documentsRead).toBe(4 + LARGE.repos);
    expect(large["claim-next (job available)"]!.documentsRead).toBeLessThanOrEqual(64);
  });

  test("claim-next with nothing claimable reads the worker, its workspace, the pause document and the heads it cannot take", () => {
    // The idle worker allows one repo: empty in the small workspace, 1,000 jobs it cannot take in the large one.
    expect(small["claim-next (nothing claimable)"]!.documentsRead).toBe(3);
    expect(large["claim-next (nothing claimable)"]!.documentsRead).toBe(4);
    expect(large["claim-next (nothing claimable)"]!.documentsRead).toBeLessThanOrEqual(5);
  });

  test("the bearer token lookup reads one document", () => {
    expect(large["bearer auth"]!.documentsRead).toBe(1);
  });
});

describe("written per call", () => {
  test("a claim writes the claimed job, its event and its counter delta, the same whatever the queue holds, under 16 KiB", () => {
    for (const metrics of [small, large]) {
      expect(metrics["claim-next (job available)"]!.documentsWritten).toBe(3);
      expect(metrics["claim-next (job available)"]!.bytesWritten).toBeLessThanOrEqual(16_384);
    }
    expect(large["claim-next (job available)"]!.bytesWritten).toBe(small["claim-next (job available)"]!.bytesWritten);
  });

  test("an idle poll writes nothing", () => {
    expect(small["claim-next (nothing claimable)"]!.documentsWritten).toBe(0);
    expect(large["claim-next (nothing claimable)"]!.documentsWritten).toBe(0);
  });

  test("enqueue writes its job, its event and its counter delta, whatever the queue holds", () => {
    expect(large.enqueue!.documentsWritten).toBe(3);
    expect(large.enqueue!.bytesWritten).toBe(small.enqueue!.bytesWritten);
  });
});
