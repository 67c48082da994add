/**
 * SPEC §6 "Drain from the Console": admins drain, undrain and remove workers; a drained worker
 * gets WORKER_DRAINING whatever its heartbeat says and hears `drainRequested: true`; removing
 * recovers its jobs at once. `/v1/workers/list` for viewers and up.
 */
import { beforeEach, describe, expect, test, vi } from "vitest";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { caller, expectError, ok, rejection } from "./support/api";
import { addMember, createUser, deviceToken } from "./support/fixtures";
import { useFreshConvex, type Json } from "./support/harness";
import { eventTypes, queueWorkspace, type QueueWorkspace } from "./support/queue-fixtures";

const t = useFreshConvex();
let acme: QueueWorkspace;
beforeEach(async () => {
  vi.useFakeTimers({ toFake: ["Date"], now: 2_000_000 });
  acme = await queueWorkspace(t, "acme");
});

const asOwner = () => t.withIdentity(acme.owner.identity);
const admin = (name: "drain" | "undrain" | "remove", workerId: string) =>
  asOwner().mutation(api.workerAdmin[name], { workspaceId: acme.workspaceId, workerId: workerId as Id<"workers"> });

async function heartbeat(name: string): Promise<Json> {
  return await ok(acme.call, "/v1/workers/heartbeat", {
    workspaceId: acme.workspaceId,
    displayName: name,
    machineFingerprint: `fp-${name}`,
    status: "online",
    capabilities: { reposAllowed: [acme.repoId] },
  });
}

describe("drain and undrain", () => {
  test("a drain beats the worker's own online heartbeat until undrained", async () => {
    const jobId = await acme.enqueue();
    const workerId = await acme.worker("w1");
    expect((await heartbeat("w1")).drainRequested).toBe(false);
    await admin("drain", workerId);
    const beat = await heartbeat("w1");
    expect(beat).toMatchObject({ workerId, drainRequested: true });
    expect(await acme.claim(workerId)).toEqual({ ok: true, jobId: null, job: null, reason: "WORKER_DRAINING" });
    expect((await acme.job(jobId)).status).toBe("pending");

    await admin("undrain", workerId);
    expect((await heartbeat("w1")).drainRequested).toBe(false);
    expect((await acme.claimJob(workerId)).jobId).toBe(jobId);
  });

  test("a drained worker's running job may still heartbeat and complete", async () => {
    await acme.enqueue();
    const workerId = await acme.worker("w1");
    const { jobId, claimGeneration } = await acme.claimJob(workerId);
    await admin("drain", workerId);
    expect((await acme.lease("heartbeat", jobId, workerId, { claimGeneration })).body.ok).toBe(true);
    const done = await acme.lease("complete", jobId, workerId, { claimGeneration, outcome: "done" });
    expect(done.body.result.status).toBe("done");
  });

  test("only admins may; another workspace's worker is WORKER_NOT_FOUND; each change is audited", async () => {
    const workerId = await acme.worker("w1");
    const asMember = t.withIdentity(acme.member.identity);
    const refused = await rejection(
      asMember.mutation(api.workerAdmin.drain, { workspaceId: acme.workspaceId, workerId: workerId as Id<"workers"> }),
    );
    expect(refused.code).toBe("FORBIDDEN");
    const other = await queueWorkspace(t, "other");
    const foreign = await other.worker("theirs");
    expect((await rejection(admin("drain", foreign))).code).toBe("WORKER_NOT_FOUND");
    await admin("drain", workerId);
    await admin("drain", workerId); // no change, no second row
    await admin("undrain", workerId);
    const rows = await t.run((ctx) =>
      ctx.db
        .query("auditLog")
        .withIndex("by_workspace", (q) => q.eq("workspaceId", acme.workspaceId as Id<"workspaces">))
        .collect(),
    );
    expect(rows.map((row) => row.action).filter((action) => action.startsWith("worker."))).toEqual([
      "worker.drained",
      "worker.undrained",
    ]);
  });
});

describe("remove", () => {
  test("recovers the jobs it holds at once; its lease calls then answer LEASE_MISMATCH", async () => {
    const plain = await acme.enqueue({ prompt: "plain", priority: -2 });
    const policy = await acme.enqueue({ prompt: "policy", priority: -1, retry: { backoff: "fixed", jitter: false } });
    const untouched = await acme.enqueue({ prompt: "other worker's" });
    const workerId = await acme.worker("w1");
    const helper = await acme.worker("w2");
    const first = await acme.claimJob(workerId, { leaseMs: 3_600_000 });
    const second = await acme.claimJob(workerId, { leaseMs: 3_600_000 });
    await acme.claimJob(helper, { leaseMs: 3_600_000 });
    expect([first.jobId, second.jobId]).toEqual([plain, policy]);

    expect(await admin("remove", workerId)).toEqual({ recoveredJobs: 2 });
    expect(await acme.job(plain)).toMatchObject({ status: "pending", attempts: 1 });
    expect(await acme.job(policy)).toMatchObject({ status: "scheduled", availableAt: 2_000_000 + 10_000 });
    expect((await acme.job(untouched)).status).toBe("running");
    expect(await eventTypes(acme, plain)).toEqual(["enqueued", "claimed", "recovered"]);
    expectError(
      await acme.lease("heartbeat", plain, workerId, { claimGeneration: first.claimGeneration }),
      409,
      "LEASE_MISMATCH",
    );
    expectError(
      await acme.call("/v1/jobs/claim-next", { workspaceId: acme.workspaceId, workerId }),
      404,
      "WORKER_NOT_FOUND",
    );
  });

  test("a removed worker that heartbeats again is registered under a new id", async () => {
    const workerId = await acme.worker("w1");
    await admin("remove", workerId);
    const again = await heartbeat("w1");
    expect(again.workerId).not.toBe(workerId);
    expect(again.drainRequested).toBe(false);
  });
});

describe("/v1/workers/list", () => {
  test("viewers list workers with online and drainRequested, most recently seen first, in pages", async () => {
    const w1 = await acme.worker("w1");
    vi.setSystemTime(2_001_000);
    const w2 = await acme.worker("w2");
    await admin("drain", w1);
    const viewer = await createUser(t, "viewer@acme.test");
    await addMember(t, acme.workspaceId as Id<"workspaces">, viewer, "viewer");
    const asViewer = caller(t, (await deviceToken(t, acme.workspaceId as Id<"workspaces">, viewer)).token);
    const all = await ok(asViewer, "/v1/workers/list", { workspaceId: acme.workspaceId });
    expect(all.workers.map((worker: Json) => [worker._id, worker.online, worker.drainRequested])).toEqual([
      [w2, true, false],
      [w1, true, true],
    ]);
    expect(all.workers[0]).toMatchObject({
      displayName: "w2",
      status: "online",
      capabilities: { reposAllowed: [acme.repoId] },
    });
    expect(all.nextCursor).toBeNull();
    const page = await ok(asViewer, "/v1/workers/list", { workspaceId: acme.workspaceId, limit: 1 });
    expect(page.workers.map((worker: Json) => worker._id)).toEqual([w2]);
    const rest = await ok(asViewer, "/v1/workers/list", {
      workspaceId: acme.workspaceId,
      limit: 1,
      cursor: page.nextCursor,
    });
    expect(rest.workers.map((worker: Json) => worker._id)).toEqual([w1]);
    expectError(
      await asViewer("/v1/workers/list", { workspaceId: acme.workspaceId, cursor: "junk" }),
      400,
      "INVALID_REQUEST",
    );
  });
});
