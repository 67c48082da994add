/**
 * Concurrency keys and worker capacity (SPEC §6 "Scheduling", *Concurrency*): at most a key's limit
 * of its jobs run at once (default 1, admins set it in the Console); jobs of a full key wait
 * (`waiting`) without hiding other keys' jobs; a waiting job is admitted when an admitted one
 * leaves; `capabilities.maxConcurrentJobs` caps the jobs a worker holds (`WORKER_AT_CAPACITY`).
 */
import { beforeEach, describe, expect, test, vi } from "vitest";
import { api } from "../convex/_generated/api";
import { expectError, ok, rejection } from "./support/api";
import { useFreshConvex, type Json } from "./support/harness";
import { elapse, eventTypes, queueWorkspace, type QueueWorkspace } from "./support/queue-fixtures";

const t = useFreshConvex();
let acme: QueueWorkspace;
beforeEach(async () => {
  vi.useFakeTimers({ now: 50_000_000 });
  acme = await queueWorkspace(t, "acme");
});

/** Lets the scheduled admissions (concurrency:jobLeft, run right after a job leaves) run. */
const settle = () => elapse(t, 0);

async function statuses(jobIds: string[]) {
  return await Promise.all(jobIds.map(async (jobId) => (await acme.job(jobId)).status));
}

async function workers(count: number, capabilities: Json = {}) {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(await acme.worker(`w${i}`, capabilities));
  return ids;
}

/** Every worker claims at once; the claimed job ids. */
async function race(workerIds: string[]) {
  const answers = await Promise.all(workerIds.map((workerId) => acme.claim(workerId)));
  return answers;
}

function done(claimed: Json, workerId: string, outcome = "done") {
  return ok(acme.call, "/v1/jobs/complete", {
    workspaceId: acme.workspaceId,
    jobId: claimed.jobId,
    workerId,
    claimGeneration: claimed.claimGeneration,
    outcome,
  });
}

const setLimit = (key: string, limit: number | null) =>
  t
    .withIdentity(acme.owner.identity)
    .mutation(api.concurrency.setLimit, { workspaceId: acme.workspaceId as never, key, limit });

describe("enqueue's concurrencyKey", () => {
  test("is stored and returned; 200 characters are accepted, 201 and empty are a 400 INVALID_REQUEST", async () => {
    const key = "k".repeat(200);
    const jobId = await acme.enqueue({ concurrencyKey: key });
    expect((await acme.job(jobId)).concurrencyKey).toBe(key);
    const base = { workspaceId: acme.workspaceId, repoId: acme.repoId, kind: "work", prompt: "p" };
    for (const concurrencyKey of ["k".repeat(201), ""]) {
      const response = await acme.call("/v1/jobs/enqueue", { ...base, concurrencyKey });
      expectError(response, 400, "INVALID_REQUEST");
      expect(JSON.stringify(response.body)).toContain("concurrencyKey");
    }
    expectError(await acme.call("/v1/jobs/enqueue", { ...base, concurrencyKey: 7 }), 400, "INVALID_REQUEST");
  });

  test("jobs/list filters the waiting ones", async () => {
    await acme.enqueue({ concurrencyKey: "deploy" });
    const waiting = await acme.enqueue({ concurrencyKey: "deploy" });
    const listed = await ok(acme.call, "/v1/jobs/list", { workspaceId: acme.workspaceId, status: "waiting" });
    expect(listed.jobs.map((job: Json) => job._id)).toEqual([waiting]);
  });
});

