/** Runs (SPEC §7): `/v1/runs/upsert`, `/v1/runs/get`, `/v2/runs/upsert`, runRef on jobs, Console run list and detail. */
import { describe, expect, test, vi } from "vitest";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { addMember, createUser, deviceToken, workspaceWithMember } from "./support/fixtures";
import { useFreshConvex } from "./support/harness";
import { caller, createRepo, expectError, ok, type Call } from "./support/api";
import { createRun, raise, uncertaintyBody } from "./support/runs-fixtures";

const t = useFreshConvex();

/** Two workspaces, each with a member token and a repo. */
async function twoWorkspaces() {
  const acme = await workspaceWithMember(t, "acme");
  const other = await workspaceWithMember(t, "other");
  const call = caller(t, acme.token);
  const otherCall = caller(t, other.token);
  return {
    acme: { ...acme, call, repoId: await createRepo(call, acme.workspaceId) },
    other: { ...other, call: otherCall, repoId: await createRepo(otherCall, other.workspaceId) },
  };
}

async function runDoc(runId: string) {
  return await t.run(async (ctx) => ctx.db.get(runId as Id<"runs">));
}

describe("/v1/runs/upsert", () => {
  test("creates a run, then updates the same (repo, runRef); another ref or repo is another run", async () => {
    const { acme } = await twoWorkspaces();
    const { workspaceId, repoId, call } = acme;
    const first = await ok(call, "/v1/runs/upsert", {
      workspaceId,
      repoId: `repos/${repoId}`,
      runRef: "20260214-user-settings",
      status: "queued",
      currentMilestone: "planning",
      runStatePath: "docs/ias/runs/20260214-user-settings/state.json",
      goal: "Add user settings",
      someFutureField: true,
    });
    expect(first).toEqual({ ok: true, runId: expect.any(String), created: true });

    const again = await ok(call, "/v1/runs/upsert", {
      workspaceId,
      repoId,
      runRef: "20260214-user-settings",
      status: "in_progress",
      currentMilestone: "implementation",
    });
    expect(again).toEqual({ ok: true, runId: first.runId, created: false });
    expect(await runDoc(first.runId)).toMatchObject({
      status: "in_progress",
      currentMilestone: "implementation",
      runStatePath: "docs/ias/runs/20260214-user-settings/state.json",
      goal: "Add user settings",
    });

    const otherRef = await ok(call, "/v1/runs/upsert", {
      workspaceId,
      repoId,
      runRef: "20260215-billing",
      status: "queued",
    });
    expect(otherRef.created).toBe(true);
    const otherRepo = await createRepo(call, workspaceId, "hash-of-second-origin");
    const sameRefOtherRepo = await ok(call, "/v1/runs/upsert", {
      workspaceId,
      repoId: otherRepo,
      runRef: "20260214-user-settings",
      status: "queued",
    });
    expect(sameRefOtherRepo.created).toBe(true);
    expect(new Set([first.runId, otherRef.runId, sameRefOtherRepo.runId]).size).toBe(3);
  });

  test("null clears an optional field; leaving it out keeps it", async () => {
    const { acme } = await twoWorkspaces();
    const body = { workspaceId: acme.workspaceId, repoId: acme.repoId, runRef: "r1", status: "in_progress" };
    const { runId } = await ok(acme.call, "/v1/runs/upsert", {
      ...body,
      currentMilestone: "m1",
      runStatePath: "state.json",
    });
    await ok(acme.call, "/v1/runs/upsert", { ...body, runStatePath: null });
    const run = await runDoc(runId);
    expect(run?.currentMilestone).toBe("m1");
    expect(run?.runStatePath).toBeUndefined();
  });

  test("a repo of another workspace answers REPO_NOT_FOUND; another workspace FORBIDDEN; bad input 400", async () => {
    const { acme, other } = await twoWorkspaces();
    const body = { workspaceId: acme.workspaceId, runRef: "r1", status: "queued" };
    expectError(await acme.call("/v1/runs/upsert", { ...body, repoId: other.repoId }), 404, "REPO_NOT_FOUND");
    expectError(
      await acme.call("/v1/runs/upsert", { ...body, workspaceId: other.workspaceId, repoId: other.repoId }),
      403,
      "FORBIDDEN",
    );
    expectError(await acme.call("/v1/runs/upsert", { ...body, repoId: "not-an-id" }), 400, "INVALID_REQUEST");
    expectError(
      await acme.call("/v1/runs/upsert", { ...body, repoId: acme.repoId, status: "paused" }),
      400,
      "INVALID_REQUEST",
    );
    expectError(
      await acme.call("/v1/runs/upsert", { ...body, repoId: acme.repoId, runRef: "" }),
      400,
      "INVALID_REQUEST",
    );
    expect(await t.run((ctx) => ctx.db.query("runs").collect())).toEqual([]);
  });

  test("viewers may not upsert runs", async () => {
    const owner = await workspaceWithMember(t, "acme", "owner");
    const repoId = await createRepo(caller(t, owner.token), owner.workspaceId);
    const viewer = await createUser(t, "viewer@acme.test");
    await addMember(t, owner.workspaceId, viewer, "viewer");
    const { token } = await deviceToken(t, owner.workspaceId, viewer);
    const response = await caller(t, token)("/v1/runs/upsert", {
      workspaceId: owner.workspaceId,
      repoId,
      runRef: "r",
      status: "queued",
    });
    expectError(response, 403, "FORBIDDEN");
  });
});

