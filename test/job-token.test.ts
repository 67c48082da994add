/**
 * Job tokens (IAS_JOB_TOKEN): minted by claim-next, stored hashed, good for the `/v1/job/*`
 * routes of that job's current claim only; what the job reports is merged into its worker's
 * completion (blocked wins over done and failed, proposed children spawn with it).
 */
import { beforeEach, describe, expect, test, vi } from "vitest";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { routes } from "../convex/api/routes";
import { sha256Hex } from "../convex/model/tokens";
import { caller, expectError, ok, type Call } from "./support/api";
import { SERVICE_TOKEN } from "./support/fixtures";
import { useFreshConvex, type Json } from "./support/harness";
import { eventTypes, queueWorkspace, type QueueWorkspace } from "./support/queue-fixtures";
import { sampleBody } from "./support/route-samples";
import { createRun, uncertaintyBody } from "./support/runs-fixtures";

const t = useFreshConvex();
let acme: QueueWorkspace;
beforeEach(async () => {
  acme = await queueWorkspace(t, "acme");
});

/** A claimed job of a run: its id, the worker, the claim's generation and the job token. */
async function claimedJob(fields: Json = {}) {
  const runId = await createRun(acme.call, acme.workspaceId, acme.repoId);
  const jobId = await acme.enqueue({ runId, ...fields });
  const workerId = await acme.worker("w1");
  const claim = await acme.claimJob(workerId);
  expect(claim.jobId).toBe(jobId);
  return { runId, jobId, workerId, claimGeneration: claim.claimGeneration as number, jobToken: claim.jobToken };
}

const asJob = (token: string): Call => caller(t, token);
const complete = (jobId: string, workerId: string, fields: Json) =>
  acme.lease("complete", jobId, workerId, { outcome: "done", ...fields });

describe("minting", () => {
  test("claim-next hands out a job token; only its hash is stored and no read returns it", async () => {
    const { jobId, jobToken } = await claimedJob();
    expect(jobToken).toMatch(new RegExp(`^ias_job_${jobId}\\.[A-Za-z0-9_-]{43}$`));
    const secret = jobToken.slice(jobToken.indexOf(".") + 1);
    const stored = await t.run(async (ctx) => ctx.db.get(jobId as Id<"jobs">));
    expect(stored!.jobTokenHash).toBe(await sha256Hex(secret));
    const everything = JSON.stringify([await acme.job(jobId), await acme.events(jobId)]);
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(stored!.jobTokenHash);
  });

  test("each claim gets a new token; the earlier claim's stops working", async () => {
    vi.useFakeTimers({ now: 5_000_000 });
    const first = await claimedJob();
    vi.advanceTimersByTime(10_000 * 61);
    await t.finishInProgressScheduledFunctions(); // lease recovery: the job is pending again
    const second = await acme.claimJob(first.workerId);
    expect(second.claimGeneration).toBe(first.claimGeneration + 1);
    expect(second.jobToken).not.toBe(first.jobToken);
    expectError(await asJob(first.jobToken)("/v1/job/milestone", { milestone: "m" }), 401, "INVALID_TOKEN");
    await ok(asJob(second.jobToken), "/v1/job/milestone", { milestone: "m" });
  });
});