describe("a key's limit", () => {
  test("limit 1 (the default): of three jobs one is pending, several racing workers claim exactly one", async () => {
    const jobs = [];
    for (let i = 0; i < 3; i++) jobs.push(await acme.enqueue({ concurrencyKey: "deploy", prompt: `job ${i}` }));
    expect(await statuses(jobs)).toEqual(["pending", "waiting", "waiting"]);
    const ids = await workers(4);
    const answers = await race(ids);
    const claimed = answers.filter((answer) => answer.jobId !== null);
    expect(claimed.map((answer) => answer.jobId)).toEqual([jobs[0]]);
    expect(answers.filter((answer) => answer.jobId === null).map((answer) => answer.reason)).toEqual([
      "NO_JOBS",
      "NO_JOBS",
      "NO_JOBS",
    ]);
    const holder = ids[answers.findIndex((answer) => answer.jobId !== null)]!;
    await done(claimed[0]!, holder);
    expect(await statuses(jobs)).toEqual(["done", "waiting", "waiting"]);
    await settle();
    expect(await statuses(jobs)).toEqual(["done", "pending", "waiting"]);
    expect(await eventTypes(acme, jobs[1]!)).toEqual(["enqueued", "admitted"]);
    const again = (await race(ids)).filter((answer) => answer.jobId !== null);
    expect(again.map((answer) => answer.jobId)).toEqual([jobs[1]]);
  });

  test("limit 2 set in the Console: two of the key's jobs run at once among racing workers; raising it admits at once", async () => {
    await setLimit("deploy", 2);
    const jobs = [];
    for (let i = 0; i < 5; i++) jobs.push(await acme.enqueue({ concurrencyKey: "deploy", prompt: `job ${i}` }));
    expect(await statuses(jobs)).toEqual(["pending", "pending", "waiting", "waiting", "waiting"]);
    const ids = await workers(5);
    const claimed = (await race(ids)).filter((answer) => answer.jobId !== null);
    expect(claimed.map((answer) => answer.jobId).sort()).toEqual([jobs[0], jobs[1]].sort());
    expect((await race(ids)).every((answer) => answer.jobId === null)).toBe(true);
    const raised = await setLimit("deploy", 4);
    expect(raised).toMatchObject({ key: "deploy", limit: 4, admitted: 4, newlyAdmitted: 2 });
    expect(await statuses(jobs)).toEqual(["running", "running", "pending", "pending", "waiting"]);
    const audit = await t.run((ctx) =>
      ctx.db
        .query("auditLog")
        .withIndex("by_workspace", (q) => q.eq("workspaceId", acme.workspaceId as never))
        .collect(),
    );
    expect(
      audit.filter((row) => row.action === "concurrency.limit_set").map((row) => [row.actor.kind, row.details]),
    ).toEqual([
      ["user", { key: "deploy", limit: 2, previousLimit: null }],
      ["user", { key: "deploy", limit: 4, previousLimit: 2 }],
    ]);
  });

  test("lowering a limit takes effect as admitted jobs leave; clearing it goes back to 1", async () => {
    await setLimit("deploy", 3);
    const jobs = [];
    for (let i = 0; i < 4; i++) jobs.push(await acme.enqueue({ concurrencyKey: "deploy" }));
    const ids = await workers(3);
    const claimed = [];
    for (const workerId of ids) claimed.push({ workerId, answer: await acme.claimJob(workerId) });
    await setLimit("deploy", null);
    await done(claimed[0]!.answer, claimed[0]!.workerId);
    await settle();
    // Two still run: above the new limit of 1, so the fourth keeps waiting.
    expect(await statuses(jobs)).toEqual(["done", "running", "running", "waiting"]);
    await done(claimed[1]!.answer, claimed[1]!.workerId);
    await settle();
    expect((await acme.job(jobs[3]!)).status).toBe("waiting");
    await done(claimed[2]!.answer, claimed[2]!.workerId);
    await settle();
    expect((await acme.job(jobs[3]!)).status).toBe("pending");
  });

  test("Console: only admins set limits; a limit outside 1–1000 or a key over 200 characters is INVALID_REQUEST; everyone lists keys", async () => {
    const asMember = t.withIdentity(acme.member.identity);
    const workspaceId = acme.workspaceId as never;
    expect(
      (await rejection(asMember.mutation(api.concurrency.setLimit, { workspaceId, key: "k", limit: 2 }))).code,
    ).toBe("FORBIDDEN");
    for (const limit of [0, 1001, 1.5]) expect((await rejection(setLimit("k", limit))).code).toBe("INVALID_REQUEST");
    expect((await rejection(setLimit("k".repeat(201), 2))).code).toBe("INVALID_REQUEST");
    await setLimit("k", 1000);
    await acme.enqueue({ concurrencyKey: "other" });
    expect(await asMember.query(api.concurrency.listKeys, { workspaceId })).toEqual([
      { key: "k", limit: 1000, limitSet: true, admitted: 0, defaultLimit: 1 },
      { key: "other", limit: 1, limitSet: false, admitted: 1, defaultLimit: 1 },
    ]);
  });
});

describe("a full key hides nothing", () => {
  test("a claimable job of another key (or none) in the same repo and stream, behind the full key's jobs, is claimed", async () => {
    const first = await acme.enqueue({ concurrencyKey: "a", priority: -10 });
    const blocked = [];
    for (let i = 0; i < 5; i++) blocked.push(await acme.enqueue({ concurrencyKey: "a", priority: -10 }));
    const other = await acme.enqueue({ concurrencyKey: "b", priority: 5 });
    const plain = await acme.enqueue({ priority: 9 });
    const [w0, w1, w2, w3] = await workers(4);
    expect((await acme.claimJob(w0!)).jobId).toBe(first);
    expect((await acme.claimJob(w1!)).jobId).toBe(other);
    expect((await acme.claimJob(w2!)).jobId).toBe(plain);
    expect(await acme.claim(w3!)).toMatchObject({ jobId: null, reason: "NO_JOBS" });
    expect(new Set(await statuses(blocked))).toEqual(new Set(["waiting"]));
  });
});