describe("/v1/runs/get", () => {
  test("the run by id (a `runs/` prefix accepted), viewers included; null when missing or another workspace's", async () => {
    const { acme, other } = await twoWorkspaces();
    const runId = await createRun(acme.call, acme.workspaceId, acme.repoId, "r-get");
    const theirs = await createRun(other.call, other.workspaceId, other.repoId, "r-theirs");
    const viewer = await createUser(t, "viewer@acme.test");
    await addMember(t, acme.workspaceId, viewer, "viewer");
    const asViewer = caller(t, (await deviceToken(t, acme.workspaceId, viewer)).token);
    const { run } = await ok(asViewer, "/v1/runs/get", { workspaceId: acme.workspaceId, runId: `runs/${runId}` });
    expect(run).toEqual(await runDoc(runId));
    expect(run).toMatchObject({ runRef: "r-get", repoId: acme.repoId, status: "in_progress" });
    expect(await ok(acme.call, "/v1/runs/get", { workspaceId: acme.workspaceId, runId: theirs })).toEqual({
      ok: true,
      run: null,
    });
    await t.run((ctx) => ctx.db.delete(runId as Id<"runs">));
    expect((await ok(acme.call, "/v1/runs/get", { workspaceId: acme.workspaceId, runId })).run).toBeNull();
    expectError(
      await acme.call("/v1/runs/get", { workspaceId: acme.workspaceId, runId: "not-an-id" }),
      400,
      "INVALID_REQUEST",
    );
  });
});

describe("runRef on jobs", () => {
  async function queue() {
    const { acme } = await twoWorkspaces();
    const runId = await createRun(acme.call, acme.workspaceId, acme.repoId, "r-one");
    const { workerId } = await ok(acme.call, "/v1/workers/heartbeat", {
      workspaceId: acme.workspaceId,
      displayName: "w",
      status: "online",
      capabilities: { reposAllowed: [acme.repoId] },
    });
    const enqueue = async (fields: Record<string, unknown> = {}) =>
      (
        await ok(acme.call, "/v1/jobs/enqueue", {
          workspaceId: acme.workspaceId,
          repoId: acme.repoId,
          kind: "work",
          prompt: "p",
          ...fields,
        })
      ).jobId as string;
    const job = async (jobId: string) =>
      (await ok(acme.call, "/v1/jobs/get", { workspaceId: acme.workspaceId, jobId })).job;
    return { acme, runId, workerId, enqueue, job };
  }

  test("set at enqueue from the run; a job without a run has none", async () => {
    const { acme, runId, enqueue, job } = await queue();
    const ofRun = await enqueue({ runId });
    expect(await job(ofRun)).toMatchObject({ runId, runRef: "r-one" });
    expect(await job(await enqueue())).not.toHaveProperty("runRef");
    const console = t.withIdentity(acme.member.identity);
    const detail = await console.query(api.runs.get, { workspaceId: acme.workspaceId, runId: runId as Id<"runs"> });
    expect(detail?.jobs[0]).toMatchObject({ _id: ofRun, runRef: "r-one" });
  });

  test("complete with a runId attaches that run's runRef (also replacing another run's)", async () => {
    const { acme, runId, workerId, enqueue, job } = await queue();
    const second = await createRun(acme.call, acme.workspaceId, acme.repoId, "r-two");
    for (const [fields, expected] of [
      [{}, { runId: second, runRef: "r-two" }],
      [{ runId }, { runId: second, runRef: "r-two" }],
    ] as const) {
      const jobId = await enqueue(fields);
      const claim = await ok(acme.call, "/v1/jobs/claim-next", { workspaceId: acme.workspaceId, workerId });
      expect(claim.jobId).toBe(jobId);
      await ok(acme.call, "/v1/jobs/complete", {
        workspaceId: acme.workspaceId,
        jobId,
        workerId,
        outcome: "done",
        runId: second,
      });
      expect(await job(jobId)).toMatchObject(expected);
    }
  });

  test("a job stored before jobs carried runRef gets it at its claim", async () => {
    const { acme, runId, workerId, enqueue, job } = await queue();
    const jobId = await enqueue({ runId });
    await t.run((ctx) => ctx.db.patch(jobId as Id<"jobs">, { runRef: undefined }));
    expect(await job(jobId)).not.toHaveProperty("runRef");
    const claim = await ok(acme.call, "/v1/jobs/claim-next", { workspaceId: acme.workspaceId, workerId });
    expect(claim.job).toMatchObject({ _id: jobId, runRef: "r-one" });
    expect(await job(jobId)).toMatchObject({ runRef: "r-one" });
  });
});

