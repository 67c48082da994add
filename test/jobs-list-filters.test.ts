/**
 * `/v1/jobs/list` filters (SPEC §4, issue 15 item 10): kind, workerId, createdAfter, createdBefore
 * are each honoured, alone and with the others, across pages; kind and worker are index-backed
 * (a rare kind among many jobs is found reading only its own jobs).
 */
import { beforeEach, describe, expect, test, vi } from "vitest";
import { list } from "../convex/jobs";
import { metered, type Runner } from "../scripts/bench/queue-workload";
import { expectError, ok } from "./support/api";
import { useFreshConvex, type Json } from "./support/harness";
import { queueWorkspace, type QueueWorkspace } from "./support/queue-fixtures";

const t = useFreshConvex();
let acme: QueueWorkspace;
const START = 1_700_000_000_000;
beforeEach(async () => {
  vi.useFakeTimers({ toFake: ["Date"], now: START });
  acme = await queueWorkspace(t, "acme");
});

const ids = (jobs: Json[]) => jobs.map((job) => job._id);
async function listed(filters: Json): Promise<string[]> {
  const body = await ok(acme.call, "/v1/jobs/list", { workspaceId: acme.workspaceId, limit: 200, ...filters });
  return ids(body.jobs);
}

describe("jobs/list filters", () => {
  test("kind, alone and with status", async () => {
    const work = await acme.enqueue({ kind: "work" });
    const review = await acme.enqueue({ kind: "pr_review" });
    const review2 = await acme.enqueue({ kind: "pr_review" });
    const workerId = await acme.worker("w1");
    await acme.claimJob(workerId); // claims `work` (oldest)
    expect(await listed({ kind: "pr_review" })).toEqual([review2, review]);
    expect(await listed({ kind: "work" })).toEqual([work]);
    expect(await listed({ kind: "work", status: "running" })).toEqual([work]);
    expect(await listed({ kind: "work", status: "pending" })).toEqual([]);
    expect(await listed({ kind: "screenshot" })).toEqual([]);
  });

  test("workerId: the jobs that worker claimed, finished ones included", async () => {
    const first = await acme.enqueue({ prompt: "one" });
    const second = await acme.enqueue({ prompt: "two" });
    const third = await acme.enqueue({ prompt: "three" });
    const w1 = await acme.worker("w1");
    const w2 = await acme.worker("w2");
    const a = await acme.claimJob(w1);
    await acme.lease("complete", a.jobId, w1, { outcome: "done" });
    await acme.claimJob(w2);
    await acme.claimJob(w1);
    expect(a.jobId).toBe(first);
    expect(await listed({ workerId: w1 })).toEqual([third, first]);
    expect(await listed({ workerId: w2 })).toEqual([second]);
    expect(await listed({ workerId: w1, status: "done" })).toEqual([first]);
    expect(await listed({ workerId: `workers/${w2}` })).toEqual([second]);
  });

  test("createdAfter and createdBefore are exclusive bounds, in ms or ISO 8601", async () => {
    const at = [0, 1_000, 2_000, 3_000].map((offset) => START + offset);
    const jobs: string[] = [];
    for (const time of at) {
      vi.setSystemTime(time);
      jobs.push(await acme.enqueue({ prompt: `at ${time}` }));
    }
    const created = await Promise.all(jobs.map(async (jobId) => (await acme.job(jobId))._creationTime));
    expect(await listed({ createdAfter: created[1] })).toEqual([jobs[3], jobs[2]]);
    expect(await listed({ createdBefore: created[2] })).toEqual([jobs[1], jobs[0]]);
    expect(await listed({ createdAfter: created[0], createdBefore: created[3] })).toEqual([jobs[2], jobs[1]]);
    expect(await listed({ createdAfter: new Date(START + 1_500).toISOString() })).toEqual([jobs[3], jobs[2]]);
    expect(await listed({ createdAfter: created[3], status: "pending" })).toEqual([]);
  });

  test("every filter at once, paged one job at a time, drops nothing and adds nothing", async () => {
    const otherRepo = (
      await ok(acme.call, "/v1/repos/upsert", {
        workspaceId: acme.workspaceId,
        remoteUrlHash: "other",
        status: "active",
      })
    ).repoId;
    const wanted: string[] = [];
    for (let i = 0; i < 12; i++) {
      vi.setSystemTime(START + i * 10);
      const kind = i % 2 === 0 ? "work" : "pr_review";
      const repoId = i % 3 === 0 ? otherRepo : acme.repoId;
      const jobId = await acme.enqueue({ kind, repoId, prompt: `job ${i}` });
      if (kind === "work" && repoId === acme.repoId && i >= 2) wanted.push(jobId);
    }
    const filters = { kind: "work", repoId: acme.repoId, createdAfter: START + 15, status: "pending" };
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 20; page++) {
      const body = await ok(acme.call, "/v1/jobs/list", {
        workspaceId: acme.workspaceId,
        ...filters,
        limit: 1,
        cursor,
      });
      seen.push(...ids(body.jobs));
      if (body.nextCursor === null) break;
      cursor = body.nextCursor;
    }
    expect(seen).toEqual([...wanted].reverse());
    expect(seen.length).toBeGreaterThan(0);
  });

  test("bad filter values answer INVALID_REQUEST naming the field", async () => {
    for (const [field, value] of [
      ["kind", "painting"],
      ["workerId", "not-an-id"],
      ["createdAfter", "yesterday"],
      ["createdBefore", -5],
    ] as const) {
      const response = await acme.call("/v1/jobs/list", { workspaceId: acme.workspaceId, [field]: value });
      expectError(response, 400, "INVALID_REQUEST");
      expect(response.body.message).toContain(field);
    }
  });

  test("a rare kind among 300 jobs is found reading its own jobs only (index-backed)", async () => {
    await t.run(async () => {}); // the workspace exists
    for (let i = 0; i < 300; i++) await acme.enqueue({ kind: "pr_review", prompt: `review ${i}` });
    const rare = [await acme.enqueue({ kind: "screenshot" }), await acme.enqueue({ kind: "screenshot" })];
    const args = { caller: { kind: "service" }, workspaceId: acme.workspaceId, kind: "screenshot", limit: 50 };
    const { result, metrics } = await metered(t as unknown as Runner, list, args);
    expect(ids(result.jobs)).toEqual([...rare].reverse());
    expect(result.nextCursor).toBeNull();
    expect(metrics.documentsRead).toBeLessThanOrEqual(5);
  });
});
