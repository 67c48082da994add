/** Job routes without leases: enqueue, idempotency, get, list, events, cancel, retry, isolation. */
import { beforeEach, describe, expect, test } from "vitest";
import { api } from "../convex/_generated/api";
import { caller, expectError, ok } from "./support/api";
import { SERVICE_TOKEN } from "./support/fixtures";
import { useFreshConvex, type Json } from "./support/harness";
import { eventTypes, queueWorkspace, type QueueWorkspace } from "./support/queue-fixtures";

const t = useFreshConvex();
let acme: QueueWorkspace;
beforeEach(async () => {
  acme = await queueWorkspace(t, "acme");
});

describe("enqueue", () => {
  test("defaults: role implementer, priority 0, 3 attempts, worker lane, no requirements", async () => {
    const jobId = await acme.enqueue({ repoId: `repos/${acme.repoId}` });
    const job = await acme.job(jobId);
    expect(job).toMatchObject({
      _id: jobId,
      repoId: acme.repoId,
      kind: "work",
      role: "implementer",
      prompt: "Do the thing",
      requirements: {},
      priority: 0,
      lane: "worker",
      status: "pending",
      attempts: 0,
      maxAttempts: 3,
      claimGeneration: 0,
      cancelRequested: false,
    });
    expect(job).not.toHaveProperty("requirementsKey");
    expect(await eventTypes(acme, jobId)).toEqual(["enqueued"]);
  });

  test.each([
    ["an unknown requirement", { requirements: { gpu: true } }, "requirements"],
    ["an unknown kind", { kind: "dance" }, "kind"],
    ["a prompt over 64 KiB", { prompt: "é".repeat(32 * 1024 + 1) }, "prompt"],
    ["an empty prompt", { prompt: "" }, "prompt"],
    ["a fractional priority", { priority: 1.5 }, "priority"],
    ["zero attempts", { maxAttempts: 0 }, "maxAttempts"],
    ["an unknown lane", { lane: "gpu" }, "lane"],
    ["a malformed repo id", { repoId: "not-an-id" }, "repoId"],
  ])("%s is a 400 naming the field, and nothing is stored", async (_name, fields, path) => {
    const response = await acme.call("/v1/jobs/enqueue", {
      workspaceId: acme.workspaceId,
      repoId: acme.repoId,
      kind: "work",
      prompt: "p",
      ...fields,
    });
    expectError(response, 400, "INVALID_REQUEST");
    expect(response.body.issues.map((issue: Json) => issue.path)).toContain(path);
    expect((await ok(acme.call, "/v1/jobs/list", { workspaceId: acme.workspaceId })).jobs).toEqual([]);
  });

  test("a repo or run of another workspace answers like a missing one", async () => {
    const other = await queueWorkspace(t, "other");
    const otherRun = await ok(other.call, "/v1/runs/upsert", {
      workspaceId: other.workspaceId,
      repoId: other.repoId,
      runRef: "r",
      status: "queued",
    });
    expectError(
      await acme.call("/v1/jobs/enqueue", {
        workspaceId: acme.workspaceId,
        repoId: other.repoId,
        kind: "work",
        prompt: "p",
      }),
      404,
      "REPO_NOT_FOUND",
    );
    expectError(
      await acme.call("/v1/jobs/enqueue", {
        workspaceId: acme.workspaceId,
        repoId: acme.repoId,
        runId: otherRun.runId,
        kind: "work",
        prompt: "p",
      }),
      404,
      "RUN_NOT_FOUND",
    );
  });

  test("an idempotency key makes one job; another payload under it is refused", async () => {
    const first = await ok(acme.call, "/v1/jobs/enqueue", {
      workspaceId: acme.workspaceId,
      repoId: acme.repoId,
      kind: "work",
      prompt: "p",
      idempotencyKey: "k1",
    });
    const again = await ok(acme.call, "/v1/jobs/enqueue", {
      workspaceId: acme.workspaceId,
      repoId: acme.repoId,
      kind: "work",
      prompt: "p",
      idempotencyKey: "k1",
    });
    expect(first.deduplicated).toBe(false);
    expect(again).toMatchObject({ jobId: first.jobId, deduplicated: true });
    const changed = await acme.call("/v1/jobs/enqueue", {
      workspaceId: acme.workspaceId,
      repoId: acme.repoId,
      kind: "work",
      prompt: "other",
      idempotencyKey: "k1",
    });
    expectError(changed, 409, "IDEMPOTENCY_KEY_REUSED");
  });

  test("concurrent enqueues with one key make one job", async () => {
    const body = {
      workspaceId: acme.workspaceId,
      repoId: acme.repoId,
      kind: "work",
      prompt: "p",
      idempotencyKey: "burst",
    };
    const answers = await Promise.all(Array.from({ length: 12 }, () => ok(acme.call, "/v1/jobs/enqueue", body)));
    expect(new Set(answers.map((answer) => answer.jobId)).size).toBe(1);
    expect(answers.filter((answer) => !answer.deduplicated)).toHaveLength(1);
    expect((await ok(acme.call, "/v1/jobs/list", { workspaceId: acme.workspaceId })).jobs).toHaveLength(1);
  });

  test("the same key in two workspaces makes two jobs", async () => {
    const other = await queueWorkspace(t, "other");
    const mine = await acme.enqueue({ idempotencyKey: "shared" });
    const theirs = await other.enqueue({ idempotencyKey: "shared" });
    expect(mine).not.toBe(theirs);
  });
});

