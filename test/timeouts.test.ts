/**
 * SPEC §6 "Scheduling": the cancel grace (a worker that ignores `cancelRequested` is ended by the
 * server, its next lease call answers LEASE_MISMATCH; a completion before the grace ends is kept)
 * and timeouts (`timed_out`, then `failed/timeout` after the grace, the retry policy applied).
 */
import { beforeEach, describe, expect, test, vi } from "vitest";
import { api } from "../convex/_generated/api";
import { expectError, ok, rejection } from "./support/api";
import type { Id } from "../convex/_generated/dataModel";
import { addMember, createUser } from "./support/fixtures";
import { useFreshConvex } from "./support/harness";
import { elapse as elapseAndRun, eventTypes, queueWorkspace, type QueueWorkspace } from "./support/queue-fixtures";

const t = useFreshConvex();
let acme: QueueWorkspace;
const START = 1_000_000;
const LONG_LEASE = 3_600_000;
beforeEach(async () => {
  vi.useFakeTimers({ now: START });
  acme = await queueWorkspace(t, "acme");
});

const elapse = (ms: number) => elapseAndRun(t, ms);

const cancel = (jobId: string) => ok(acme.call, "/v1/jobs/cancel", { workspaceId: acme.workspaceId, jobId });

describe("cancel grace", () => {
  test("a worker that ignores cancelRequested is ended canceled 120 s after the request", async () => {
    const jobId = await acme.enqueue();
    const workerId = await acme.worker("stubborn");
    const { claimGeneration } = await acme.claimJob(workerId, { leaseMs: LONG_LEASE });
    await elapse(5_000);
    expect((await cancel(jobId)).job).toMatchObject({
      status: "running",
      cancelRequested: true,
      cancelRequestedAt: START + 5_000,
    });

    await elapse(60_000);
    const beat = await acme.lease("heartbeat", jobId, workerId, { claimGeneration });
    expect(beat.body).toMatchObject({ ok: true, cancelRequested: true });
    await elapse(59_999);
    expect((await acme.job(jobId)).status).toBe("running");

    await elapse(1);
    expect(await acme.job(jobId)).toMatchObject({
      status: "canceled",
      outcome: "canceled",
      outcomeReason: { version: 1, category: "canceled", code: "cancel_grace", retryable: false },
    });
    expectError(await acme.lease("heartbeat", jobId, workerId, { claimGeneration }), 409, "LEASE_MISMATCH");
    expectError(
      await acme.lease("log", jobId, workerId, { claimGeneration, lines: ["still here"] }),
      409,
      "LEASE_MISMATCH",
    );
    expectError(
      await acme.lease("complete", jobId, workerId, { claimGeneration, outcome: "done" }),
      409,
      "LEASE_MISMATCH",
    );
    expect(await eventTypes(acme, jobId)).toEqual(["enqueued", "claimed", "cancel_requested", "canceled"]);
    expect((await acme.events(jobId)).at(-1)).toMatchObject({
      data: { by: "server", workerId, claimGeneration, cancelRequestedAt: START + 5_000 },
    });
  });

  test("a completion before the grace ends is accepted with its outcome, recorded next to the request", async () => {
    const jobId = await acme.enqueue();
    const workerId = await acme.worker("w1");
    const { claimGeneration } = await acme.claimJob(workerId, { leaseMs: LONG_LEASE });
    await cancel(jobId);
    await elapse(119_999);
    const done = await acme.lease("complete", jobId, workerId, { claimGeneration, outcome: "done" });
    expect(done.body.result).toMatchObject({ status: "done", idempotent: false });
    await elapse(10_000); // the grace timer finds the job finished
    expect(await acme.job(jobId)).toMatchObject({
      status: "done",
      outcome: "done",
      cancelRequested: true,
      cancelRequestedAt: START,
    });
    expect((await acme.events(jobId)).at(-1)).toMatchObject({ type: "completed", data: { cancelRequestedAt: START } });
  });

  test("a second cancel request does not restart the grace", async () => {
    const jobId = await acme.enqueue();
    const workerId = await acme.worker("w1");
    await acme.claimJob(workerId, { leaseMs: LONG_LEASE });
    await cancel(jobId);
    await elapse(100_000);
    await cancel(jobId);
    await elapse(20_000);
    expect((await acme.job(jobId)).status).toBe("canceled");
    expect(await eventTypes(acme, jobId)).toEqual(["enqueued", "claimed", "cancel_requested", "canceled"]);
  });

  test("the grace is a workspace setting admins change in the Console", async () => {
    const asOwner = t.withIdentity(acme.owner.identity);
    const asMember = t.withIdentity(acme.member.identity);
    const { workspaceId } = acme;
    expect(
      (await rejection(asMember.mutation(api.workspaces.setCancelGrace, { workspaceId, cancelGraceMs: 1 }))).code,
    ).toBe("FORBIDDEN");
    expect(
      (await rejection(asOwner.mutation(api.workspaces.setCancelGrace, { workspaceId, cancelGraceMs: 86_400_001 })))
        .code,
    ).toBe("INVALID_REQUEST");
    await asOwner.mutation(api.workspaces.setCancelGrace, { workspaceId, cancelGraceMs: 30_000 });
    const jobId = await acme.enqueue();
    const workerId = await acme.worker("w1");
    await acme.claimJob(workerId, { leaseMs: LONG_LEASE });
    await cancel(jobId);
    await elapse(29_999);
    expect((await acme.job(jobId)).status).toBe("running");
    await elapse(1);
    expect((await acme.job(jobId)).status).toBe("canceled");
  });
});