describe("/v2/runs/upsert", () => {
  test("updates only the fields sent", async () => {
    const { acme } = await twoWorkspaces();
    const runId = await createRun(acme.call, acme.workspaceId, acme.repoId);
    const updated = await ok(acme.call, "/v2/runs/upsert", {
      workspaceId: acme.workspaceId,
      runId: `runs/${runId}`,
      status: "done",
      currentMilestone: "complete",
    });
    expect(updated).toEqual({ ok: true, runId });
    expect(await runDoc(runId)).toMatchObject({
      status: "done",
      currentMilestone: "complete",
      goal: "Add user settings",
    });
    await ok(acme.call, "/v2/runs/upsert", { workspaceId: acme.workspaceId, runId, runStatePath: "s.json" });
    expect(await runDoc(runId)).toMatchObject({ status: "done", runStatePath: "s.json" });
  });

  test("a run of another workspace answers exactly like a missing one", async () => {
    const { acme, other } = await twoWorkspaces();
    const otherRunId = await createRun(other.call, other.workspaceId, other.repoId);
    const foreign = await acme.call("/v2/runs/upsert", {
      workspaceId: acme.workspaceId,
      runId: otherRunId,
      status: "done",
    });
    expectError(foreign, 404, "RUN_NOT_FOUND");
    // A run id that no longer exists.
    const goneId = await createRun(acme.call, acme.workspaceId, acme.repoId, "gone");
    await t.run((ctx) => ctx.db.delete(goneId as Id<"runs">));
    const missing = await acme.call("/v2/runs/upsert", {
      workspaceId: acme.workspaceId,
      runId: goneId,
      status: "done",
    });
    expectError(missing, 404, "RUN_NOT_FOUND");
    expect(missing.body.message).toBe(foreign.body.message);
    expectError(
      await acme.call("/v2/runs/upsert", { workspaceId: acme.workspaceId, runId: acme.repoId }),
      400,
      "INVALID_REQUEST",
    );
    expect((await runDoc(otherRunId))?.status).toBe("in_progress");
  });

  test("blockedByDecisionRequestId must be a decision request of the workspace", async () => {
    const { acme, other } = await twoWorkspaces();
    const runId = await createRun(acme.call, acme.workspaceId, acme.repoId);
    const otherRunId = await createRun(other.call, other.workspaceId, other.repoId);
    const foreign = await raise(other.call, uncertaintyBody(other.workspaceId, otherRunId, "blocker"));
    const refused = await acme.call("/v2/runs/upsert", {
      workspaceId: acme.workspaceId,
      runId,
      status: "blocked",
      blockedByDecisionRequestId: foreign.decisionRequestId,
    });
    expectError(refused, 404, "DECISION_REQUEST_NOT_FOUND");
    const own = await raise(acme.call, uncertaintyBody(acme.workspaceId, runId, "blocker"));
    await ok(acme.call, "/v2/runs/upsert", {
      workspaceId: acme.workspaceId,
      runId,
      status: "blocked",
      blockedByDecisionRequestId: `decisionRequests/${own.decisionRequestId}`,
    });
    expect(await runDoc(runId)).toMatchObject({ status: "blocked", blockedByDecisionRequestId: own.decisionRequestId });
  });
});

