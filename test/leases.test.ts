/** Claiming and leases: matching, fencing, recovery, cancel of claimed jobs, complete-and-enqueue-children. */
import { beforeEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../convex/_generated/api";
import { MIN_LEASE_MS, MAX_LEASE_MS } from "../convex/model/leases";
import { expectError, ok } from "./support/api";
import { useFreshConvex, type Json } from "./support/harness";
import { eventTypes, queueWorkspace, type QueueWorkspace } from "./support/queue-fixtures";

const t = useFreshConvex();
let acme: QueueWorkspace;
beforeEach(async () => {
  acme = await queueWorkspace(t, "acme");
});

/** Moves the clock past `ms` and runs the scheduled functions that became due (lease timers). */
async function elapse(ms: number) {
  vi.advanceTimersByTime(ms);
  await t.finishInProgressScheduledFunctions();
}

describe("claim-next matching", () => {
  test("priority first, then age; each claim hands out a different job", async () => {
    const late = await acme.enqueue({ prompt: "low priority", priority: 5 });
    const first = await acme.enqueue({ prompt: "first normal" });
    const second = await acme.enqueue({ prompt: "second normal" });
    const urgent = await acme.enqueue({ prompt: "urgent", priority: -1 });
    const workerId = await acme.worker("w1");
    const order = [];
    for (let i = 0; i < 4; i++) order.push((await acme.claimJob(workerId)).jobId);
    expect(order).toEqual([urgent, first, second, late]);
    expect(await acme.claim(workerId)).toEqual({ ok: true, jobId: null, job: null, reason: "NO_JOBS" });
  });

  test("a job of a repo the worker does not serve is not handed out", async () => {
    const otherRepo = (
      await ok(acme.call, "/v1/repos/upsert", {
        workspaceId: acme.workspaceId,
        remoteUrlHash: "other",
        status: "active",
      })
    ).repoId;
    await acme.enqueue({ repoId: otherRepo });
    const workerId = await acme.worker("w1");
    expect(await acme.claim(workerId)).toMatchObject({ jobId: null, reason: "NO_JOBS" });
  });

  test("requirements: only a worker offering them gets the job, others skip it for plainer work", async () => {
    const needy = await acme.enqueue({ requirements: { model: "opus", canWrite: true }, priority: -5 });
    const plain = await acme.enqueue();
    const weak = await acme.worker("weak", { models: ["haiku"], canWrite: true });
    const strong = await acme.worker("strong", { models: ["opus"], canWrite: true });
    expect((await acme.claimJob(weak)).jobId).toBe(plain);
    expect(await acme.claim(weak)).toMatchObject({ jobId: null, reason: "NO_JOBS" });
    expect((await acme.claimJob(strong)).jobId).toBe(needy);
  });

  test("a draining or offline worker gets WORKER_NOT_ONLINE, an empty allowlist NO_REPOS_ALLOWED", async () => {
    await acme.enqueue();
    const draining = await acme.worker("d", {}, "draining");
    const offline = await acme.worker("o", {}, "offline");
    const noRepos = await acme.worker("n", { reposAllowed: [] });
    const unset = await ok(acme.call, "/v1/workers/heartbeat", {
      workspaceId: acme.workspaceId,
      displayName: "u",
      status: "online",
      capabilities: {},
    });
    expect(await acme.claim(draining)).toMatchObject({ jobId: null, job: null, reason: "WORKER_NOT_ONLINE" });
    expect(await acme.claim(offline)).toMatchObject({ reason: "WORKER_NOT_ONLINE" });
    expect(await acme.claim(noRepos)).toMatchObject({ reason: "NO_REPOS_ALLOWED" });
    expect(await acme.claim(unset.workerId)).toMatchObject({ reason: "NO_REPOS_ALLOWED" });
  });

  test("lanes are separate: cloud AI jobs only through /v1/cloud-ai-jobs, worker jobs only through /v1/jobs", async () => {
    const cloud = await acme.enqueue({ lane: "cloud_ai", prompt: "cloud" });
    const local = await acme.enqueue({ prompt: "local" });
    const workerId = await acme.worker("w1");
    expect((await acme.claimJob(workerId)).jobId).toBe(local);
    expect(await acme.claim(workerId)).toMatchObject({ reason: "NO_JOBS" });
    const claimed = await acme.claim(workerId, {}, "cloud-ai-jobs");
    expect(claimed).toMatchObject({ jobId: cloud, job: { lane: "cloud_ai" } });
    // The cloud AI lease routes refuse a worker-lane job by id.
    const body = { workspaceId: acme.workspaceId, jobId: local, workerId };
    expectError(await acme.call("/v1/cloud-ai-jobs/heartbeat", body), 404, "JOB_NOT_FOUND");
    const done = await ok(acme.call, "/v1/cloud-ai-jobs/complete", { ...body, jobId: cloud, outcome: "done" });
    expect(done.result).toEqual({ jobId: cloud, status: "done", idempotent: false });
  });

  test("the claim grants a clamped lease and bumps attempts and generation", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    await acme.enqueue();
    await acme.enqueue();
    const workerId = await acme.worker("w1");
    const short = await acme.claimJob(workerId, { leaseMs: 5 });
    expect(short).toMatchObject({
      claimGeneration: 1,
      leaseExpiresAt: 1_000_000 + MIN_LEASE_MS,
      job: { attempts: 1, status: "running", claimedBy: workerId },
    });
    const long = await acme.claimJob(workerId, { leaseMs: 10 * MAX_LEASE_MS });
    expect(long.leaseExpiresAt).toBe(1_000_000 + MAX_LEASE_MS);
    expect(Object.keys(short.job)).toEqual(
      expect.arrayContaining(["_id", "kind", "role", "prompt", "requirements", "repoId"]),
    );
  });
});

