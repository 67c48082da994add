/**
 * SPEC §6 cost budget: documents read per worker-facing call, on a small workspace and on one
 * with 10,000 pending + 10,000 finished jobs, 200 workers and 50 repos. The counts are
 * deterministic, so they are asserted exactly: equal across sizes, except claim-next, which reads
 * one head per non-empty stream of the worker's repos (2 repos in the small workspace, 50 in the
 * large one) whatever the jobs, finished jobs and workers; all within the budget.
 */
import { beforeAll, describe, expect, test } from "vitest";
import type { Id } from "../convex/_generated/dataModel";
import { enqueue, enqueueJob } from "../convex/jobs";
import { claimNext, complete } from "../convex/leases";
import {
  BUDGET,
  LARGE,
  SMALL,
  measureCalls,
  metered,
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

describe("concurrency keys and worker capacity (SPEC §6 Concurrency) stay in the budget", () => {
  const FULL_KEYS = 200;
  let keyed: Record<string, Metrics & { result?: any }>;
  beforeAll(async () => {
    const t = newConvex();
    const workload = await seedWorkload(t as unknown as Runner, SMALL, "keys");
    const { caller, workspaceId, busyWorkerId, repoIds } = workload;
    const ws = { caller, workspaceId };
    // 200 full keys, each with a waiting job more urgent than anything else in the busy worker's first repo.
    await t.run(async (ctx) => {
      await ctx.db.insert("concurrencyKeys", {
        workspaceId,
        key: "solo",
        admitted: 0,
        limit: 2,
        updatedAt: Date.now(),
      });
      for (let i = 0; i < FULL_KEYS; i++) {
        await ctx.db.insert("concurrencyKeys", { workspaceId, key: `full-${i}`, admitted: 1, updatedAt: Date.now() });
        await enqueueJob(ctx, {
          workspaceId,
          repoId: repoIds[0]!,
          kind: "work",
          prompt: `Waiting ${i}`,
          priority: -100,
          concurrencyKey: `full-${i}`,
        });
      }
    });
    const claim = () => metered(t as unknown as Runner, claimNext, { ...ws, workerId: busyWorkerId, lane: "worker" });
    const past = await claim();
    const fresh = await metered(t as unknown as Runner, enqueue, {
      ...ws,
      repoId: repoIds[0]!,
      kind: "work",
      prompt: "New key",
      priority: -1_000,
      concurrencyKey: "solo",
    });
    const statusOf = (jobId: Id<"jobs">) => t.run(async (ctx) => (await ctx.db.get(jobId))!.status);
    const freshStatus = await statusOf(fresh.result.jobId);
    const full = await metered(t as unknown as Runner, enqueue, {
      ...ws,
      repoId: repoIds[0]!,
      kind: "work",
      prompt: "Full key",
      concurrencyKey: "full-0",
    });
    const solo = await claim();
    const completed = await metered(t as unknown as Runner, complete, {
      ...ws,
      jobId: solo.result.jobId,
      workerId: busyWorkerId,
      claimGeneration: solo.result.claimGeneration,
      outcome: "done",
    });
    await t.run(async (ctx) => {
      const worker = (await ctx.db.get(busyWorkerId))!;
      await ctx.db.patch(busyWorkerId, { capabilities: { ...worker.capabilities, maxConcurrentJobs: 2 } });
    });
    const capped = await claim();
    const atCapacity = await claim();
    keyed = {
      "claim past full keys": { ...past.metrics, result: past.result },
      "enqueue (key with room)": { ...fresh.metrics, result: freshStatus },
      "enqueue (full key)": { ...full.metrics, result: await statusOf(full.result.jobId) },
      "claim (keyed job)": { ...solo.metrics, result: solo.result },
      "complete (keyed job)": { ...completed.metrics, result: completed.result },
      "claim (capped worker holding 1)": { ...capped.metrics, result: capped.result },
      "claim (capped worker at capacity)": { ...atCapacity.metrics, result: atCapacity.result },
    };
  }, 300_000);

  test("claim-next reads no more with 200 full keys' jobs at the front of its stream than without them", () => {
    expect(keyed["claim past full keys"]!.result.job.concurrencyKey).toBeUndefined();
    expect(keyed["claim past full keys"]!.documentsRead).toBe(small["claim-next (job available)"]!.documentsRead);
    expect(keyed["claim past full keys"]!.documentsWritten).toBe(3);
  });

  test("enqueue with a key reads its key document (≤ 6 in all), admitted or waiting", () => {
    expect(keyed["enqueue (key with room)"]!.result).toBe("pending");
    expect(keyed["enqueue (full key)"]!.result).toBe("waiting");
    expect(keyed["enqueue (key with room)"]!.documentsRead).toBeLessThanOrEqual(BUDGET.enqueue);
    expect(keyed["enqueue (full key)"]!.documentsRead).toBeLessThanOrEqual(BUDGET.enqueue);
    // The key document on top of an unkeyed enqueue's reads: read and patched (new), or read only (full).
    expect(keyed["enqueue (key with room)"]!.documentsRead).toBe(small.enqueue!.documentsRead + 2);
    expect(keyed["enqueue (full key)"]!.documentsRead).toBe(small.enqueue!.documentsRead + 1);
  });

  test("a keyed job's claim reads and writes what any claim does; its completion stays ≤ 8 (the key's recount is scheduled)", () => {
    expect(keyed["claim (keyed job)"]!.result.job.concurrencyKey).toBe("solo");
    expect(keyed["claim (keyed job)"]!.documentsRead).toBe(small["claim-next (job available)"]!.documentsRead);
    expect(keyed["claim (keyed job)"]!.documentsWritten).toBe(3);
    expect(keyed["complete (keyed job)"]!.result.result.status).toBe("done");
    expect(keyed["complete (keyed job)"]!.documentsRead).toBeLessThanOrEqual(BUDGET.complete);
    expect(keyed["complete (keyed job)"]!.documentsRead).toBe(small.complete!.documentsRead);
  });

  test("a capped worker's claim reads its running jobs (at most maxConcurrentJobs) and stays in the budget", () => {
    expect(keyed["claim (capped worker holding 1)"]!.result.jobId).not.toBeNull();
    expect(keyed["claim (capped worker holding 1)"]!.documentsRead).toBe(
      small["claim-next (job available)"]!.documentsRead + 1,
    );
    expect(keyed["claim (capped worker at capacity)"]!.result.reason).toBe("WORKER_AT_CAPACITY");
    // The worker, its workspace and its two running jobs.
    expect(keyed["claim (capped worker at capacity)"]!.documentsRead).toBe(4);
    expect(keyed["claim (capped worker at capacity)"]!.documentsWritten).toBe(0);
  });
});
