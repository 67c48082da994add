/**
 * SPEC §6 "Lease": a completed call repeated by the same worker and generation with the same
 * outcome answers ok with `idempotent: true`, also when the completion did not end the job (a
 * retryable failure became a retry, a timed-out attempt was retried), over the worker routes of
 * both lanes, in the runner's dialect (v1 reasons) and complete-and-enqueue-children. A repeat
 * with another outcome, by another worker or of a claim since replaced is fenced; so is a late
 * completion of a job the server ended itself (cancel grace).
 */
import { beforeEach, describe, expect, test, vi } from "vitest";
import { expectError, ok } from "./support/api";
import { useFreshConvex, type Json } from "./support/harness";
import { elapse as elapseAndRun, eventTypes, queueWorkspace, type QueueWorkspace } from "./support/queue-fixtures";

const t = useFreshConvex();
let acme: QueueWorkspace;
const START = 1_000_000;
beforeEach(async () => {
  vi.useFakeTimers({ now: START });
  acme = await queueWorkspace(t, "acme");
});

const elapse = (ms: number) => elapseAndRun(t, ms);

/** The runner's v1 reason for a failure worth retrying (SPEC §12). */
const retryable = { version: 1, category: "failed", code: "rate_limited", retryable: true, recommendedDelayMs: 30_000 };
const retried = { retry: { backoff: "fixed", initialDelayMs: 30_000, jitter: false }, maxAttempts: 3 };

async function claimAndFail(workerId: string, extra: Json = {}) {
  const jobId = await acme.enqueue(retried);
  const { claimGeneration } = await acme.claimJob(workerId);
  const completion = { claimGeneration, outcome: "failed", outcomeReason: retryable, ...extra };
  const first = await acme.lease("complete", jobId, workerId, completion);
  expect(first.body.result).toEqual({ jobId, status: "scheduled", idempotent: false });
  return { jobId, claimGeneration, completion };
}

describe("a completion repeated after it became a retry", () => {
  test("answers ok with idempotent: true while the job waits, and after it is pending again; nothing moves twice", async () => {
    const workerId = await acme.worker("w1");
    const { jobId, completion } = await claimAndFail(workerId);
    const again = await acme.lease("complete", jobId, workerId, completion);
    expect(again.status).toBe(200);
    expect(again.body.result).toEqual({ jobId, status: "scheduled", idempotent: true });
    // Without claimGeneration (optional in v1) the same worker's repeat is recognised too.
    const { claimGeneration: _omitted, ...withoutGeneration } = completion;
    expect((await acme.lease("complete", jobId, workerId, withoutGeneration)).body.result).toEqual({
      jobId,
      status: "scheduled",
      idempotent: true,
    });
    await elapse(30_000);
    expect((await acme.lease("complete", jobId, workerId, completion)).body.result).toEqual({
      jobId,
      status: "pending",
      idempotent: true,
    });
    expect(await eventTypes(acme, jobId)).toEqual(["enqueued", "claimed", "retry_scheduled", "released"]);
    expect(await acme.job(jobId)).toMatchObject({ status: "pending", attempts: 1, claimGeneration: 1 });
    // Internal bookkeeping stays off the wire.
    expect(await acme.job(jobId)).not.toHaveProperty("lastCompletion");
  });

  test("the cloud AI lane's complete route answers the repeat the same way", async () => {
    const jobId = await acme.enqueue({ ...retried, lane: "cloud_ai" });
    const workerId = await acme.worker("cloud");
    const claimed = await acme.claim(workerId, {}, "cloud-ai-jobs");
    expect(claimed.jobId).toBe(jobId);
    const body = {
      workspaceId: acme.workspaceId,
      jobId,
      workerId,
      claimGeneration: claimed.claimGeneration,
      outcome: "failed",
      outcomeReason: retryable,
    };
    expect((await ok(acme.call, "/v1/cloud-ai-jobs/complete", body)).result.idempotent).toBe(false);
    expect((await ok(acme.call, "/v1/cloud-ai-jobs/complete", body)).result).toEqual({
      jobId,
      status: "scheduled",
      idempotent: true,
    });
  });

  test("complete-and-enqueue-children repeated after a retry: idempotent, no child enqueued", async () => {
    const workerId = await acme.worker("w1");
    const jobId = await acme.enqueue(retried);
    const { claimGeneration } = await acme.claimJob(workerId);
    const body = {
      workspaceId: acme.workspaceId,
      jobId,
      workerId,
      claimGeneration,
      outcome: "failed",
      outcomeReason: retryable,
      idempotencyKey: "fail-1",
      children: [],
    };
    const first = await ok(acme.call, "/v1/jobs/complete-and-enqueue-children", body);
    expect(first.result).toEqual({ jobId, status: "scheduled", idempotent: false, spawnedJobIds: [] });
    const again = await ok(acme.call, "/v1/jobs/complete-and-enqueue-children", body);
    expect(again.result).toEqual({ jobId, status: "scheduled", idempotent: true, spawnedJobIds: [] });
  });

  test("with another outcome it is LEASE_MISMATCH naming the first outcome; the retry stands", async () => {
    const workerId = await acme.worker("w1");
    const { jobId, completion } = await claimAndFail(workerId);
    for (const outcome of ["done", "blocked", "canceled"]) {
      const other = await acme.lease("complete", jobId, workerId, {
        claimGeneration: completion.claimGeneration,
        outcome,
      });
      expectError(other, 409, "LEASE_MISMATCH");
      expect(other.body.message).toContain("failed");
    }
    // A plain `failed` without the retryable reason is the same outcome: the same completion.
    expect((await acme.lease("complete", jobId, workerId, { ...completion, outcomeReason: "x" })).body.result).toEqual({
      jobId,
      status: "scheduled",
      idempotent: true,
    });
    expect(await acme.job(jobId)).toMatchObject({ status: "scheduled", attempts: 1 });
    expect(await eventTypes(acme, jobId)).toEqual(["enqueued", "claimed", "retry_scheduled"]);
  });

  test("another worker, or a wrong generation, is fenced, not idempotent", async () => {
    const workerId = await acme.worker("w1");
    const intruder = await acme.worker("w2");
    const { jobId, completion } = await claimAndFail(workerId);
    expectError(await acme.lease("complete", jobId, intruder, completion), 409, "LEASE_MISMATCH");
    const wrong = await acme.lease("complete", jobId, workerId, { ...completion, claimGeneration: 2 });
    expect(wrong.status).toBe(409);
    expect(wrong.body.result).toBeUndefined();
  });

  test("once claimed again, a repeat of the old generation is not the new claim's completion", async () => {
    const first = await acme.worker("w1");
    const second = await acme.worker("w2");
    const { jobId, completion } = await claimAndFail(first);
    await elapse(30_000);

    // Claimed again by the same worker: its old generation's repeat is stale.
    const again = await acme.claimJob(first);
    expect(again).toMatchObject({ jobId, claimGeneration: 2 });
    expectError(await acme.lease("complete", jobId, first, completion), 409, "CLAIM_GENERATION_MISMATCH");
    expect(await acme.job(jobId)).toMatchObject({ status: "running", claimGeneration: 2, claimedBy: first });
    // The new claim completes normally; the old generation's repeat still does not count.
    const done = await acme.lease("complete", jobId, first, { claimGeneration: 2, outcome: "done" });
    expect(done.body.result).toEqual({ jobId, status: "done", idempotent: false });
    expectError(await acme.lease("complete", jobId, first, completion), 409, "LEASE_MISMATCH");
    expect((await acme.lease("complete", jobId, first, { claimGeneration: 2, outcome: "done" })).body.result).toEqual({
      jobId,
      status: "done",
      idempotent: true,
    });

    // Claimed again by another worker: the first worker's repeat is LEASE_MISMATCH.
    const other = await claimAndFail(first);
    await elapse(30_000);
    expect((await acme.claimJob(second)).jobId).toBe(other.jobId);
    expectError(await acme.lease("complete", other.jobId, first, other.completion), 409, "LEASE_MISMATCH");
    expect(await acme.job(other.jobId)).toMatchObject({ status: "running", claimedBy: second });
  });
});