describe("lease fencing", () => {
  test("heartbeat, log and complete only from the claiming worker with the current generation", async () => {
    const jobId = await acme.enqueue();
    const owner = await acme.worker("owner");
    const intruder = await acme.worker("intruder");
    const { claimGeneration } = await acme.claimJob(owner);
    for (const [route, extra] of [
      ["heartbeat", {}],
      ["log", { lines: ["x"] }],
      ["complete", { outcome: "done" }],
    ] as const) {
      expectError(await acme.lease(route, jobId, intruder, extra), 409, "LEASE_MISMATCH");
      expectError(
        await acme.lease(route, jobId, owner, { ...extra, claimGeneration: claimGeneration + 1 }),
        409,
        "CLAIM_GENERATION_MISMATCH",
      );
    }
    expect(await acme.job(jobId)).toMatchObject({ status: "running", claimedBy: owner });
    const beat = await ok(acme.call, "/v1/jobs/heartbeat", {
      workspaceId: acme.workspaceId,
      jobId,
      workerId: owner,
      claimGeneration,
    });
    expect(beat.cancelRequested).toBe(false);
  });

  test("a repeated completion is idempotent; a different outcome afterwards is refused", async () => {
    const jobId = await acme.enqueue();
    const workerId = await acme.worker("w1");
    const { claimGeneration } = await acme.claimJob(workerId);
    const body = { claimGeneration, outcome: "done", evidence: { headSha: "abc" } };
    expect((await acme.lease("complete", jobId, workerId, body)).body.result).toEqual({
      jobId,
      status: "done",
      idempotent: false,
    });
    expect((await acme.lease("complete", jobId, workerId, body)).body.result).toEqual({
      jobId,
      status: "done",
      idempotent: true,
    });
    expectError(await acme.lease("complete", jobId, workerId, { ...body, outcome: "failed" }), 409, "LEASE_MISMATCH");
    expect(await eventTypes(acme, jobId)).toEqual(["enqueued", "claimed", "completed"]);
    expect(await acme.job(jobId)).toMatchObject({ outcome: "done", evidence: { headSha: "abc" } });
  });

  test("only the same worker and generation get idempotent: true for a finished job", async () => {
    const jobId = await acme.enqueue();
    const first = await acme.worker("first");
    const second = await acme.worker("second");
    const firstClaim = await acme.claimJob(first);
    await ok(acme.call, "/v1/jobs/complete", {
      workspaceId: acme.workspaceId,
      jobId,
      workerId: first,
      claimGeneration: firstClaim.claimGeneration,
      outcome: "failed",
    });
    // Retried and finished again, by `second` this time, in generation 2.
    await ok(acme.call, "/v1/jobs/retry", { workspaceId: acme.workspaceId, jobId });
    const secondClaim = await acme.claimJob(second);
    expect(secondClaim.claimGeneration).toBe(firstClaim.claimGeneration + 1);
    const done = { outcome: "done", claimGeneration: secondClaim.claimGeneration };
    expect((await acme.lease("complete", jobId, second, done)).body.result.idempotent).toBe(false);

    // Another worker resending the same completion, or the first worker its stale generation.
    expectError(await acme.lease("complete", jobId, first, done), 409, "LEASE_MISMATCH");
    const stale = await acme.lease("complete", jobId, second, { ...done, claimGeneration: firstClaim.claimGeneration });
    expect(stale.status).toBe(409);
    expect(["LEASE_MISMATCH", "CLAIM_GENERATION_MISMATCH"]).toContain(stale.body.error);
    expect((await acme.lease("complete", jobId, second, done)).body.result.idempotent).toBe(true);
    expect((await acme.lease("complete", jobId, second, { outcome: "done" })).body.result.idempotent).toBe(true);
  });

  test("a log call holds at most 500 lines and 65,536 bytes (pinned by value)", async () => {
    const jobId = await acme.enqueue();
    const workerId = await acme.worker("w1");
    await acme.claimJob(workerId);
    const log = (lines: string[]) => acme.lease("log", jobId, workerId, { lines });
    expect((await log(new Array(500).fill("x"))).body).toEqual({ ok: true, appended: 500 });
    expectError(await log(new Array(501).fill("x")), 400, "INVALID_REQUEST");
    // 64 KiB exactly, counted in UTF-8 bytes: 16 lines of 4,096 bytes ("é" is 2 bytes).
    expect((await log(new Array(16).fill("é".repeat(2_048)))).body).toEqual({ ok: true, appended: 16 });
    expectError(await log([...new Array(15).fill("é".repeat(2_048)), `${"é".repeat(2_048)}x`]), 400, "INVALID_REQUEST");
    expect(await eventTypes(acme, jobId)).toEqual(["enqueued", "claimed", "log", "log"]);
  });

  test("a heartbeat without leaseMs extends by the claim's lease, not the 600,000 ms default", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: 9_000_000 });
    const jobId = await acme.enqueue();
    const workerId = await acme.worker("w1");
    await acme.claimJob(workerId, { leaseMs: 30_000 });
    vi.setSystemTime(9_005_000);
    const beat = await ok(acme.call, "/v1/jobs/heartbeat", { workspaceId: acme.workspaceId, jobId, workerId });
    expect(beat.leaseExpiresAt).toBe(9_035_000);
    const longer = await acme.lease("heartbeat", jobId, workerId, { leaseMs: 45_000 });
    expect(longer.body.leaseExpiresAt).toBe(9_050_000);
    vi.setSystemTime(9_010_000);
    const again = await ok(acme.call, "/v1/jobs/heartbeat", { workspaceId: acme.workspaceId, jobId, workerId });
    expect(again.leaseExpiresAt).toBe(9_040_000);
  });

  test("a heartbeat that arrives after expiry loses the lease and recovers the job in that call", async () => {
    vi.useFakeTimers({ now: 5_000_000 });
    const jobId = await acme.enqueue();
    const workerId = await acme.worker("w1");
    const { claimGeneration } = await acme.claimJob(workerId, { leaseMs: MIN_LEASE_MS });
    vi.advanceTimersByTime(MIN_LEASE_MS); // the lease timer has not run yet
    expectError(await acme.lease("heartbeat", jobId, workerId, { claimGeneration }), 409, "LEASE_MISMATCH");
    expect(await acme.job(jobId)).toMatchObject({ status: "pending", attempts: 1 });
    expect(await eventTypes(acme, jobId)).toEqual(["enqueued", "claimed", "recovered"]);
    await t.finishInProgressScheduledFunctions(); // the timer then finds nothing to do
    expect(await eventTypes(acme, jobId)).toHaveLength(3);
  });
});