describe("scope", () => {
  test("every route outside /v1/job/* refuses a job token with 403 TOKEN_SCOPE", async () => {
    const { jobToken, jobId, workerId, runId } = await claimedJob();
    const real: Record<string, string> = {
      workspaces: acme.workspaceId,
      jobs: jobId,
      workers: workerId,
      runs: runId,
      repos: acme.repoId,
    };
    const ids = (table: string) => real[table] ?? `${"9".repeat(32 - table.length)}${table}`;
    const others = routes.filter((route) => route.auth === "bearer");
    expect(others.length).toBeGreaterThan(20);
    for (const route of others) {
      const response = await t.fetch(route.path, {
        method: route.method,
        headers: { authorization: `Bearer ${jobToken}`, "content-type": "application/json" },
        ...(route.method === "POST" ? { body: JSON.stringify(sampleBody(route, ids)) } : {}),
      });
      const body = await response.json();
      expect([route.path, response.status, body.error]).toEqual([route.path, 403, "TOKEN_SCOPE"]);
      expect(body.message).not.toContain(jobToken);
    }
    // Not even its own job's worker routes, nor the admin routes, got anything done.
    expect((await acme.job(jobId)).status).toBe("running");
    expect(await eventTypes(acme, jobId)).toEqual(["enqueued", "claimed"]);
  });

  test("the /v1/job/* routes refuse every other token (member, service) with 403 TOKEN_SCOPE, no token with 401", async () => {
    await claimedJob();
    for (const token of [acme.token, SERVICE_TOKEN]) {
      expectError(await caller(t, token)("/v1/job/report", { outcome: "blocked", reason: "x" }), 403, "TOKEN_SCOPE");
    }
    const bare = await t.fetch("/control-plane/v1/job/report", { method: "POST", body: "{}" });
    expect(bare.status).toBe(401);
    expect((await bare.json()).error).toBe("MISSING_TOKEN");
  });

  test("wrong, garbled or another job's tokens are 401 INVALID_TOKEN; a token never acts on another job", async () => {
    const mine = await claimedJob();
    const otherJob = await acme.enqueue({ prompt: "another" });
    await acme.claimJob(await acme.worker("w2"));
    const secret = mine.jobToken.slice(mine.jobToken.indexOf(".") + 1);
    const forgeries = [
      `ias_job_${mine.jobId}.${secret.slice(0, -1)}${secret.endsWith("A") ? "B" : "A"}`, // one character off
      `ias_job_${otherJob}.${secret}`, // my secret on the other job
      `ias_job_not-an-id.${secret}`,
      `ias_job_${mine.jobId}.`,
      "ias_job_",
    ];
    for (const token of forgeries) {
      const response = await asJob(token)("/v1/job/milestone", { milestone: "forged" });
      expectError(response, 401, "INVALID_TOKEN");
      expect(response.body.message).not.toContain(secret);
    }
    // The token names its job: a body naming the other job is a worker route, out of scope.
    const onOther = await asJob(mine.jobToken)("/v1/jobs/log", {
      workspaceId: acme.workspaceId,
      jobId: otherJob,
      workerId: mine.workerId,
      lines: ["x"],
    });
    expectError(onOther, 403, "TOKEN_SCOPE");
    expect(await eventTypes(acme, otherJob)).toEqual(["enqueued", "claimed"]);
  });

  test("once the job is finished the token is 401 EXPIRED_TOKEN, also after its lease ran out", async () => {
    const finished = await claimedJob();
    await ok(acme.call, "/v1/jobs/complete", {
      workspaceId: acme.workspaceId,
      jobId: finished.jobId,
      workerId: finished.workerId,
      outcome: "done",
    });
    expectError(await asJob(finished.jobToken)("/v1/job/log", { lines: ["late"] }), 401, "EXPIRED_TOKEN");

    vi.useFakeTimers({ toFake: ["Date"], now: 50_000_000 });
    const lapsed = await acme.enqueue({ prompt: "lapsing" });
    const { jobToken } = await acme.claimJob(finished.workerId, { leaseMs: 10_000 });
    vi.setSystemTime(50_010_001); // expired, not yet recovered
    expectError(await asJob(jobToken)("/v1/job/report", { evidence: { a: 1 } }), 401, "EXPIRED_TOKEN");
    expect((await acme.job(lapsed)).status).toBe("running");
  });
});