describe("completions the server ended or changed", () => {
  test("a worker that stopped for its timeout: the canceled completion became a retry, its repeat is idempotent", async () => {
    const jobId = await acme.enqueue({ ...retried, timeoutMs: 60_000 });
    const workerId = await acme.worker("w1");
    const { claimGeneration } = await acme.claimJob(workerId, { leaseMs: 3_600_000 });
    await elapse(60_000);
    expect(await acme.job(jobId)).toMatchObject({ status: "running", cancelRequested: true, timedOut: true });
    const body = { claimGeneration, outcome: "canceled" };
    expect((await acme.lease("complete", jobId, workerId, body)).body.result).toEqual({
      jobId,
      status: "scheduled",
      idempotent: false,
    });
    expect((await acme.lease("complete", jobId, workerId, body)).body.result).toEqual({
      jobId,
      status: "scheduled",
      idempotent: true,
    });
    expect((await acme.events(jobId)).at(-1)).toMatchObject({ type: "retry_scheduled", data: { cause: "timeout" } });
  });

  test("a timed-out attempt without retries left ends failed; the worker's canceled repeat is idempotent", async () => {
    const jobId = await acme.enqueue({ timeoutMs: 60_000 });
    const workerId = await acme.worker("w1");
    const { claimGeneration } = await acme.claimJob(workerId, { leaseMs: 3_600_000 });
    await elapse(60_000);
    const body = { claimGeneration, outcome: "canceled" };
    expect((await acme.lease("complete", jobId, workerId, body)).body.result.status).toBe("failed");
    expect((await acme.lease("complete", jobId, workerId, body)).body.result).toEqual({
      jobId,
      status: "failed",
      idempotent: true,
    });
    expectError(
      await acme.lease("complete", jobId, workerId, { claimGeneration, outcome: "failed" }),
      409,
      "LEASE_MISMATCH",
    );
  });

  test("ended by the server after the cancel grace: the worker's late completion is LEASE_MISMATCH, whatever its outcome", async () => {
    const jobId = await acme.enqueue();
    const workerId = await acme.worker("w1");
    const { claimGeneration } = await acme.claimJob(workerId, { leaseMs: 3_600_000 });
    await ok(acme.call, "/v1/jobs/cancel", { workspaceId: acme.workspaceId, jobId });
    await elapse(120_000);
    expect(await acme.job(jobId)).toMatchObject({ status: "canceled", outcome: "canceled" });
    // Never completed by the worker: not a repeat, even with the outcome the server chose.
    for (const outcome of ["canceled", "done"]) {
      expectError(await acme.lease("complete", jobId, workerId, { claimGeneration, outcome }), 409, "LEASE_MISMATCH");
    }
  });

  test("a lost lease recovered to pending: the worker's late completion is LEASE_MISMATCH", async () => {
    const jobId = await acme.enqueue();
    const workerId = await acme.worker("w1");
    const { claimGeneration } = await acme.claimJob(workerId, { leaseMs: 10_000 });
    await elapse(10_000);
    expect((await acme.job(jobId)).status).toBe("pending");
    expectError(
      await acme.lease("complete", jobId, workerId, { claimGeneration, outcome: "done" }),
      409,
      "LEASE_MISMATCH",
    );
  });
});