describe("recovery", () => {
  test("a worker that stops heartbeating loses the job once; its late calls are refused", async () => {
    vi.useFakeTimers({ now: 10_000_000 });
    const jobId = await acme.enqueue();
    const first = await acme.worker("first");
    const second = await acme.worker("second");
    const claim = await acme.claimJob(first, { leaseMs: MIN_LEASE_MS });
    await elapse(MIN_LEASE_MS + 1);
    const recovered = await acme.job(jobId);
    expect(recovered).toMatchObject({ status: "pending", attempts: 1, claimGeneration: 1 });
    expect(recovered.claimedBy).toBeUndefined();
    const events = await acme.events(jobId);
    expect(events.filter((event) => event.type === "recovered")).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({
      type: "recovered",
      data: { workerId: first, claimGeneration: 1, attempt: 1, status: "pending" },
    });

    const reclaimed = await acme.claimJob(second);
    expect(reclaimed).toMatchObject({ jobId, claimGeneration: 2, job: { attempts: 2 } });
    expectError(
      await acme.lease("heartbeat", jobId, first, { claimGeneration: claim.claimGeneration }),
      409,
      "LEASE_MISMATCH",
    );
    expectError(
      await acme.lease("complete", jobId, first, { claimGeneration: claim.claimGeneration, outcome: "done" }),
      409,
      "LEASE_MISMATCH",
    );
    // The same worker coming back with a stale generation after claiming again is fenced too.
    await ok(acme.call, "/v1/jobs/complete", {
      workspaceId: acme.workspaceId,
      jobId,
      workerId: second,
      outcome: "failed",
    });
    await ok(acme.call, "/v1/jobs/retry", { workspaceId: acme.workspaceId, jobId });
    const third = await acme.claimJob(second);
    expectError(
      await acme.lease("complete", jobId, second, { claimGeneration: 2, outcome: "done" }),
      409,
      "CLAIM_GENERATION_MISMATCH",
    );
    expect(third.claimGeneration).toBe(3);
  });

  test("a long job that keeps heartbeating is never recovered", async () => {
    vi.useFakeTimers({ now: 20_000_000 });
    const jobId = await acme.enqueue();
    const workerId = await acme.worker("w1");
    const { claimGeneration } = await acme.claimJob(workerId, { leaseMs: MIN_LEASE_MS });
    for (let beat = 0; beat < 30; beat++) {
      await elapse(MIN_LEASE_MS / 3);
      await ok(acme.call, "/v1/jobs/heartbeat", { workspaceId: acme.workspaceId, jobId, workerId, claimGeneration });
      await t.mutation(internal.recovery.sweepExpiredLeases, {});
    }
    expect(await acme.job(jobId)).toMatchObject({ status: "running", attempts: 1 });
    expect(await eventTypes(acme, jobId)).not.toContain("recovered");
    // Only one lease timer is pending however often it heartbeat (it re-arms itself when it fires early).
    const timers = await t.run((ctx) => ctx.db.system.query("_scheduled_functions").collect());
    expect(timers.filter((timer) => timer.state.kind === "pending")).toHaveLength(1);
  });

  test("a poison job that keeps losing its lease ends failed after maxAttempts, every attempt in the timeline", async () => {
    vi.useFakeTimers({ now: 30_000_000 });
    const jobId = await acme.enqueue({ maxAttempts: 3 });
    const workerId = await acme.worker("w1");
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect((await acme.claimJob(workerId, { leaseMs: MIN_LEASE_MS })).job.attempts).toBe(attempt);
      await elapse(MIN_LEASE_MS);
    }
    expect(await acme.job(jobId)).toMatchObject({
      status: "failed",
      attempts: 3,
      outcomeReason: { version: 1, category: "failed", code: "lease_expired", retryable: false },
    });
    const events = await acme.events(jobId);
    expect(events.map((event) => event.type)).toEqual([
      "enqueued",
      "claimed",
      "recovered",
      "claimed",
      "recovered",
      "claimed",
      "recovered",
    ]);
    expect(events.filter((event) => event.type === "recovered").map((event) => event.data.status)).toEqual([
      "pending",
      "pending",
      "failed",
    ]);
    expect(await acme.claim(workerId)).toMatchObject({ reason: "NO_JOBS" });
  });

  test("the timer of a lost claim does nothing to the job's next claim", async () => {
    vi.useFakeTimers({ now: 36_000_000 });
    const jobId = await acme.enqueue();
    const first = await acme.worker("first");
    const second = await acme.worker("second");
    const { claimGeneration } = await acme.claimJob(first, { leaseMs: MIN_LEASE_MS });
    vi.setSystemTime(36_000_000 + MIN_LEASE_MS); // expired; moving the clock alone fires no timer
    expectError(await acme.lease("heartbeat", jobId, first, { claimGeneration }), 409, "LEASE_MISMATCH");
    await acme.claimJob(second, { leaseMs: 10 * MIN_LEASE_MS });
    await elapse(MIN_LEASE_MS); // the first claim's timer fires now
    expect(await acme.job(jobId)).toMatchObject({ status: "running", claimedBy: second, claimGeneration: 2 });
    const timers = await t.run((ctx) => ctx.db.system.query("_scheduled_functions").collect());
    expect(timers.filter((timer) => timer.state.kind === "pending")).toHaveLength(1);
  });

  test("the timer of a finished job does nothing", async () => {
    vi.useFakeTimers({ now: 35_000_000 });
    const finished = await acme.enqueue();
    const workerId = await acme.worker("w1");
    await acme.claimJob(workerId, { leaseMs: MIN_LEASE_MS });
    await ok(acme.call, "/v1/jobs/complete", {
      workspaceId: acme.workspaceId,
      jobId: finished,
      workerId,
      outcome: "done",
    });
    await elapse(MIN_LEASE_MS * 2);
    expect(await acme.job(finished)).toMatchObject({ status: "done" });
    expect(await eventTypes(acme, finished)).toEqual(["enqueued", "claimed", "completed"]);
  });

  test("the cron sweep recovers leases whose timers were lost", async () => {
    const jobIds = [await acme.enqueue(), await acme.enqueue()];
    const workerId = await acme.worker("w1");
    await acme.claimJob(workerId);
    await acme.claimJob(workerId);
    // Backdate both leases and drop their timers, as after a crash.
    await t.run(async (ctx) => {
      for (const jobId of jobIds) await ctx.db.patch(jobId as never, { leaseExpiresAt: Date.now() - 1 });
      for (const timer of await ctx.db.system.query("_scheduled_functions").collect())
        await ctx.scheduler.cancel(timer._id);
    });
    expect(await t.mutation(internal.recovery.sweepExpiredLeases, {})).toEqual({ recovered: 2 });
    for (const jobId of jobIds) expect(await acme.job(jobId)).toMatchObject({ status: "pending" });
    expect(await t.mutation(internal.recovery.sweepExpiredLeases, {})).toEqual({ recovered: 0 });
  });

  test("the sweep recovers a lease expiring exactly now, and not one a millisecond later", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: 7_000_000 });
    await acme.enqueue();
    const workerId = await acme.worker("w1");
    const { jobId, leaseExpiresAt } = await acme.claimJob(workerId, { leaseMs: 10_000 });
    vi.setSystemTime(leaseExpiresAt - 1);
    expect(await t.mutation(internal.recovery.sweepExpiredLeases, {})).toEqual({ recovered: 0 });
    vi.setSystemTime(leaseExpiresAt);
    expect(await t.mutation(internal.recovery.sweepExpiredLeases, {})).toEqual({ recovered: 1 });
    expect(await acme.job(jobId)).toMatchObject({ status: "pending" });
  });
});

