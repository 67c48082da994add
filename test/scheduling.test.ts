/**
 * SPEC §6 "Scheduling" over HTTP: delayed jobs (`runAt`/`delayMs`, status `scheduled`, released on
 * time by their timer or the sweep) and the retry policy (back-off on a lost lease and on a
 * retryable failure, `recommendedDelayMs` clamped, `maxAttempts`). Time is faked; timers run
 * through convex-test's scheduler.
 */
import { beforeEach, describe, expect, test, vi } from "vitest";
import { internal } from "../convex/_generated/api";
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

const listed = async (status: string) =>
  (await ok(acme.call, "/v1/jobs/list", { workspaceId: acme.workspaceId, status })).jobs.map((job: Json) => job._id);

describe("delayed jobs", () => {
  test("delayMs: scheduled and unclaimable 1 ms before its time, pending and claimable at it", async () => {
    const jobId = await acme.enqueue({ delayMs: 60_000 });
    const workerId = await acme.worker("w1");
    expect(await acme.job(jobId)).toMatchObject({ status: "scheduled", availableAt: START + 60_000 });
    expect(await listed("scheduled")).toEqual([jobId]);
    expect(await listed("pending")).toEqual([]);
    expect(await acme.claim(workerId)).toMatchObject({ jobId: null, reason: "NO_JOBS" });

    await elapse(59_999);
    expect((await acme.job(jobId)).status).toBe("scheduled");
    expect(await acme.claim(workerId)).toMatchObject({ jobId: null, reason: "NO_JOBS" });

    await elapse(1);
    const released = await acme.job(jobId);
    expect(released.status).toBe("pending");
    expect(released.availableAt).toBeUndefined();
    expect(await eventTypes(acme, jobId)).toEqual(["enqueued", "released"]);
    expect((await acme.claimJob(workerId)).jobId).toBe(jobId);
  });

  test("runAt as epoch ms and as ISO 8601; a time already past enqueues pending", async () => {
    const epoch = await acme.enqueue({ runAt: START + 5_000 });
    const iso = await acme.enqueue({ runAt: new Date(START + 7_000).toISOString() });
    const offset = await acme.enqueue({ runAt: "1970-01-01T02:16:49+02:00" }); // START + 9 s in UTC+2
    const past = await acme.enqueue({ runAt: START - 1 });
    const now = await acme.enqueue({ delayMs: 0 });
    expect((await acme.job(epoch)).availableAt).toBe(START + 5_000);
    expect((await acme.job(iso)).availableAt).toBe(START + 7_000);
    expect((await acme.job(offset)).availableAt).toBe(START + 9_000);
    expect((await acme.job(past)).status).toBe("pending");
    expect((await acme.job(now)).status).toBe("pending");
    const events = await acme.events(epoch);
    expect(events).toMatchObject([{ type: "enqueued", data: { availableAt: START + 5_000 } }]);
  });

  test("bad timing fields answer INVALID_REQUEST naming the field", async () => {
    const body = { workspaceId: acme.workspaceId, repoId: acme.repoId, kind: "work", prompt: "x" };
    const cases: Array<[Json, string]> = [
      [{ runAt: START + 1_000, delayMs: 1_000 }, "runAt"],
      [{ runAt: START + 366 * 86_400_000 }, "runAt"],
      [{ delayMs: 366 * 86_400_000 }, "delayMs"],
      [{ delayMs: -1 }, "delayMs"],
      [{ runAt: "tomorrow" }, "runAt"],
      [{ runAt: "2026-01-01T00:00:00" }, "runAt"], // no offset: ambiguous
      [{ timeoutMs: 9_999 }, "timeoutMs"],
      [{ retry: { backoff: "linear" } }, "retry.backoff"],
      [{ retry: { backoff: "fixed", maxAttempts: 4 }, maxAttempts: 5 }, "retry.maxAttempts"],
    ];
    for (const [fields, path] of cases) {
      const response = await acme.call("/v1/jobs/enqueue", { ...body, ...fields });
      expectError(response, 400, "INVALID_REQUEST");
      expect(response.body.message, JSON.stringify(fields)).toContain(path);
    }
    expect(await listed("scheduled")).toEqual([]);
    expect(await listed("pending")).toEqual([]);
  });

  test("a scheduled job canceled stays canceled when its time comes; retry and lease calls refuse it", async () => {
    const jobId = await acme.enqueue({ delayMs: 10_000 });
    const workerId = await acme.worker("w1");
    expectError(await acme.call("/v1/jobs/retry", { workspaceId: acme.workspaceId, jobId }), 409, "INVALID_JOB_STATE");
    expectError(await acme.lease("heartbeat", jobId, workerId), 409, "LEASE_MISMATCH");
    expectError(await acme.lease("complete", jobId, workerId, { outcome: "done" }), 409, "LEASE_MISMATCH");
    const { job } = await ok(acme.call, "/v1/jobs/cancel", { workspaceId: acme.workspaceId, jobId });
    expect(job).toMatchObject({ status: "canceled", outcomeReason: { code: "canceled" } });
    expect(job.availableAt).toBeUndefined();
    await elapse(10_000);
    expect((await acme.job(jobId)).status).toBe("canceled");
    expect(await eventTypes(acme, jobId)).toEqual(["enqueued", "canceled"]);
    expect(await acme.claim(workerId)).toMatchObject({ jobId: null });
  });

  test("the sweep releases a due job whose timer did not run", async () => {
    const jobId = await acme.enqueue({ delayMs: 5_000 });
    vi.setSystemTime(START + 5_000); // the clock moves, the timer does not fire
    expect(await t.mutation(internal.scheduling.sweepDueJobs, {})).toEqual({ released: 1 });
    expect((await acme.job(jobId)).status).toBe("pending");
    await t.finishAllScheduledFunctions(vi.runAllTimers); // the timer then finds nothing to do
    expect(await eventTypes(acme, jobId)).toEqual(["enqueued", "released"]);
  });

  test("the sweep leaves jobs not yet due alone", async () => {
    const jobId = await acme.enqueue({ delayMs: 5_000 });
    vi.setSystemTime(START + 4_999);
    expect(await t.mutation(internal.scheduling.sweepDueJobs, {})).toEqual({ released: 0 });
    expect((await acme.job(jobId)).status).toBe("scheduled");
  });

  test("children of complete-and-enqueue-children may be delayed too", async () => {
    await acme.enqueue();
    const workerId = await acme.worker("w1");
    const { jobId, claimGeneration } = await acme.claimJob(workerId);
    const { result } = await ok(acme.call, "/v1/jobs/complete-and-enqueue-children", {
      workspaceId: acme.workspaceId,
      jobId,
      workerId,
      claimGeneration,
      outcome: "done",
      idempotencyKey: "fan-out",
      children: [
        { repoId: acme.repoId, kind: "work", prompt: "later", delayMs: 30_000 },
        { repoId: acme.repoId, kind: "work", prompt: "now" },
      ],
    });
    const [later, now] = result.spawnedJobIds;
    expect((await acme.job(later)).status).toBe("scheduled");
    expect((await acme.job(now)).status).toBe("pending");
    await elapse(30_000);
    expect((await acme.job(later)).status).toBe("pending");
  });
});