test("Console: every member (a viewer too) reads the cancel grace; only admins change it, audited", async () => {
  const { workspaceId } = acme;
  const viewer = await createUser(t, "viewer@acme.test");
  await addMember(t, workspaceId as Id<"workspaces">, viewer, "viewer");
  const asViewer = t.withIdentity(viewer.identity);
  const asOwner = t.withIdentity(acme.owner.identity);
  expect(await asViewer.query(api.workspaces.cancelGrace, { workspaceId })).toEqual({
    cancelGraceMs: 120_000,
    isDefault: true,
  });
  expect(
    (await rejection(asViewer.mutation(api.workspaces.setCancelGrace, { workspaceId, cancelGraceMs: 5_000 }))).code,
  ).toBe("FORBIDDEN");
  for (const bad of [-1, 1.5, 86_400_001]) {
    const refused = await rejection(
      asOwner.mutation(api.workspaces.setCancelGrace, { workspaceId, cancelGraceMs: bad }),
    );
    expect(refused).toMatchObject({ code: "INVALID_REQUEST", message: expect.stringContaining("cancelGraceMs") });
  }
  await asOwner.mutation(api.workspaces.setCancelGrace, { workspaceId, cancelGraceMs: 0 });
  expect(await asViewer.query(api.workspaces.cancelGrace, { workspaceId })).toEqual({
    cancelGraceMs: 0,
    isDefault: false,
  });
  const rows = await t.run((ctx) =>
    ctx.db
      .query("auditLog")
      .withIndex("by_workspace", (q) => q.eq("workspaceId", workspaceId as Id<"workspaces">))
      .collect(),
  );
  expect(
    rows.filter((row) => row.action === "workspace.cancel_grace_changed").map((row) => [row.actor, row.details]),
  ).toEqual([
    [
      { kind: "user", userId: acme.owner.userId },
      { from: 120_000, to: 0 },
    ],
  ]);
});