describe("list", () => {
  test("newest first, paged by cursor to the end", async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await acme.enqueue({ prompt: `job ${i}` }));
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 5; page++) {
      const body = await ok(acme.call, "/v1/jobs/list", {
        workspaceId: acme.workspaceId,
        limit: 2,
        ...(cursor ? { cursor } : {}),
      });
      seen.push(...body.jobs.map((job: Json) => job._id));
      if (body.nextCursor === null) break;
      cursor = body.nextCursor;
    }
    expect(seen).toEqual([...ids].reverse());
  });

  test("filters by status, repo and run", async () => {
    const otherRepo = (
      await ok(acme.call, "/v1/repos/upsert", {
        workspaceId: acme.workspaceId,
        remoteUrlHash: "second",
        status: "active",
      })
    ).repoId;
    const run = await ok(acme.call, "/v1/runs/upsert", {
      workspaceId: acme.workspaceId,
      repoId: acme.repoId,
      runRef: "r1",
      status: "in_progress",
    });
    const inRun = await acme.enqueue({ runId: run.runId });
    const canceled = await acme.enqueue();
    const elsewhere = await acme.enqueue({ repoId: otherRepo });
    await ok(acme.call, "/v1/jobs/cancel", { workspaceId: acme.workspaceId, jobId: canceled });
    const list = async (filters: Json) =>
      (await ok(acme.call, "/v1/jobs/list", { workspaceId: acme.workspaceId, ...filters })).jobs.map(
        (job: Json) => job._id,
      );

    expect(await list({ status: "canceled" })).toEqual([canceled]);
    expect(await list({ status: "pending" })).toEqual([elsewhere, inRun]);
    expect(await list({ repoId: otherRepo })).toEqual([elsewhere]);
    expect(await list({ repoId: acme.repoId, status: "pending" })).toEqual([inRun]);
    expect(await list({ runId: run.runId })).toEqual([inRun]);
    expect(await list({ runId: run.runId, status: "done" })).toEqual([]);
  });

  test("limit bounds, unknown status and a forged cursor are 400s", async () => {
    for (const body of [{ limit: 0 }, { limit: 201 }, { status: "lost" }, { cursor: "garbage" }]) {
      expectError(await acme.call("/v1/jobs/list", { workspaceId: acme.workspaceId, ...body }), 400, "INVALID_REQUEST");
    }
  });
});

describe("events", () => {
  test("seq counts from 1 per job, oldest first, paged with afterSeq", async () => {
    const jobId = await acme.enqueue();
    const workerId = await acme.worker("w1");
    const { claimGeneration } = await acme.claimJob(workerId);
    await ok(acme.call, "/v1/jobs/log", {
      workspaceId: acme.workspaceId,
      jobId,
      workerId,
      claimGeneration,
      lines: ["a", "b"],
    });
    await ok(acme.call, "/v1/jobs/heartbeat", { workspaceId: acme.workspaceId, jobId, workerId, message: "halfway" });
    await ok(acme.call, "/v1/jobs/heartbeat", { workspaceId: acme.workspaceId, jobId, workerId });
    await ok(acme.call, "/v1/jobs/complete", { workspaceId: acme.workspaceId, jobId, workerId, outcome: "done" });

    const all = await acme.events(jobId);
    expect(all.map((event) => [event.seq, event.type])).toEqual([
      [1, "enqueued"],
      [2, "claimed"],
      [3, "log"],
      [4, "heartbeat"],
      [5, "completed"],
    ]);
    expect(all[2]!.data).toEqual({ lines: ["a", "b"] });
    expect(all[3]!.message).toBe("halfway");
    const page = await acme.events(jobId, { afterSeq: 2, limit: 2 });
    expect(page.map((event) => event.seq)).toEqual([3, 4]);
  });

  test("another workspace's job is JOB_NOT_FOUND", async () => {
    const other = await queueWorkspace(t, "other");
    const theirs = await other.enqueue();
    expectError(
      await acme.call("/v1/job-events/list-for-job", { workspaceId: acme.workspaceId, jobId: theirs }),
      404,
      "JOB_NOT_FOUND",
    );
  });
});