describe("cancel of a claimed job", () => {
  test("the flag reaches the worker on heartbeat; completing canceled ends it", async () => {
    const jobId = await acme.enqueue();
    const workerId = await acme.worker("w1");
    const { claimGeneration } = await acme.claimJob(workerId);
    const { job } = await ok(acme.call, "/v1/jobs/cancel", {
      workspaceId: acme.workspaceId,
      jobId,
      reason: "wrong branch",
    });
    expect(job).toMatchObject({ status: "running", cancelRequested: true });
    await ok(acme.call, "/v1/jobs/cancel", { workspaceId: acme.workspaceId, jobId }); // twice is harmless
    const beat = await ok(acme.call, "/v1/jobs/heartbeat", {
      workspaceId: acme.workspaceId,
      jobId,
      workerId,
      claimGeneration,
    });
    expect(beat.cancelRequested).toBe(true);
    const done = await ok(acme.call, "/v1/jobs/complete", {
      workspaceId: acme.workspaceId,
      jobId,
      workerId,
      claimGeneration,
      outcome: "canceled",
    });
    expect(done.result).toMatchObject({ status: "canceled" });
    expect(await eventTypes(acme, jobId)).toEqual(["enqueued", "claimed", "cancel_requested", "canceled"]);
  });

  test("when the lease runs out instead, the job ends canceled, not pending", async () => {
    vi.useFakeTimers({ now: 40_000_000 });
    const jobId = await acme.enqueue();
    const workerId = await acme.worker("w1");
    await acme.claimJob(workerId, { leaseMs: MIN_LEASE_MS });
    await ok(acme.call, "/v1/jobs/cancel", { workspaceId: acme.workspaceId, jobId });
    await elapse(MIN_LEASE_MS);
    expect(await acme.job(jobId)).toMatchObject({
      status: "canceled",
      outcomeReason: { version: 1, category: "canceled", code: "lease_expired", retryable: false },
    });
  });
});