describe("timeouts", () => {
  test("timeoutMs counts from the claim: timed_out and cancelRequested, then failed/timeout after the grace", async () => {
    const jobId = await acme.enqueue({ timeoutMs: 30_000 });
    const workerId = await acme.worker("w1");
    const { claimGeneration } = await acme.claimJob(workerId, { leaseMs: LONG_LEASE });
    await elapse(29_999);
    expect(await acme.job(jobId)).toMatchObject({ status: "running", cancelRequested: false });
    await elapse(1);
    expect(await acme.job(jobId)).toMatchObject({ status: "running", cancelRequested: true, timedOut: true });
    const beat = await acme.lease("heartbeat", jobId, workerId, { claimGeneration });
    expect(beat.body.cancelRequested).toBe(true);
    await elapse(120_000);
    expect(await acme.job(jobId)).toMatchObject({
      status: "failed",
      outcome: "failed",
      outcomeReason: { category: "failed", code: "timeout", retryable: false },
    });
    expect(await eventTypes(acme, jobId)).toEqual(["enqueued", "claimed", "timed_out", "failed"]);
    expectError(await acme.lease("complete", jobId, workerId, { outcome: "done" }), 409, "LEASE_MISMATCH");
  });

  test("a timed-out attempt is retried under the job's retry policy, and the next claim times out on its own", async () => {
    const jobId = await acme.enqueue({
      timeoutMs: 10_000,
      maxAttempts: 2,
      retry: { backoff: "fixed", initialDelayMs: 1_000, jitter: false },
    });
    const workerId = await acme.worker("w1");
    await acme.claimJob(workerId, { leaseMs: LONG_LEASE });
    await elapse(10_000);
    await elapse(120_000);
    expect(await acme.job(jobId)).toMatchObject({ status: "scheduled", cancelRequested: false });
    expect((await acme.events(jobId)).at(-1)).toMatchObject({
      type: "retry_scheduled",
      data: { cause: "timeout", delayMs: 1_000, attempt: 1 },
    });
    await elapse(1_000);
    await acme.claimJob(workerId, { leaseMs: LONG_LEASE });
    await elapse(10_000);
    await elapse(120_000);
    expect(await acme.job(jobId)).toMatchObject({ status: "failed", attempts: 2, outcomeReason: { code: "timeout" } });
  });

  test("the timer of an earlier claim does not touch a later one", async () => {
    const jobId = await acme.enqueue({ timeoutMs: 60_000 });
    const workerId = await acme.worker("w1");
    await acme.claimJob(workerId, { leaseMs: 10_000 });
    await elapse(10_000); // lease lost: pending again
    expect((await acme.claimJob(workerId, { leaseMs: LONG_LEASE })).claimGeneration).toBe(2);
    await elapse(50_000); // the first claim's timeout time
    expect(await acme.job(jobId)).toMatchObject({ status: "running", cancelRequested: false });
    await elapse(10_000); // the second claim's
    expect(await acme.job(jobId)).toMatchObject({ status: "running", cancelRequested: true, timedOut: true });
  });

  test("a worker that stops within the grace after its timeout (completes canceled) ends the job failed/timeout", async () => {
    const jobId = await acme.enqueue({ timeoutMs: 10_000 });
    const workerId = await acme.worker("w1");
    const { claimGeneration } = await acme.claimJob(workerId, { leaseMs: LONG_LEASE });
    await elapse(10_000);
    const answer = await acme.lease("complete", jobId, workerId, {
      claimGeneration,
      outcome: "canceled",
      outcomeReason: "cancel_requested",
    });
    expect(answer.body.result).toMatchObject({ status: "failed" });
    expect(await acme.job(jobId)).toMatchObject({ status: "failed", outcomeReason: { code: "timeout" } });
    expect((await acme.events(jobId)).at(-1)).toMatchObject({
      type: "failed",
      data: { workerOutcomeReason: "cancel_requested" },
    });
  });

  test("a worker that finishes done within the grace after its timeout is taken at its word", async () => {
    const jobId = await acme.enqueue({ timeoutMs: 10_000 });
    const workerId = await acme.worker("w1");
    const { claimGeneration } = await acme.claimJob(workerId, { leaseMs: LONG_LEASE });
    await elapse(10_000);
    await acme.lease("complete", jobId, workerId, { claimGeneration, outcome: "done" });
    expect(await acme.job(jobId)).toMatchObject({ status: "done", timedOut: true });
  });
});
