/**
 * Console queries the operator Console's pages need beyond the basics: job list filters
 * (status, repo, kind), counts by status, the last hour's activity chart, the paginated job
 * timeline, and each worker's current job.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { enqueueJob } from "../convex/jobs";
import { ok, rejection } from "./support/api";
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

const firstPage = { numItems: 50, cursor: null };
const asMember = () => t.withIdentity(acme.member.identity);

/** Claims the next job as `workerId` and finishes it with `outcome`. */
async function finishNext(workerId: string, outcome: "done" | "failed") {
  const claim = await acme.claimJob(workerId);
  await ok(acme.call, "/v1/jobs/complete", {
    workspaceId,
    jobId: claim.jobId,
    workerId,
    claimGeneration: claim.claimGeneration,
    outcome,
  });
  return claim.jobId as string;
}

describe("job list filters", () => {
  test("status, repo and kind narrow the list; each page is newest first", async () => {
    const secondRepo = (
      await ok(acme.call, "/v1/repos/upsert", { workspaceId, remoteUrlHash: "second", status: "active" })
    ).repoId;
    const work = await acme.enqueue({ prompt: "work in acme-origin" });
    const review = await acme.enqueue({ kind: "pr_review", prompt: "review in acme-origin" });
    const elsewhere = await acme.enqueue({ repoId: secondRepo, kind: "pr_review", prompt: "review in second" });
    const list = (filters: Record<string, unknown>) =>
      asMember()
        .query(api.jobsConsole.list, { workspaceId, paginationOpts: firstPage, ...filters })
        .then(({ page }) => page.map((job) => job._id));

    expect(await list({})).toEqual([elsewhere, review, work]);
    expect(await list({ kind: "pr_review" })).toEqual([elsewhere, review]);
    expect(await list({ repoId: acme.repoId })).toEqual([review, work]);
    expect(await list({ repoId: acme.repoId, kind: "pr_review" })).toEqual([review]);
    expect(await list({ repoId: secondRepo, kind: "work" })).toEqual([]);

    const worker = await acme.worker("w", {}); // allowed on acme-origin only: claims `work`, the oldest there
    expect(await finishNext(worker, "failed")).toBe(work);
    expect(await list({ status: "failed" })).toEqual([work]);
    expect(await list({ status: "pending", kind: "pr_review" })).toEqual([elsewhere, review]);
    expect(await list({ status: "pending", repoId: acme.repoId })).toEqual([review]);
  });

  test("the kind filter reads its own index; with a repo it applies per page and a short page carries the cursor on", async () => {
    const review = await acme.enqueue({ kind: "pr_review" });
    for (let i = 0; i < 3; i++) await acme.enqueue({ kind: "work" });
    const byKind = await asMember().query(api.jobsConsole.list, {
      workspaceId,
      kind: "pr_review",
      paginationOpts: { numItems: 2, cursor: null },
    });
    expect(byKind.page.map((job) => job._id)).toEqual([review]);
    expect(byKind.isDone).toBe(true);
    const repoId = acme.repoId as Id<"repos">;
    const first = await asMember().query(api.jobsConsole.list, {
      workspaceId,
      repoId,
      kind: "pr_review",
      paginationOpts: { numItems: 2, cursor: null },
    });
    expect(first.page).toEqual([]);
    expect(first.isDone).toBe(false);
    const second = await asMember().query(api.jobsConsole.list, {
      workspaceId,
      repoId,
      kind: "pr_review",
      paginationOpts: { numItems: 2, cursor: first.continueCursor },
    });
    expect(second.page.map((job) => job.kind)).toEqual(["pr_review"]);
  });

  test("another workspace's repo is refused, not silently empty", async () => {
    const other = await queueWorkspace(t, "other");
    const refused = await rejection(
      asMember().query(api.jobsConsole.list, {
        workspaceId,
        repoId: other.repoId as Id<"repos">,
        paginationOpts: firstPage,
      }),
    );
    expect(refused.code).toBe("REPO_NOT_FOUND");
  });
});

describe("counts by status", () => {
  test("every status is counted, with zeros, and only this workspace's jobs", async () => {
    const other = await queueWorkspace(t, "other");
    await other.enqueue();
    for (let i = 0; i < 4; i++) await acme.enqueue({ prompt: `job ${i}` });
    const worker = await acme.worker("w");
    await finishNext(worker, "done");
    await finishNext(worker, "failed");
    await acme.claimJob(worker);
    // Two jobs of one concurrency key (limit 1): one pending, one waiting.
    for (let i = 0; i < 2; i++) await acme.enqueue({ prompt: `keyed ${i}`, concurrencyKey: "deploy", priority: 9 });

    const counts = await asMember().query(api.jobsConsole.counts, { workspaceId });
    expect(counts).toEqual([
      { status: "scheduled", count: 0, complete: true },
      { status: "waiting", count: 1, complete: true },
      { status: "pending", count: 2, complete: true },
      { status: "running", count: 1, complete: true },
      { status: "done", count: 1, complete: true },
      { status: "failed", count: 1, complete: true },
      { status: "blocked", count: 0, complete: true },
      { status: "canceled", count: 0, complete: true },
    ]);
  });

  test("a count stops at 1,000 and says it is a lower bound", async () => {
    await t.run(async (ctx) => {
      for (let i = 0; i < 1_001; i++) {
        await ctx.db.insert("jobs", {
          workspaceId,
          repoId: acme.repoId as Id<"repos">,
          kind: "work",
          role: "implementer",
          prompt: "old",
          requirements: {},
          requirementsKey: "",
          priority: 0,
          lane: "worker",
          status: "done",
          attempts: 1,
          maxAttempts: 3,
          claimGeneration: 1,
          cancelRequested: false,
          nextEventSeq: 2,
          updatedAt: 0,
        });
      }
    });
    const counts = await asMember().query(api.jobsConsole.counts, { workspaceId });
    expect(counts.find((row) => row.status === "done")).toEqual({ status: "done", count: 1_000, complete: false });
  });

  test("a stranger may not count", async () => {
    const stranger = await queueWorkspace(t, "stranger");
    expect(
      (await rejection(t.withIdentity(stranger.member.identity).query(api.jobsConsole.counts, { workspaceId }))).code,
    ).toBe("FORBIDDEN");
  });
});