const retryable = (fields: Json = {}) => ({
  version: 1,
  category: "failed",
  code: "rate_limited",
  retryable: true,
  ...fields,
});

describe("retry policy", () => {
  async function failAttempt(workerId: string, reason: Json | string) {
    const claimed = await acme.claimJob(workerId);
    const response = await ok(acme.call, "/v1/jobs/complete", {
      workspaceId: acme.workspaceId,
      jobId: claimed.jobId,
      workerId,
      claimGeneration: claimed.claimGeneration,
      outcome: "failed",
      outcomeReason: reason,
    });
    return response.result;
  }

  test("a retryable failure is rescheduled with back-off until maxAttempts, then final", async () => {
    const jobId = await acme.enqueue({
      maxAttempts: 3,
      retry: { backoff: "exponential", jitter: false, initialDelayMs: 10_000 },
    });
    const workerId = await acme.worker("w1");
    expect(await failAttempt(workerId, retryable())).toMatchObject({ jobId, status: "scheduled" });
    const first = await acme.job(jobId);
    expect(first).toMatchObject({ status: "scheduled", attempts: 1, availableAt: START + 10_000 });
    expect(first.claimedBy).toBeUndefined();
    expect(first.outcome).toBeUndefined();
    expect((await acme.events(jobId)).at(-1)).toMatchObject({
      type: "retry_scheduled",
      data: { cause: "failed", delayMs: 10_000, attempt: 1, outcomeReason: { code: "rate_limited" } },
    });
    expect(await acme.claim(workerId)).toMatchObject({ jobId: null, reason: "NO_JOBS" });
    await elapse(9_999);
    expect(await acme.claim(workerId)).toMatchObject({ jobId: null });
    await elapse(1);

    expect(await failAttempt(workerId, retryable())).toMatchObject({ status: "scheduled" });
    expect((await acme.job(jobId)).availableAt).toBe(START + 10_000 + 20_000);
    await elapse(20_000);

    expect(await failAttempt(workerId, retryable())).toMatchObject({ status: "failed" });
    expect(await acme.job(jobId)).toMatchObject({ status: "failed", attempts: 3, outcome: "failed" });
    expect(await eventTypes(acme, jobId)).toEqual([
      "enqueued",
      "claimed",
      "retry_scheduled",
      "released",
      "claimed",
      "retry_scheduled",
      "released",
      "claimed",
      "failed",
    ]);
  });

  test("recommendedDelayMs replaces the back-off, clamped to maxDelayMs", async () => {
    const jobId = await acme.enqueue({ retry: { backoff: "fixed", maxDelayMs: 60_000 } });
    const workerId = await acme.worker("w1");
    await failAttempt(workerId, retryable({ recommendedDelayMs: 45_000 }));
    expect((await acme.job(jobId)).availableAt).toBe(START + 45_000);
    await elapse(45_000);
    await failAttempt(workerId, retryable({ recommendedDelayMs: 86_400_000 }));
    expect((await acme.job(jobId)).availableAt).toBe(START + 45_000 + 60_000);
  });

  test("default jitter keeps the first delay within [5 s, 10 s]", async () => {
    const jobId = await acme.enqueue({ retry: { backoff: "exponential" } });
    const workerId = await acme.worker("w1");
    await failAttempt(workerId, retryable());
    const { availableAt } = await acme.job(jobId);
    expect(availableAt - START).toBeGreaterThanOrEqual(5_000);
    expect(availableAt - START).toBeLessThanOrEqual(10_000);
  });

  test("a non-retryable failure is final even with a policy; a retryable one is final without a policy", async () => {
    const structured = await acme.enqueue({ retry: { backoff: "fixed" }, prompt: "a" });
    const text = await acme.enqueue({ retry: { backoff: "fixed" }, prompt: "b" });
    const workerId = await acme.worker("w1");
    expect(await failAttempt(workerId, retryable({ retryable: false }))).toMatchObject({
      jobId: structured,
      status: "failed",
    });
    expect(await failAttempt(workerId, "plain text reason")).toMatchObject({ jobId: text, status: "failed" });
    expect((await acme.job(structured)).attempts).toBe(1);
    const noPolicy = await acme.enqueue({ prompt: "c" });
    expect(await failAttempt(workerId, retryable())).toMatchObject({ jobId: noPolicy, status: "failed" });
  });

  test("a lost lease backs off under the policy (10 s, then 20 s) instead of re-queuing at once", async () => {
    const jobId = await acme.enqueue({ retry: { backoff: "exponential", jitter: false } });
    const workerId = await acme.worker("w1");
    await acme.claimJob(workerId, { leaseMs: 10_000 });
    await elapse(10_000);
    expect(await acme.job(jobId)).toMatchObject({ status: "scheduled", availableAt: START + 20_000, attempts: 1 });
    expect((await acme.events(jobId)).at(-1)).toMatchObject({
      type: "retry_scheduled",
      data: { cause: "lease_expired", delayMs: 10_000, attempt: 1, workerId },
    });
    expectError(await acme.lease("heartbeat", jobId, workerId), 409, "LEASE_MISMATCH");
    await elapse(10_000);
    await acme.claimJob(workerId, { leaseMs: 10_000 });
    await elapse(10_000);
    expect((await acme.job(jobId)).availableAt).toBe(START + 30_000 + 20_000);
    await elapse(20_000);
    await acme.claimJob(workerId, { leaseMs: 10_000 });
    await elapse(10_000);
    expect(await acme.job(jobId)).toMatchObject({
      status: "failed",
      attempts: 3,
      outcomeReason: { code: "lease_expired" },
    });
  });

  test("without a policy a lost lease re-queues at once; with a cancel requested the job ends canceled", async () => {
    const plain = await acme.enqueue({ prompt: "plain" });
    const workerId = await acme.worker("w1");
    await acme.claimJob(workerId, { leaseMs: 10_000 });
    await elapse(10_000);
    expect((await acme.job(plain)).status).toBe("pending");
    await ok(acme.call, "/v1/jobs/cancel", { workspaceId: acme.workspaceId, jobId: plain });

    const withPolicy = await acme.enqueue({ prompt: "policy", retry: { backoff: "fixed" } });
    await acme.claimJob(workerId, { leaseMs: 10_000 });
    await ok(acme.call, "/v1/jobs/cancel", { workspaceId: acme.workspaceId, jobId: withPolicy });
    await elapse(10_000);
    expect((await acme.job(withPolicy)).status).toBe("canceled");
  });

  test("the policy is stored with its defaults and shown on the job", async () => {
    const jobId = await acme.enqueue({ retry: { backoff: "fixed", maxAttempts: 5 } });
    expect(await acme.job(jobId)).toMatchObject({
      maxAttempts: 5,
      retryPolicy: { backoff: "fixed", initialDelayMs: 10_000, maxDelayMs: 600_000, jitter: true },
    });
  });
});
