/**
 * SPEC §6 "Pause": admins and service tokens pause and resume a lane or one repo
 * (`/v1/queues/pause|resume`, the Console); paused jobs are not claimed (`QUEUE_PAUSED` when
 * nothing else is claimable), other repos and lanes go on, enqueue still works.
 */
import { beforeEach, describe, expect, test } from "vitest";
import { api } from "../convex/_generated/api";
import { caller, createRepo, expectError, ok, rejection, type Call } from "./support/api";
import { SERVICE_TOKEN } from "./support/fixtures";
import { useFreshConvex } from "./support/harness";
import { queueWorkspace, type QueueWorkspace } from "./support/queue-fixtures";

const t = useFreshConvex();
let acme: QueueWorkspace;
let service: Call;
let otherRepo: string;
beforeEach(async () => {
  acme = await queueWorkspace(t, "acme");
  service = caller(t, SERVICE_TOKEN);
  otherRepo = await createRepo(acme.call, acme.workspaceId, "acme-second-origin");
});

const pause = (fields: Record<string, unknown> = {}) =>
  ok(service, "/v1/queues/pause", { workspaceId: acme.workspaceId, ...fields });
const resume = (fields: Record<string, unknown> = {}) =>
  ok(service, "/v1/queues/resume", { workspaceId: acme.workspaceId, ...fields });

describe("pause one repo", () => {
  test("leaves another repo claimable, then answers QUEUE_PAUSED; resume hands the paused job out", async () => {
    const paused = await acme.enqueue({ prompt: "paused repo, urgent", priority: -10 });
    const open = await acme.enqueue({ prompt: "other repo", repoId: otherRepo });
    const workerId = await acme.worker("w1", { reposAllowed: [acme.repoId, otherRepo] });
    const answer = await pause({ repoId: acme.repoId, lane: "worker" });
    expect(answer.queues).toEqual([{ lane: "worker", lanePaused: false, pausedRepoIds: [acme.repoId] }]);

    expect((await acme.claimJob(workerId)).jobId).toBe(open);
    expect(await acme.claim(workerId)).toEqual({ ok: true, jobId: null, job: null, reason: "QUEUE_PAUSED" });
    const later = await acme.enqueue({ prompt: "enqueued while paused" });
    expect((await acme.job(later)).status).toBe("pending");

    await resume({ repoId: acme.repoId, lane: "worker" });
    expect((await acme.claimJob(workerId)).jobId).toBe(paused);
    expect((await acme.claimJob(workerId)).jobId).toBe(later);
    expect(await acme.claim(workerId)).toMatchObject({ jobId: null, reason: "NO_JOBS" });
  });

  test("a worker that serves only other repos is not affected (NO_JOBS, not QUEUE_PAUSED)", async () => {
    await acme.enqueue();
    const workerId = await acme.worker("w1", { reposAllowed: [otherRepo] });
    await pause({ repoId: acme.repoId });
    expect(await acme.claim(workerId)).toMatchObject({ jobId: null, reason: "NO_JOBS" });
  });
});

describe("pause a lane", () => {
  test("the worker lane pauses, the cloud AI lane goes on; no lane named pauses both", async () => {
    await acme.enqueue({ prompt: "worker lane" });
    const cloud = await acme.enqueue({ prompt: "cloud lane", lane: "cloud_ai" });
    const workerId = await acme.worker("w1");
    await pause({ lane: "worker" });
    expect(await acme.claim(workerId)).toMatchObject({ jobId: null, reason: "QUEUE_PAUSED" });
    expect((await acme.claim(workerId, {}, "cloud-ai-jobs")).jobId).toBe(cloud);

    await acme.enqueue({ prompt: "cloud lane 2", lane: "cloud_ai" });
    const all = await pause();
    expect(all.queues.map((queue: { lane: string; lanePaused: boolean }) => [queue.lane, queue.lanePaused])).toEqual([
      ["worker", true],
      ["cloud_ai", true],
    ]);
    expect(await acme.claim(workerId, {}, "cloud-ai-jobs")).toMatchObject({ jobId: null, reason: "QUEUE_PAUSED" });
    await resume();
    expect((await acme.claim(workerId)).jobId).not.toBeNull();
    expect((await acme.claim(workerId, {}, "cloud-ai-jobs")).jobId).not.toBeNull();
  });

  test("resuming the lane keeps a repo paused in it", async () => {
    await acme.enqueue();
    const workerId = await acme.worker("w1");
    await pause({ lane: "worker", repoId: acme.repoId });
    await pause({ lane: "worker" });
    await resume({ lane: "worker" });
    expect(await acme.claim(workerId)).toMatchObject({ jobId: null, reason: "QUEUE_PAUSED" });
  });
});

describe("who may pause", () => {
  test("members are FORBIDDEN, another workspace's repo is REPO_NOT_FOUND", async () => {
    expectError(
      await acme.call("/v1/queues/pause", { workspaceId: acme.workspaceId, lane: "worker" }),
      403,
      "FORBIDDEN",
    );
    const other = await queueWorkspace(t, "other");
    expectError(
      await service("/v1/queues/pause", { workspaceId: acme.workspaceId, repoId: other.repoId }),
      404,
      "REPO_NOT_FOUND",
    );
    expectError(
      await service("/v1/queues/pause", { workspaceId: acme.workspaceId, lane: "boat" }),
      400,
      "INVALID_REQUEST",
    );
  });

  test("each pause and resume over HTTP is audited with its caller", async () => {
    await pause({ lane: "worker" });
    await resume({ lane: "worker" });
    const rows = await t.run((ctx) =>
      ctx.db
        .query("auditLog")
        .withIndex("by_workspace", (q) => q.eq("workspaceId", acme.workspaceId as never))
        .collect(),
    );
    expect(
      rows.filter((row) => row.action.startsWith("queue.")).map((row) => [row.action, row.actor, row.details]),
    ).toEqual([
      ["queue.paused", { kind: "service" }, { lane: "worker", repoId: null }],
      ["queue.resumed", { kind: "service" }, { lane: "worker", repoId: null }],
    ]);
  });

  test("Console: admins pause and resume, everyone sees the state, members may not change it", async () => {
    const workspaceId = acme.workspaceId as never;
    const asOwner = t.withIdentity(acme.owner.identity);
    const asMember = t.withIdentity(acme.member.identity);
    expect((await rejection(asMember.mutation(api.queuePauses.pauseQueue, { workspaceId }))).code).toBe("FORBIDDEN");
    await asOwner.mutation(api.queuePauses.pauseQueue, { workspaceId, repoId: acme.repoId as never, lane: "worker" });
    expect(await asMember.query(api.queuePauses.status, { workspaceId })).toEqual([
      { lane: "worker", lanePaused: false, pausedRepoIds: [acme.repoId] },
      { lane: "cloud_ai", lanePaused: false, pausedRepoIds: [] },
    ]);
    await acme.enqueue();
    const workerId = await acme.worker("w1");
    expect(await acme.claim(workerId)).toMatchObject({ reason: "QUEUE_PAUSED" });
    await asOwner.mutation(api.queuePauses.resumeQueue, { workspaceId, repoId: acme.repoId as never, lane: "worker" });
    expect((await acme.claim(workerId)).jobId).not.toBeNull();
  });
});