describe("complete-and-enqueue-children", () => {
  async function claimed() {
    const jobId = await acme.enqueue({ prompt: "plan" });
    const workerId = await acme.worker("w1");
    const { claimGeneration } = await acme.claimJob(workerId);
    const body = (children: Json[], key = "plan-done") => ({
      workspaceId: acme.workspaceId,
      jobId,
      workerId,
      claimGeneration,
      outcome: "done",
      idempotencyKey: key,
      children,
    });
    return { jobId, workerId, body };
  }

  test("spawns the children once, however often it is repeated", async () => {
    const { jobId, body } = await claimed();
    const children = [
      { repoId: acme.repoId, kind: "work", prompt: "step 1" },
      { repoId: acme.repoId, kind: "pr_review", prompt: "step 2", priority: -1 },
    ];
    const first = await ok(acme.call, "/v1/jobs/complete-and-enqueue-children", body(children));
    expect(first.result).toMatchObject({ jobId, status: "done", idempotent: false });
    expect(first.result.spawnedJobIds).toHaveLength(2);
    for (let i = 0; i < 3; i++) {
      const again = await ok(acme.call, "/v1/jobs/complete-and-enqueue-children", body(children));
      expect(again.result).toEqual({ ...first.result, idempotent: true });
    }
    const all = (await ok(acme.call, "/v1/jobs/list", { workspaceId: acme.workspaceId })).jobs;
    expect(all).toHaveLength(3);
    const child = await acme.job(first.result.spawnedJobIds[1]);
    expect(child).toMatchObject({ parentJobId: jobId, kind: "pr_review", status: "pending", priority: -1 });
  });

  test("all or nothing: one bad child leaves the job claimed and spawns nothing", async () => {
    const { jobId, body } = await claimed();
    const other = await queueWorkspace(t, "other");
    const response = await acme.call(
      "/v1/jobs/complete-and-enqueue-children",
      body([
        { repoId: acme.repoId, kind: "work", prompt: "fine" },
        { repoId: other.repoId, kind: "work", prompt: "foreign repo" },
      ]),
    );
    expectError(response, 404, "REPO_NOT_FOUND");
    expect(await acme.job(jobId)).toMatchObject({ status: "running" });
    expect((await ok(acme.call, "/v1/jobs/list", { workspaceId: acme.workspaceId })).jobs).toHaveLength(1);
  });

  test("after a retry, the next attempt may complete with the same key and spawns its own children", async () => {
    const { jobId, workerId, body } = await claimed();
    const child = [{ repoId: acme.repoId, kind: "work", prompt: "follow-up" }];
    await ok(acme.call, "/v1/jobs/complete-and-enqueue-children", { ...body(child), outcome: "failed" });
    await ok(acme.call, "/v1/jobs/retry", { workspaceId: acme.workspaceId, jobId });
    const again = await acme.claimJob(workerId);
    expect(again.jobId).toBe(jobId);
    const second = await ok(acme.call, "/v1/jobs/complete-and-enqueue-children", {
      ...body(child),
      claimGeneration: again.claimGeneration,
    });
    expect(second.result).toMatchObject({ status: "done", idempotent: false });
    expect(second.result.spawnedJobIds).toHaveLength(1);
  });

  test("the same key with another outcome is refused, and nothing changes", async () => {
    const { jobId, body } = await claimed();
    const child = [{ repoId: acme.repoId, kind: "work", prompt: "follow-up" }];
    const first = await ok(acme.call, "/v1/jobs/complete-and-enqueue-children", body(child));
    const response = await acme.call("/v1/jobs/complete-and-enqueue-children", { ...body(child), outcome: "failed" });
    expectError(response, 409, "IDEMPOTENCY_KEY_REUSED");
    expect(await acme.job(jobId)).toMatchObject({ status: "done", spawnedJobIds: first.result.spawnedJobIds });
  });

  test("another worker resending a used key gets LEASE_MISMATCH, not the first answer", async () => {
    const { jobId, workerId, body } = await claimed();
    await ok(acme.call, "/v1/jobs/complete-and-enqueue-children", body([]));
    const intruder = await acme.worker("intruder");
    expectError(
      await acme.call("/v1/jobs/complete-and-enqueue-children", { ...body([]), workerId: intruder }),
      409,
      "LEASE_MISMATCH",
    );
    const repeated = await ok(acme.call, "/v1/jobs/complete-and-enqueue-children", body([]));
    expect(repeated.result).toMatchObject({ jobId, idempotent: true });
    expect(workerId).not.toBe(intruder);
  });

  test("the key of another completion is refused", async () => {
    const { body } = await claimed();
    await ok(acme.call, "/v1/jobs/complete-and-enqueue-children", body([]));
    const otherJob = await acme.enqueue({ prompt: "second" });
    const workerId = await acme.worker("w2");
    await acme.claimJob(workerId);
    const response = await acme.call("/v1/jobs/complete-and-enqueue-children", {
      ...body([]),
      jobId: otherJob,
      workerId,
      claimGeneration: 1,
    });
    expectError(response, 409, "IDEMPOTENCY_KEY_REUSED");
  });
});