describe("activity of the last hour", () => {
  test("jobs created since `since` land in 5-minute buckets by their status now", async () => {
    // Within the member token's lifetime, on a whole minute.
    const start = Math.ceil(Date.now() / 60_000) * 60_000 + 3_600_000;
    vi.useFakeTimers({ toFake: ["Date"], now: start - 60_000 });
    await acme.enqueue({ prompt: "before the window" });
    vi.setSystemTime(start + 1_000);
    await acme.enqueue({ prompt: "first bucket" });
    vi.setSystemTime(start + 12 * 60_000);
    const third = await acme.enqueue({ prompt: "third bucket" });
    vi.setSystemTime(start + 59 * 60_000);
    await acme.enqueue({ prompt: "last bucket" });
    await asMember().mutation(api.jobsConsole.cancel, { workspaceId, jobId: third as Id<"jobs"> });

    const chart = await asMember().query(api.jobsConsole.activity, { workspaceId, since: start });
    expect(chart.complete).toBe(true);
    expect(chart.bucketMs).toBe(5 * 60_000);
    expect(chart.buckets).toHaveLength(12);
    expect(chart.buckets.map((bucket) => bucket.start)).toEqual(
      Array.from({ length: 12 }, (_, index) => start + index * 5 * 60_000),
    );
    const nonEmpty = chart.buckets.flatMap((bucket, index) =>
      Object.entries(bucket.counts)
        .filter(([, count]) => count > 0)
        .map(([status, count]) => [index, status, count]),
    );
    expect(nonEmpty).toEqual([
      [0, "pending", 1],
      [2, "canceled", 1],
      [11, "pending", 1],
    ]);
  });
});

describe("job timeline pages", () => {
  test("events come oldest first, page by page; another workspace's job is refused", async () => {
    const worker = await acme.worker("w");
    const jobId = await acme.enqueue();
    const claim = await acme.claimJob(worker);
    for (const line of ["one", "two", "three"]) {
      await ok(acme.call, "/v1/jobs/log", {
        workspaceId,
        jobId,
        workerId: worker,
        claimGeneration: claim.claimGeneration,
        lines: [line],
      });
    }
    const first = await asMember().query(api.jobsConsole.events, {
      workspaceId,
      jobId: jobId as Id<"jobs">,
      paginationOpts: { numItems: 3, cursor: null },
    });
    expect(first.page.map((event) => [event.seq, event.type])).toEqual([
      [1, "enqueued"],
      [2, "claimed"],
      [3, "log"],
    ]);
    const rest = await asMember().query(api.jobsConsole.events, {
      workspaceId,
      jobId: jobId as Id<"jobs">,
      paginationOpts: { numItems: 10, cursor: first.continueCursor },
    });
    expect(rest.page.map((event) => event.seq)).toEqual([4, 5]);
    expect(rest.isDone).toBe(true);

    const other = await queueWorkspace(t, "other");
    const theirs = (await other.enqueue()) as Id<"jobs">;
    expect(
      (
        await rejection(
          asMember().query(api.jobsConsole.events, { workspaceId, jobId: theirs, paginationOpts: firstPage }),
        )
      ).code,
    ).toBe("JOB_NOT_FOUND");
  });
});

describe("workers with their current job", () => {
  test("a worker holding a running job lists it; an idle one lists none", async () => {
    const busy = await acme.worker("busy");
    const idle = await acme.worker("idle");
    const jobId = await acme.enqueue({ kind: "pr_review" });
    await acme.claimJob(busy);
    await t.run((ctx) =>
      enqueueJob(ctx, { workspaceId, repoId: acme.repoId, kind: "work", prompt: "waiting, held by no one" }),
    );

    const { page } = await asMember().query(api.workers.list, { workspaceId, paginationOpts: firstPage });
    const byId = new Map(page.map((worker) => [worker._id as string, worker.currentJobs]));
    expect(byId.get(busy)).toEqual([{ _id: jobId, kind: "pr_review", claimedAt: expect.any(Number) }]);
    expect(byId.get(idle)).toEqual([]);
  });
});