describe("cancel and retry", () => {
  test("a pending job is canceled at once and leaves the queue", async () => {
    const jobId = await acme.enqueue();
    const { job } = await ok(acme.call, "/v1/jobs/cancel", {
      workspaceId: acme.workspaceId,
      jobId,
      reason: "not needed",
    });
    expect(job).toMatchObject({
      status: "canceled",
      outcomeReason: { version: 1, category: "canceled", code: "canceled", retryable: false, summary: "not needed" },
    });
    const workerId = await acme.worker("w1");
    expect(await acme.claim(workerId)).toMatchObject({ jobId: null, reason: "NO_JOBS" });
    expect(await eventTypes(acme, jobId)).toEqual(["enqueued", "canceled"]);
  });

  test("a finished job cannot be canceled; a pending or claimed one cannot be retried", async () => {
    const jobId = await acme.enqueue();
    expectError(await acme.call("/v1/jobs/retry", { workspaceId: acme.workspaceId, jobId }), 409, "INVALID_JOB_STATE");
    const workerId = await acme.worker("w1");
    await acme.claimJob(workerId);
    expectError(await acme.call("/v1/jobs/retry", { workspaceId: acme.workspaceId, jobId }), 409, "INVALID_JOB_STATE");
    await ok(acme.call, "/v1/jobs/complete", { workspaceId: acme.workspaceId, jobId, workerId, outcome: "done" });
    expectError(await acme.call("/v1/jobs/cancel", { workspaceId: acme.workspaceId, jobId }), 409, "INVALID_JOB_STATE");
  });

  test.each(["failed", "blocked", "canceled"])(
    "retry of a %s job: pending again with one more attempt allowed",
    async (outcome) => {
      const jobId = await acme.enqueue({ maxAttempts: 1 });
      const workerId = await acme.worker("w1");
      await acme.claimJob(workerId);
      await ok(acme.call, "/v1/jobs/complete", { workspaceId: acme.workspaceId, jobId, workerId, outcome });
      const { job } = await ok(acme.call, "/v1/jobs/retry", { workspaceId: acme.workspaceId, jobId });
      expect(job).toMatchObject({ status: "pending", attempts: 1, maxAttempts: 2, cancelRequested: false });
      expect(job.outcome).toBeUndefined();
      const again = await acme.claimJob(workerId);
      expect(again).toMatchObject({ jobId, claimGeneration: 2, job: { attempts: 2 } });
      expect((await eventTypes(acme, jobId)).slice(-2)).toEqual(["retried", "claimed"]);
    },
  );
});

describe("workspace isolation", () => {
  test("another workspace's job, worker and repo are invisible", async () => {
    const other = await queueWorkspace(t, "other");
    const theirJob = await other.enqueue();
    const theirWorker = await other.worker("theirs");
    const mine = { workspaceId: acme.workspaceId };
    expectError(await acme.call("/v1/jobs/get", { ...mine, jobId: theirJob }), 404, "JOB_NOT_FOUND");
    expectError(await acme.call("/v1/jobs/cancel", { ...mine, jobId: theirJob }), 404, "JOB_NOT_FOUND");
    expectError(await acme.call("/v1/jobs/claim-next", { ...mine, workerId: theirWorker }), 404, "WORKER_NOT_FOUND");
    expect(await ok(acme.call, "/v1/repos/get", { ...mine, repoId: other.repoId })).toMatchObject({ repo: null });
    expect(await ok(acme.call, "/v1/repos/resolve", { ...mine, remoteUrlHash: "other-origin" })).toMatchObject({
      repoId: null,
      repo: null,
    });
    expectError(await acme.call("/v1/jobs/list", { workspaceId: other.workspaceId }), 403, "FORBIDDEN");
  });

  test("a worker listing another workspace's repo never receives its jobs", async () => {
    const other = await queueWorkspace(t, "other");
    await other.enqueue();
    const greedy = await acme.worker("greedy", { reposAllowed: [acme.repoId, other.repoId] });
    expect(await acme.claim(greedy)).toMatchObject({ jobId: null, reason: "NO_JOBS" });
  });

  test("the service token reaches every workspace", async () => {
    const service = caller(t, SERVICE_TOKEN);
    const jobId = await acme.enqueue();
    expect((await ok(service, "/v1/jobs/get", { workspaceId: acme.workspaceId, jobId })).job._id).toBe(jobId);
  });
});