describe("a waiting job is admitted when the admitted one leaves", () => {
  async function runningAndWaiting(fields: Json = {}) {
    const running = await acme.enqueue({ concurrencyKey: "deploy", ...fields });
    const waiting = await acme.enqueue({ concurrencyKey: "deploy" });
    const workerId = await acme.worker("holder");
    const claimed = await acme.claimJob(workerId);
    expect(claimed.jobId).toBe(running);
    return { running, waiting, workerId, claimed };
  }

  test.each(["failed", "blocked", "canceled"])("completed %s", async (outcome) => {
    const { waiting, workerId, claimed } = await runningAndWaiting();
    await done(claimed, workerId, outcome);
    await settle();
    expect((await acme.job(waiting)).status).toBe("pending");
  });

  test("a pending admitted job canceled", async () => {
    const admitted = await acme.enqueue({ concurrencyKey: "deploy" });
    const waiting = await acme.enqueue({ concurrencyKey: "deploy" });
    await ok(acme.call, "/v1/jobs/cancel", { workspaceId: acme.workspaceId, jobId: admitted });
    await settle();
    expect(await statuses([admitted, waiting])).toEqual(["canceled", "pending"]);
  });

  test("a waiting job canceled frees nothing and is never admitted", async () => {
    const admitted = await acme.enqueue({ concurrencyKey: "deploy" });
    const canceled = await acme.enqueue({ concurrencyKey: "deploy" });
    const next = await acme.enqueue({ concurrencyKey: "deploy" });
    await ok(acme.call, "/v1/jobs/cancel", { workspaceId: acme.workspaceId, jobId: canceled });
    await settle();
    expect(await statuses([admitted, canceled, next])).toEqual(["pending", "canceled", "waiting"]);
  });

  test("a lost lease recovered to pending keeps its admission; recovered to failed (no attempts left) admits the next", async () => {
    const { running, waiting } = await runningAndWaiting({ maxAttempts: 2 });
    await elapse(t, 10 * 60_000);
    expect(await statuses([running, waiting])).toEqual(["pending", "waiting"]);
    const workerId = await acme.worker("second");
    expect((await acme.claimJob(workerId)).jobId).toBe(running);
    await elapse(t, 10 * 60_000);
    await settle();
    expect(await statuses([running, waiting])).toEqual(["failed", "pending"]);
  });

  test("a retried job of a full key goes waiting, and is admitted later", async () => {
    const { running, workerId, claimed } = await runningAndWaiting();
    await done(claimed, workerId, "failed");
    await settle();
    const third = await acme.enqueue({ concurrencyKey: "deploy" });
    const retried = await ok(acme.call, "/v1/jobs/retry", { workspaceId: acme.workspaceId, jobId: running });
    expect(retried.job.status).toBe("waiting");
    expect(await eventTypes(acme, running)).toContain("retried");
    expect((await acme.job(third)).status).toBe("waiting");
  });

  test("a delayed job of a full key is released to waiting", async () => {
    await acme.enqueue({ concurrencyKey: "deploy" });
    const delayed = await acme.enqueue({ concurrencyKey: "deploy", delayMs: 60_000 });
    expect((await acme.job(delayed)).status).toBe("scheduled");
    await elapse(t, 61_000);
    expect((await acme.job(delayed)).status).toBe("waiting");
    expect(await eventTypes(acme, delayed)).toEqual(["enqueued", "released"]);
  });
});

describe("worker capacity (capabilities.maxConcurrentJobs)", () => {
  test.each([1, 2])("a worker with maxConcurrentJobs %i holds that many jobs, then WORKER_AT_CAPACITY", async (max) => {
    for (let i = 0; i < 5; i++) await acme.enqueue({ prompt: `job ${i}` });
    const workerId = await acme.worker("capped", { maxConcurrentJobs: max });
    const held = [];
    for (let i = 0; i < max; i++) held.push(await acme.claimJob(workerId));
    expect(await acme.claim(workerId)).toEqual({ ok: true, jobId: null, job: null, reason: "WORKER_AT_CAPACITY" });
    // Another worker is not capped by it.
    const other = await acme.worker("free");
    await acme.claimJob(other);
    await done(held[0]!, workerId);
    await acme.claimJob(workerId);
    // Back at capacity with a job still pending.
    expect((await acme.claim(workerId)).reason).toBe("WORKER_AT_CAPACITY");
    expect((await acme.claimJob(other)).jobId).not.toBeNull();
  });

  test("absent: unlimited; out of 1–32 it is a 400 on the worker heartbeat", async () => {
    for (let i = 0; i < 3; i++) await acme.enqueue();
    const workerId = await acme.worker("unlimited");
    for (let i = 0; i < 3; i++) await acme.claimJob(workerId);
    for (const maxConcurrentJobs of [0, 33, 1.5]) {
      expectError(
        await acme.call("/v1/workers/heartbeat", {
          workspaceId: acme.workspaceId,
          displayName: "bad",
          machineFingerprint: "fp-bad",
          status: "online",
          capabilities: { maxConcurrentJobs },
        }),
        400,
        "INVALID_REQUEST",
      );
    }
  });
});