test("a job changed behind the queue's back is not handed out, and the next one is", async () => {
  const edited = await acme.enqueue({ prompt: "edited by hand", priority: -1 });
  const next = await acme.enqueue({ prompt: "next in line" });
  await t.run((ctx) => ctx.db.patch(edited as never, { status: "done" }));
  const workerId = await acme.worker("w1");
  expect((await acme.claimJob(workerId)).jobId).toBe(next);
  expect(await acme.claim(workerId)).toMatchObject({ reason: "NO_JOBS" });
});

/** `depth` objects, each holding the next one under `a`. */
function nestedObject(depth: number): unknown {
  return JSON.parse(`${'{"a":'.repeat(depth - 1)}{}${"}".repeat(depth - 1)}`);
}

test.each([
  ["a key starting with $", { $where: 1 }, "evidence.$where"],
  ["a nested non-ASCII key", { files: [{ "naïve.ts": "changed" }] }, "evidence.files.0.naïve.ts"],
  ["a control character in a key", { "tab\there": 1 }, "evidence.tab\there"],
  ["nesting 16 deep (the job document is a 17th level)", nestedObject(16), `evidence${".a".repeat(15)}`],
  ["an array of 8,193 items", { files: Array.from({ length: 8_193 }, () => 1) }, "evidence.files"],
  ["an object with 1,025 keys", Object.fromEntries(Array.from({ length: 1_025 }, (_, i) => [`k${i}`, i])), "evidence"],
])(
  "evidence Convex cannot store (%s) is a 400 naming the field and the job stays claimed",
  async (_name, evidence, path) => {
    const jobId = await acme.enqueue();
    const workerId = await acme.worker("w1");
    await acme.claimJob(workerId);
    const response = await acme.lease("complete", jobId, workerId, { outcome: "done", evidence });
    expectError(response, 400, "INVALID_REQUEST");
    expect(response.body.issues[0].path).toBe(path);
    expect(response.body.message).toMatch(/^evidence/);
    expect(await acme.job(jobId)).toMatchObject({ status: "running" });
  },
);

