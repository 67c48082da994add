/**
 * SPEC §6 "Scheduling": cancel cascades. A run canceled cancels its scheduled and pending jobs and
 * asks its running ones to stop; a job canceled does the same to the children it spawned, over
 * three levels; a fan-out of 1,000 children is canceled in batches inside Convex's limits
 * (transactionLimits on, as in every test).
 */
import { describe, expect, test } from "vitest";
import type { Id } from "../convex/_generated/dataModel";
import { enqueueJob } from "../convex/jobs";
import { ok } from "./support/api";
import { useFreshConvex, type Json } from "./support/harness";
import { queueWorkspace, type QueueWorkspace } from "./support/queue-fixtures";

const t = useFreshConvex();

const settle = () => t.finishAllScheduledFunctions(() => {});

/** Claims the next job as `workerId` and completes it done, spawning `children` prompts. */
async function completeWithChildren(acme: QueueWorkspace, workerId: string, prompts: string[]): Promise<Json> {
  const claimed = await acme.claimJob(workerId);
  const { result } = await ok(acme.call, "/v1/jobs/complete-and-enqueue-children", {
    workspaceId: acme.workspaceId,
    jobId: claimed.jobId,
    workerId,
    claimGeneration: claimed.claimGeneration,
    outcome: "done",
    idempotencyKey: `children-of-${claimed.jobId}`,
    children: prompts.map((prompt) => ({ repoId: acme.repoId, kind: "work", prompt })),
  });
  return { jobId: claimed.jobId, spawned: result.spawnedJobIds as string[] };
}

describe("canceling a job cascades to what it spawned", () => {
  test("three levels: children and grandchildren canceled, a running one asked to stop", async () => {
    const acme = await queueWorkspace(t);
    await acme.enqueue({ prompt: "root", priority: -10 });
    const workerId = await acme.worker("w1");
    const root = await completeWithChildren(acme, workerId, ["child A", "child B", "child C"]);
    // child A completes with two grandchildren; child B is running; child C stays pending.
    const childA = await completeWithChildren(acme, workerId, ["grandchild 1", "grandchild 2"]);
    expect(childA.jobId).toBe(root.spawned[0]);
    const childB = await acme.claimJob(workerId);
    expect(childB.jobId).toBe(root.spawned[1]);

    const { job } = await ok(acme.call, "/v1/jobs/cancel", { workspaceId: acme.workspaceId, jobId: root.jobId });
    expect(job.status).toBe("done"); // a finished parent stays as it ended
    await settle();

    const status = async (jobId: string) => (await acme.job(jobId)).status;
    expect(await status(root.spawned[2]!)).toBe("canceled");
    expect(await status(childA.jobId)).toBe("done");
    expect(await Promise.all(childA.spawned.map(status))).toEqual(["canceled", "canceled"]);
    expect(await acme.job(childB.jobId)).toMatchObject({ status: "running", cancelRequested: true });
    expect((await acme.events(root.spawned[2]!)).at(-1)).toMatchObject({
      type: "canceled",
      message: `Parent job ${root.jobId} canceled.`,
    });
  });

  test("a job without children: cancel of a finished one is still INVALID_JOB_STATE", async () => {
    const acme = await queueWorkspace(t);
    const jobId = await acme.enqueue();
    await ok(acme.call, "/v1/jobs/cancel", { workspaceId: acme.workspaceId, jobId });
    const again = await acme.call("/v1/jobs/cancel", { workspaceId: acme.workspaceId, jobId });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe("INVALID_JOB_STATE");
  });

  test("1,000 children are canceled in batches inside the transaction limits", async () => {
    const acme = await queueWorkspace(t);
    const parentId = (await acme.enqueue({ prompt: "fan-out parent" })) as Id<"jobs">;
    const workspaceId = acme.workspaceId as Id<"workspaces">;
    const children: Id<"jobs">[] = [];
    for (let start = 0; start < 1_000; start += 250) {
      children.push(
        ...(await t.run(async (ctx) => {
          const ids: Id<"jobs">[] = [];
          for (let i = start; i < start + 250; i++) {
            const delayed = i % 2 === 0 ? { delayMs: 3_600_000 } : {};
            const { jobId } = await enqueueJob(ctx, {
              workspaceId,
              repoId: acme.repoId,
              kind: "work",
              prompt: `child ${i}`,
              parentJobId: parentId,
              ...delayed,
            });
            ids.push(jobId);
          }
          return ids;
        })),
      );
    }
    await t.run(async (ctx) => ctx.db.patch(parentId, { spawnedJobIds: children }));
    await ok(acme.call, "/v1/jobs/cancel", { workspaceId: acme.workspaceId, jobId: parentId });
    await settle();
    const statuses = await t.run(async (ctx) => {
      const counts: Record<string, number> = {};
      for (const id of children) {
        const job = (await ctx.db.get(id))!;
        counts[job.status] = (counts[job.status] ?? 0) + 1;
      }
      return counts;
    });
    expect(statuses).toEqual({ canceled: 1_000 });
  });
});

describe("canceling a run cascades to its jobs", () => {
  test("v2 upsert status canceled: scheduled and pending jobs canceled, running ones asked to stop, others kept", async () => {
    const acme = await queueWorkspace(t);
    const { runId } = await ok(acme.call, "/v1/runs/upsert", {
      workspaceId: acme.workspaceId,
      repoId: acme.repoId,
      runRef: "run-1",
      status: "in_progress",
    });
    const running = await acme.enqueue({ runId, prompt: "running", priority: -1 });
    const pending = await acme.enqueue({ runId, prompt: "pending" });
    const scheduled = await acme.enqueue({ runId, prompt: "scheduled", delayMs: 60_000 });
    const otherRun = await acme.enqueue({ prompt: "not of the run" });
    const workerId = await acme.worker("w1");
    expect((await acme.claimJob(workerId)).jobId).toBe(running);

    await ok(acme.call, "/v2/runs/upsert", { workspaceId: acme.workspaceId, runId, status: "canceled" });
    await settle();
    expect((await acme.job(pending)).status).toBe("canceled");
    expect((await acme.job(scheduled)).status).toBe("canceled");
    expect(await acme.job(running)).toMatchObject({ status: "running", cancelRequested: true });
    expect((await acme.job(otherRun)).status).toBe("pending");
  });
});