describe("workers and repos", () => {
  test("worker heartbeat upserts by fingerprint, else by display name, and keeps inventory", async () => {
    const body = { workspaceId: acme.workspaceId, status: "online", capabilities: {} };
    const a = await ok(acme.call, "/v1/workers/heartbeat", {
      ...body,
      displayName: "laptop",
      machineFingerprint: "fp1",
      platform: "linux",
    });
    const renamed = await ok(acme.call, "/v1/workers/heartbeat", {
      ...body,
      displayName: "renamed",
      machineFingerprint: "fp1",
    });
    const byName = await ok(acme.call, "/v1/workers/heartbeat", { ...body, displayName: "ci" });
    const byNameAgain = await ok(acme.call, "/v1/workers/heartbeat", {
      ...body,
      displayName: "ci",
      agentVersion: "1.2.3",
    });
    expect(renamed.workerId).toBe(a.workerId);
    expect(byNameAgain.workerId).toBe(byName.workerId);
    expect(byName.workerId).not.toBe(a.workerId);
    const worker = await t.run((ctx) => ctx.db.get(byName.workerId));
    expect(worker).toMatchObject({ displayName: "ci", inventory: { agentVersion: "1.2.3" } });
  });

  test("reposAllowed entries that are not repo ids are dropped; prefixed ids are accepted", async () => {
    const workerId = await acme.worker("w", { reposAllowed: [`repos/${acme.repoId}`, "nonsense", acme.repoId] });
    const worker = await t.run((ctx) => ctx.db.get(workerId as never));
    expect((worker as Json).capabilities.reposAllowed).toEqual([acme.repoId]);
  });

  test("repo upsert says whether it created; resolve finds it by hash", async () => {
    const first = await ok(acme.call, "/v1/repos/upsert", {
      workspaceId: acme.workspaceId,
      remoteUrlHash: "h2",
      label: "api",
      status: "active",
    });
    const again = await ok(acme.call, "/v1/repos/upsert", {
      workspaceId: acme.workspaceId,
      remoteUrlHash: "h2",
      status: "archived",
    });
    expect(first.created).toBe(true);
    expect(again).toMatchObject({ repoId: first.repoId, created: false });
    const resolved = await ok(acme.call, "/v1/repos/resolve", { workspaceId: acme.workspaceId, remoteUrlHash: "h2" });
    expect(resolved).toMatchObject({ repoId: first.repoId, repo: { label: "api", status: "archived" } });
  });
});

test("clients cannot use the idempotency keys the system enqueues under", async () => {
  const body = {
    workspaceId: acme.workspaceId,
    repoId: acme.repoId,
    kind: "work",
    prompt: "p",
    idempotencyKey: "ias:apply_decision:x",
  };
  const response = await acme.call("/v1/jobs/enqueue", body);
  expectError(response, 400, "INVALID_REQUEST");
  expect(response.body.issues[0].path).toBe("idempotencyKey");
  const { workspaceId: _workspace, ...fields } = body;
  await expect(
    t
      .withIdentity(acme.member.identity)
      .mutation(api.jobsConsole.enqueue, { ...fields, workspaceId: acme.workspaceId, kind: "work" }),
  ).rejects.toThrow(/reserved/);
});

test("pages of large jobs and events end early, and their cursors go on from there", async () => {
  const big = "p".repeat(64 * 1024 - 10);
  const ids: string[] = [];
  for (let i = 0; i < 70; i++) ids.push(await acme.enqueue({ prompt: `${i} ${big}` }));
  const first = await ok(acme.call, "/v1/jobs/list", { workspaceId: acme.workspaceId, limit: 200 });
  expect(first.jobs.length).toBeLessThan(70);
  expect(first.nextCursor).not.toBeNull();
  const rest = await ok(acme.call, "/v1/jobs/list", {
    workspaceId: acme.workspaceId,
    limit: 200,
    cursor: first.nextCursor,
  });
  expect([...first.jobs, ...rest.jobs].map((job: Json) => job._id)).toEqual([...ids].reverse());

  const workerId = await acme.worker("w1");
  const { jobId, claimGeneration } = await acme.claimJob(workerId);
  const lines = Array.from({ length: 16 }, () => "l".repeat(4 * 1024 - 1));
  for (let i = 0; i < 70; i++)
    await ok(acme.call, "/v1/jobs/log", { workspaceId: acme.workspaceId, jobId, workerId, claimGeneration, lines });
  const events = await acme.events(jobId);
  expect(events.length).toBeLessThan(72);
  const after = await acme.events(jobId, { afterSeq: events.at(-1)!.seq });
  expect([...events, ...after].map((event) => event.seq)).toEqual(Array.from({ length: 72 }, (_, i) => i + 1));
});