test("evidence Convex can store is kept as sent: empty and _ keys in nested objects, 15 levels deep", async () => {
  const jobId = await acme.enqueue();
  const workerId = await acme.worker("w1");
  await acme.claimJob(workerId);
  const evidence = { "": 1, _id: "not a system field down here", deep: nestedObject(14) };
  await ok(acme.call, "/v1/jobs/complete", {
    workspaceId: acme.workspaceId,
    jobId,
    workerId,
    outcome: "done",
    evidence,
  });
  expect((await acme.job(jobId)).evidence).toEqual(evidence);
});

test("evidence of 246 KB of JSON numbers (1.1 MB as Convex counts) is a 400, not a 500 from the write", async () => {
  const jobId = await acme.enqueue();
  const workerId = await acme.worker("w1");
  await acme.claimJob(workerId);
  const evidence = { numbers: Array.from({ length: 15 }, () => Array.from({ length: 8_192 }, () => 1)) };
  expect(JSON.stringify(evidence).length).toBeLessThan(250_000);
  const response = await acme.lease("complete", jobId, workerId, { outcome: "done", evidence });
  expectError(response, 400, "INVALID_REQUEST");
  expect(response.body.issues[0].path).toBe("evidence");
  expect(response.body.message).toMatch(/bytes as Convex counts them/);
  expect(await acme.job(jobId)).toMatchObject({ status: "running" });
});