describe("what the job reports, merged into the completion", () => {
  test("a reported blocked wins over done: reason as message, a v1 reason, evidence merged", async () => {
    const { jobId, workerId, jobToken } = await claimedJob();
    const job = asJob(jobToken);
    await ok(job, "/v1/job/report", { evidence: { prUrl: "https://example.test/pr/1", tests: "red" } });
    const reported = await ok(job, "/v1/job/report", {
      outcome: "blocked",
      reason: "Needs a database choice",
      evidence: { tests: "green" },
    });
    expect(reported).toMatchObject({
      outcome: "blocked",
      reason: "Needs a database choice",
      evidence: { prUrl: "https://example.test/pr/1", tests: "green" },
    });
    const done = await complete(jobId, workerId, { evidence: { headSha: "abc", tests: "unknown" } });
    expect(done.body.result).toEqual({ jobId, status: "blocked", idempotent: false });
    expect(await acme.job(jobId)).toMatchObject({
      status: "blocked",
      outcome: "blocked",
      message: "Needs a database choice",
      outcomeReason: { version: 1, category: "blocked", code: "blocked_by_job", retryable: false },
      evidence: { headSha: "abc", prUrl: "https://example.test/pr/1", tests: "green" },
    });
    const last = (await acme.events(jobId)).at(-1);
    expect(last).toMatchObject({ type: "blocked", data: { workerOutcome: "done" } });
    // The worker repeating its completion (a lost answer) is recognised as the same one.
    expect((await complete(jobId, workerId, {})).body.result).toEqual({ jobId, status: "blocked", idempotent: true });
  });

  test("blocked wins over failed, not over canceled; evidence alone changes no outcome", async () => {
    const failing = await claimedJob();
    await ok(asJob(failing.jobToken), "/v1/job/report", { outcome: "blocked", reason: "stuck" });
    await complete(failing.jobId, failing.workerId, { outcome: "failed", outcomeReason: "exit_code_1" });
    expect((await acme.job(failing.jobId)).status).toBe("blocked");

    const canceled = await acme.enqueue({ prompt: "cancel me" });
    const second = await acme.claimJob(failing.workerId);
    await ok(asJob(second.jobToken), "/v1/job/report", { outcome: "blocked", reason: "stuck" });
    await complete(canceled, failing.workerId, { outcome: "canceled" });
    expect((await acme.job(canceled)).status).toBe("canceled");

    const plain = await acme.enqueue({ prompt: "evidence only" });
    const third = await acme.claimJob(failing.workerId);
    await ok(asJob(third.jobToken), "/v1/job/report", { evidence: { note: "fine" } });
    await complete(plain, failing.workerId, {});
    expect(await acme.job(plain)).toMatchObject({ status: "done", evidence: { note: "fine" } });
  });

  test("a report of an earlier claim is not merged into a later one", async () => {
    vi.useFakeTimers({ now: 7_000_000 });
    const first = await claimedJob();
    await ok(asJob(first.jobToken), "/v1/job/report", { outcome: "blocked", reason: "first attempt" });
    vi.advanceTimersByTime(10_000 * 61);
    await t.finishInProgressScheduledFunctions();
    await acme.claimJob(first.workerId);
    await complete(first.jobId, first.workerId, {});
    expect((await acme.job(first.jobId)).status).toBe("done");
  });

  test("proposed children are spawned with the completion, repo and run defaulted to the job's", async () => {
    const { jobId, workerId, jobToken, runId } = await claimedJob();
    const proposed = await ok(asJob(jobToken), "/v1/job/children", {
      children: [
        { kind: "pr_review", prompt: "Review it" },
        { kind: "work", prompt: "Then this", priority: 3 },
      ],
    });
    expect(proposed.proposed).toBe(2);
    expect((await acme.job(jobId)).spawnedJobIds).toBeUndefined(); // nothing enqueued before the completion
    const answer = await complete(jobId, workerId, {});
    const spawned = answer.body.result.spawnedJobIds;
    expect(spawned).toHaveLength(2);
    const [review, then] = await Promise.all(spawned.map((id: string) => acme.job(id)));
    expect(review).toMatchObject({
      kind: "pr_review",
      parentJobId: jobId,
      repoId: acme.repoId,
      runId,
      status: "pending",
    });
    expect(then).toMatchObject({ kind: "work", priority: 3, parentJobId: jobId });
    // Repeated completion: answered once, nothing enqueued twice.
    expect((await complete(jobId, workerId, {})).body.result).toMatchObject({
      idempotent: true,
      spawnedJobIds: spawned,
    });
    expect((await ok(acme.call, "/v1/jobs/list", { workspaceId: acme.workspaceId })).jobs).toHaveLength(3);
  });

  test("complete-and-enqueue-children spawns the proposed children before its own, in one transaction", async () => {
    const { jobId, workerId, jobToken } = await claimedJob();
    await ok(asJob(jobToken), "/v1/job/children", { children: [{ kind: "work", prompt: "proposed" }] });
    const answer = await ok(acme.call, "/v1/jobs/complete-and-enqueue-children", {
      workspaceId: acme.workspaceId,
      jobId,
      workerId,
      outcome: "done",
      idempotencyKey: "finish-1",
      children: [{ repoId: acme.repoId, kind: "work", prompt: "the worker's" }],
    });
    const prompts = await Promise.all(
      answer.result.spawnedJobIds.map(async (id: string) => (await acme.job(id)).prompt),
    );
    expect(prompts).toEqual(["proposed", "the worker's"]);
  });

  test("a failed job spawns no proposed children; a bad child is refused when proposed", async () => {
    const { jobId, workerId, jobToken } = await claimedJob();
    const job = asJob(jobToken);
    expectError(
      await job("/v1/job/children", {
        children: [{ kind: "work", prompt: "x", repoId: "99999999999999999999999999repos" }],
      }),
      404,
      "REPO_NOT_FOUND",
    );
    expectError(await job("/v1/job/children", { children: [{ kind: "nope", prompt: "x" }] }), 400, "INVALID_REQUEST");
    await ok(job, "/v1/job/children", { children: [{ kind: "work", prompt: "only if it worked" }] });
    const answer = await complete(jobId, workerId, { outcome: "failed", outcomeReason: "exit_code_2" });
    expect(answer.body.result).toEqual({ jobId, status: "failed", idempotent: false });
    expect((await ok(acme.call, "/v1/jobs/list", { workspaceId: acme.workspaceId })).jobs).toHaveLength(1);
  });

  test("at most 100 children per claim", async () => {
    const { jobToken } = await claimedJob();
    const child = { kind: "work", prompt: "c" };
    await ok(asJob(jobToken), "/v1/job/children", { children: new Array(100).fill(child) });
    expectError(await asJob(jobToken)("/v1/job/children", { children: [child] }), 400, "INVALID_REQUEST");
  });
});

