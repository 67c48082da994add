/** Console functions of the job queue: jobs, workers with the online flag, repos. */
import { afterEach, beforeEach, expect, test, vi } from "vitest";
import { api, internal } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { enqueueJob } from "../convex/jobs";
import { MAX_CONSOLE_PAGE_ITEMS } from "../convex/model/pages";
import { ok } from "./support/api";
import { addMember, createUser } from "./support/fixtures";
import { newConvex, type TestConvex } from "./support/harness";
import { queueWorkspace, type QueueWorkspace } from "./support/queue-fixtures";

let t: TestConvex;
let acme: QueueWorkspace;
let workspaceId: Id<"workspaces">;
beforeEach(async () => {
  t = newConvex();
  acme = await queueWorkspace(t, "acme");
  workspaceId = acme.workspaceId;
});
afterEach(() => vi.useRealTimers());

const firstPage = { numItems: 20, cursor: null };

test("a member lists jobs by status, opens one with its timeline, cancels and retries", async () => {
  const console = t.withIdentity(acme.member.identity);
  const { jobId } = await console.mutation(api.jobsConsole.enqueue, {
    workspaceId,
    repoId: acme.repoId,
    kind: "work",
    prompt: "from the Console",
  });
  const other = await acme.enqueue({ prompt: "from a worker" });

  const pending = await console.query(api.jobsConsole.list, {
    workspaceId,
    status: "pending",
    paginationOpts: firstPage,
  });
  expect(pending.page.map((job) => job._id)).toEqual([other, jobId]);

  const canceled = await console.mutation(api.jobsConsole.cancel, { workspaceId, jobId });
  expect(canceled.status).toBe("canceled");
  const detail = await console.query(api.jobsConsole.get, { workspaceId, jobId });
  expect(detail?.events.map((event) => event.type)).toEqual(["enqueued", "canceled"]);
  expect((await console.mutation(api.jobsConsole.retry, { workspaceId, jobId })).status).toBe("pending");

  const done = await console.query(api.jobsConsole.list, {
    workspaceId,
    status: "canceled",
    paginationOpts: firstPage,
  });
  expect(done.page).toEqual([]);
});

test("a viewer may look but not enqueue, cancel or retry; a stranger may not look", async () => {
  const viewer = await createUser(t, "viewer@acme.test");
  await addMember(t, workspaceId, viewer, "viewer");
  const jobId = (await acme.enqueue()) as Id<"jobs">;
  const asViewer = t.withIdentity(viewer.identity);
  expect((await asViewer.query(api.jobsConsole.list, { workspaceId, paginationOpts: firstPage })).page).toHaveLength(1);
  await expect(asViewer.mutation(api.jobsConsole.cancel, { workspaceId, jobId })).rejects.toThrow(/member role/);
  await expect(
    asViewer.mutation(api.jobsConsole.enqueue, { workspaceId, repoId: acme.repoId, kind: "work", prompt: "p" }),
  ).rejects.toThrow(/member role/);

  const stranger = await createUser(t, "stranger@else.test");
  await expect(t.withIdentity(stranger.identity).query(api.jobsConsole.get, { workspaceId, jobId })).rejects.toThrow(
    /not a member/,
  );
});

test("another workspace's job is null in the Console, and cannot be canceled", async () => {
  const other = await queueWorkspace(t, "other");
  const theirJob = (await other.enqueue()) as Id<"jobs">;
  const console = t.withIdentity(acme.member.identity);
  expect(await console.query(api.jobsConsole.get, { workspaceId, jobId: theirJob })).toBeNull();
  await expect(console.mutation(api.jobsConsole.cancel, { workspaceId, jobId: theirJob })).rejects.toThrow(
    /JOB_NOT_FOUND|no job/,
  );
});

test("workers are listed most recently seen first; online is stored, turned off by the cron after 60 s of silence", async () => {
  vi.useFakeTimers({ now: 1_000_000 });
  const quiet = await acme.worker("quiet");
  vi.advanceTimersByTime(30_000);
  const busy = await acme.worker("busy");
  const draining = await acme.worker("draining", {}, "draining");
  const list = async () =>
    (
      await t.withIdentity(acme.member.identity).query(api.workers.list, { workspaceId, paginationOpts: firstPage })
    ).page.map((worker) => [worker._id, worker.online]);
  expect(await list()).toEqual([
    [draining, false],
    [busy, true],
    [quiet, true],
  ]);

  // The query reads no clock: time passing changes nothing until something is written.
  vi.advanceTimersByTime(30_000);
  expect(await list()).toEqual([
    [draining, false],
    [busy, true],
    [quiet, true],
  ]);
  // `quiet` was last seen exactly 60 s ago: the cron takes it offline, `busy` (30 s) stays.
  expect(await t.mutation(internal.workers.markSilentWorkersOffline, {})).toEqual({ markedOffline: 1 });
  expect(await list()).toEqual([
    [draining, false],
    [busy, true],
    [quiet, false],
  ]);
  vi.advanceTimersByTime(1);
  await acme.worker("quiet");
  expect((await list())[0]).toEqual([quiet, true]);
});

test("repos of the workspace only", async () => {
  const other = await queueWorkspace(t, "other");
  await ok(acme.call, "/v1/repos/upsert", { workspaceId, remoteUrlHash: "second", status: "active" });
  const { page } = await t
    .withIdentity(acme.member.identity)
    .query(api.repos.list, { workspaceId, paginationOpts: firstPage });
  expect(page.map((repo) => repo.remoteUrlHash).sort()).toEqual(["acme-origin", "second"]);
  expect(page.some((repo) => repo._id === other.repoId)).toBe(false);
});

test("a Console page holds at most 200 items whatever the client asks; the cursor goes on", async () => {
  await t.run(async (ctx) => {
    for (let i = 0; i < 205; i++)
      await enqueueJob(ctx, { workspaceId, repoId: acme.repoId, kind: "work", prompt: `job ${i}` });
  });
  const console = t.withIdentity(acme.member.identity);
  const first = await console.query(api.jobsConsole.list, {
    workspaceId,
    paginationOpts: { numItems: 10_000, cursor: null },
  });
  expect(first.page).toHaveLength(MAX_CONSOLE_PAGE_ITEMS);
  expect(first.isDone).toBe(false);
  const rest = await console.query(api.jobsConsole.list, {
    workspaceId,
    paginationOpts: { numItems: 10_000, cursor: first.continueCursor },
  });
  expect(rest.page).toHaveLength(5);
});