describe("Console runs", () => {
  /** Moves the clock a second on, so `updatedAt` orders runs without ties. */
  const tick = () => vi.setSystemTime(Date.now() + 1_000);

  async function seedRuns(call: Call, workspaceId: string, repoId: string) {
    const ids: string[] = [];
    for (const [runRef, status] of [
      ["a", "queued"],
      ["b", "done"],
      ["c", "in_progress"],
      ["d", "done"],
    ]) {
      tick();
      ids.push((await ok(call, "/v1/runs/upsert", { workspaceId, repoId, runRef, status })).runId);
    }
    return ids;
  }

  test("list: most recently updated first, by status, paginated; members only", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const { acme, other } = await twoWorkspaces();
    const [a, b, c, d] = await seedRuns(acme.call, acme.workspaceId, acme.repoId);
    await seedRuns(other.call, other.workspaceId, other.repoId);
    // Touch `a` so it becomes the most recently updated.
    tick();
    await ok(acme.call, "/v2/runs/upsert", { workspaceId: acme.workspaceId, runId: a, currentMilestone: "m" });
    const asMember = t.withIdentity(acme.member.identity);
    const workspaceId = acme.workspaceId;
    const firstPage = await asMember.query(api.runs.list, {
      workspaceId,
      paginationOpts: { numItems: 3, cursor: null },
    });
    expect(firstPage.page.map((run) => run._id)).toEqual([a, d, c]);
    const secondPage = await asMember.query(api.runs.list, {
      workspaceId,
      paginationOpts: { numItems: 3, cursor: firstPage.continueCursor },
    });
    expect(secondPage.page.map((run) => run._id)).toEqual([b]);
    expect(secondPage.isDone).toBe(true);
    const done = await asMember.query(api.runs.list, {
      workspaceId,
      status: "done",
      paginationOpts: { numItems: 10, cursor: null },
    });
    expect(done.page.map((run) => run._id)).toEqual([d, b]);

    const outsider = t.withIdentity(other.member.identity);
    await expect(
      outsider.query(api.runs.list, { workspaceId, paginationOpts: { numItems: 3, cursor: null } }),
    ).rejects.toThrow(/not a member/);
  });

  test("get: the run with its jobs, decisions and milestone history; null for another workspace", async () => {
    const { acme, other } = await twoWorkspaces();
    const runId = await createRun(acme.call, acme.workspaceId, acme.repoId);
    for (const milestone of ["planning", "implementation", "implementation", "review"]) {
      await ok(acme.call, "/v2/runs/upsert", { workspaceId: acme.workspaceId, runId, currentMilestone: milestone });
    }
    const { jobId } = await ok(acme.call, "/v1/jobs/enqueue", {
      workspaceId: acme.workspaceId,
      repoId: acme.repoId,
      runId,
      kind: "work",
      prompt: "Implement the settings page",
    });
    const raised = await raise(acme.call, uncertaintyBody(acme.workspaceId, runId, "checkpoint"));

    const asMember = t.withIdentity(acme.member.identity);
    const detail = await asMember.query(api.runs.get, { workspaceId: acme.workspaceId, runId: runId as Id<"runs"> });
    expect(detail?.run).toMatchObject({ _id: runId, runRef: "20260214-user-settings", currentMilestone: "review" });
    expect(detail?.milestones.map((m) => m.milestone)).toEqual(["review", "implementation", "planning"]);
    expect(detail?.jobs.map((job) => job._id)).toEqual([jobId]);
    expect(detail?.decisions.map((decision) => decision._id)).toEqual([raised.decisionRequestId]);
    expect(detail?.blockedBy).toBeNull();

    const otherRunId = await createRun(other.call, other.workspaceId, other.repoId);
    expect(
      await asMember.query(api.runs.get, { workspaceId: acme.workspaceId, runId: otherRunId as Id<"runs"> }),
    ).toBeNull();
  });
});