describe("the job's run", () => {
  test("an uncertainty becomes an Inbox decision request; blocking then blocks the run on it", async () => {
    const { jobId, workerId, jobToken, runId } = await claimedJob();
    const { workspaceId: _w, runId: _r, ...fields } = uncertaintyBody(acme.workspaceId, runId, "blocker");
    const raised = await ok(asJob(jobToken), "/v1/job/uncertainties/create", fields);
    expect(raised).toMatchObject({ promoted: true, tier: "blocker", decisionRequestId: expect.any(String) });
    const inbox = await t.withIdentity(acme.member.identity).query(api.inbox.list, {
      workspaceId: acme.workspaceId as Id<"workspaces">,
      paginationOpts: { numItems: 10, cursor: null },
    });
    expect(inbox.page.map((decision) => [decision._id, decision.jobId, decision.runId])).toEqual([
      [raised.decisionRequestId, jobId, runId],
    ]);
    await ok(asJob(jobToken), "/v1/job/report", { outcome: "blocked", reason: "Waiting for the database choice" });
    await complete(jobId, workerId, {});
    expect((await acme.job(jobId)).evidence).toMatchObject({ decisionRequestId: raised.decisionRequestId });
    const run = (await ok(acme.call, "/v1/runs/get", { workspaceId: acme.workspaceId, runId })).run;
    expect(run).toMatchObject({ status: "blocked", blockedByDecisionRequestId: raised.decisionRequestId });
  });

  test("the milestone of the job's run; a job without a run has none to set", async () => {
    const { jobToken, runId } = await claimedJob();
    expect(await ok(asJob(jobToken), "/v1/job/milestone", { milestone: "tests written" })).toMatchObject({ runId });
    const run = (await ok(acme.call, "/v1/runs/get", { workspaceId: acme.workspaceId, runId })).run;
    expect(run.currentMilestone).toBe("tests written");

    await acme.enqueue({ prompt: "no run" });
    const runless = await acme.claimJob(await acme.worker("w1"));
    expectError(await asJob(runless.jobToken)("/v1/job/milestone", { milestone: "x" }), 404, "RUN_NOT_FOUND");
  });

  test("the command's own log lines land on its job's timeline", async () => {
    const { jobId, jobToken } = await claimedJob();
    expect(await ok(asJob(jobToken), "/v1/job/log", { lines: ["from the command"] })).toMatchObject({ appended: 1 });
    expect((await acme.events(jobId)).at(-1)).toMatchObject({ type: "log", data: { lines: ["from the command"] } });
  });
});