test("a completion whose fields fit alone but not together in the job's 1 MiB is a 400 naming the largest", async () => {
  const prompt = "p".repeat(60_000);
  const jobId = await acme.enqueue({ prompt });
  const workerId = await acme.worker("w1");
  await acme.claimJob(workerId);
  // 110,000 numbers: 990,002 bytes as Convex counts them, under 1 MiB alone; the prompt tips it over.
  const evidence = { numbers: Array.from({ length: 14 }, (_, i) => new Array(i < 13 ? 8_192 : 3_504).fill(7)) };
  const response = await acme.lease("complete", jobId, workerId, { outcome: "done", evidence, message: "m" });
  expectError(response, 400, "INVALID_REQUEST");
  expect(response.body.issues[0].path).toBe("evidence");
  expect(response.body.message).toMatch(/at most 1048576/);
  expect(await acme.job(jobId)).toMatchObject({ status: "running" });
});

test("requirement values are capped in bytes, whichever way a job is enqueued", async () => {
  const body = {
    workspaceId: acme.workspaceId,
    repoId: acme.repoId,
    kind: "work",
    prompt: "p",
    requirements: { model: "é".repeat(101) },
  };
  const response = await acme.call("/v1/jobs/enqueue", body);
  expectError(response, 400, "INVALID_REQUEST");
  expect(response.body.issues[0].path).toBe("requirements.model");
  const { workspaceId: _workspace, ...fields } = body;
  const viaConsole = t.withIdentity(acme.member.identity).mutation(api.jobsConsole.enqueue, {
    ...fields,
    kind: "work",
    workspaceId: acme.workspaceId,
    requirements: { model: "m".repeat(450_000) },
  });
  await expect(viaConsole).rejects.toThrow(/at most 200 bytes/);
});

test("an internal failure answers 500 INTERNAL_ERROR with the request id, and logs no stack", async () => {
  // A pending job edited by hand so that its stream key no longer says what it requires.
  const edited = await acme.enqueue({ requirements: { model: "m0" } });
  await t.run((ctx) => ctx.db.patch(edited as never, { requirementsKey: "{}" }));
  const workerId = await acme.worker("w1", { models: ["m0", "m1", "m2", "m3", "m4"] });
  const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
  const response = await acme.call("/v1/jobs/claim-next", { workspaceId: acme.workspaceId, workerId });
  expect(response.status).toBe(500);
  expect(response.body).toEqual({
    ok: false,
    error: "INTERNAL_ERROR",
    message: expect.stringMatching(/request [\w-]+/),
  });
  expect(response.body.message).not.toMatch(/claim stream|\.ts:\d+|\n/);
  const lines = logged.mock.calls.map((call) => call.join(" ")).join("\n");
  expect(lines).toMatch(/claim-next failed: Error: Job \w+ is out of step with its claim stream/);
  expect(lines).not.toMatch(/\n\s+at /);
  logged.mockRestore();
});
