/**
 * The deployed IAS runner's dialect (SPEC §12), replayed request by request through the HTTP
 * API: the bodies it sends, byte for byte in shape, and the checks it makes on each answer. A
 * change that breaks the runner (a field it reads gone, a request it sends refused) fails here.
 */
import { beforeEach, describe, expect, test, vi } from "vitest";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { caller, createRepo, ok, type Call } from "./support/api";
import { workspaceWithMember } from "./support/fixtures";
import { useFreshConvex, type Json, type TestConvex } from "./support/harness";
import { createRun } from "./support/runs-fixtures";

/** What the runner puts in `requirements` of every work, pr_review and screenshot job and child. */
function runnerRequirements(writeRequired: boolean, networkRequired = false) {
  return { executionMode: "hybrid", modelPolicy: "require_5_2", writeRequired, networkRequired };
}

/** The runner's heartbeat capabilities with its defaults (no `modelPolicies`: it enforces the policy itself). */
function runnerCapabilities(repoId: string) {
  return {
    executionModes: ["cli", "hybrid"],
    models: ["gpt-5.2"],
    canWrite: true,
    canUseNetwork: false,
    reposAllowed: [repoId],
    supportedEgressModes: ["open"],
    enforcedAllowlistHash: null,
    supportsRunTests: true,
    openaiAuthMode: "codex_cli_sso_supervised",
  };
}

// ---- The runner's response checks (what it throws on), restated --------------------------------

function expectResolveAnswer(body: Json) {
  expect(body.ok).toBe(true);
  expect(body).toHaveProperty("workspaceId");
  expect(body).toHaveProperty("workspace");
}

function expectRepoResolveAnswer(body: Json) {
  expect(body.ok).toBe(true);
  expect(body).toHaveProperty("repoId");
  expect(body).toHaveProperty("repo");
}

/** claim-next: `jobId` and `job` always present, both null or both set; the job's required fields; the generation. */
function expectClaimAnswer(body: Json) {
  expect(body.ok).toBe(true);
  expect(body).toHaveProperty("jobId");
  expect(body).toHaveProperty("job");
  if (body.jobId === null) {
    expect(body.job).toBeNull();
    return;
  }
  expect(typeof body.jobId).toBe("string");
  for (const field of ["_id", "kind", "role", "prompt", "requirements", "repoId"])
    expect(body.job).toHaveProperty(field);
  expect(typeof body.job.requirements).toBe("object");
  expect(Array.isArray(body.job.requirements)).toBe(false);
  expect(Number.isFinite(body.claimGeneration)).toBe(true);
}

function expectCompleteAnswer(body: Json) {
  expect(body.ok).toBe(true);
  expect(typeof body.result).toBe("object");
  expect(body.result).not.toBeNull();
}

function expectChildrenAnswer(body: Json) {
  expectCompleteAnswer(body);
  expect(typeof body.result.idempotent).toBe("boolean");
  expect(Array.isArray(body.result.spawnedJobIds)).toBe(true);
}

/** Ids may come back prefixed with their table; the runner strips `table/`. */
const normalized = (id: string) => id.replace(/^[a-zA-Z_][a-zA-Z0-9_]*\//, "");

// ---- The session --------------------------------------------------------------------------------

type Session = Awaited<ReturnType<typeof openSession>>;

/** What `openControlPlaneSession` does: resolve the workspace by slug, then a worker heartbeat. */
async function openSession(t: TestConvex) {
  const member = await workspaceWithMember(t, "acme");
  const call = caller(t, member.token);
  const repoId = await createRepo(call, member.workspaceId, "acme-origin");
  const runRef = "20260214-user-settings";
  const runId = await createRun(call, member.workspaceId, repoId, runRef);

  const resolved = await ok(call, "/v1/workspaces/resolve", { slug: "acme" });
  expectResolveAnswer(resolved);
  const workspaceId = normalized(resolved.workspaceId);
  const heartbeat = await ok(call, "/v1/workers/heartbeat", {
    workspaceId,
    displayName: "laptop",
    status: "online",
    capabilities: runnerCapabilities(repoId),
    machineFingerprint: "0123456789abcdef",
  });
  expect(typeof heartbeat.workerId).toBe("string");
  return { ...member, call, workspaceId, repoId, runId, runRef, workerId: normalized(heartbeat.workerId) };
}

/** The runner's `enqueueJob` body: workspaceId, repoId, kind, prompt, requirements, then role, runId, priority when set. */
async function runnerEnqueue(session: Session, kind: string, writeRequired: boolean, extra: Json = {}) {
  const body = await ok(session.call, "/v1/jobs/enqueue", {
    workspaceId: session.workspaceId,
    repoId: session.repoId,
    kind,
    prompt: `Do the ${kind} job`,
    requirements: runnerRequirements(writeRequired),
    role: kind === "pr_review" ? "reviewer" : "implementer",
    runId: session.runId,
    ...extra,
  });
  expect(typeof body.jobId).toBe("string");
  return normalized(body.jobId);
}

async function runnerClaim(session: Session) {
  const body = await ok(session.call, "/v1/jobs/claim-next", {
    workspaceId: session.workspaceId,
    workerId: session.workerId,
    leaseMs: 120_000,
  });
  expectClaimAnswer(body);
  return body;
}

function leaseCall(session: Session, claim: Json) {
  return {
    workspaceId: session.workspaceId,
    jobId: claim.jobId,
    workerId: session.workerId,
    claimGeneration: claim.claimGeneration,
  };
}

async function jobOf(call: Call, workspaceId: string, jobId: string) {
  return (await ok(call, "/v1/jobs/get", { workspaceId, jobId })).job;
}

const t = useFreshConvex();
let session: Session;
beforeEach(async () => {
  vi.useFakeTimers();
  session = await openSession(t);
});

describe("session open", () => {
  test("resolve answers workspaceId and workspace; an unknown slug answers both null", async () => {
    const unknown = await ok(session.call, "/v1/workspaces/resolve", { slug: "nobody" });
    expectResolveAnswer(unknown);
    expect(unknown).toMatchObject({ workspaceId: null, workspace: null });
  });

  test("repos resolve answers repoId and repo, both null for an unknown hash", async () => {
    const known = await ok(session.call, "/v1/repos/resolve", {
      workspaceId: session.workspaceId,
      remoteUrlHash: "acme-origin",
    });
    expectRepoResolveAnswer(known);
    expect(known.repoId).toBe(session.repoId);
    const unknown = await ok(session.call, "/v1/repos/resolve", {
      workspaceId: session.workspaceId,
      remoteUrlHash: "elsewhere",
    });
    expectRepoResolveAnswer(unknown);
    expect(unknown).toMatchObject({ repoId: null, repo: null });
  });

  test("every capability the runner sends is stored and listed as sent", async () => {
    const console = t.withIdentity(session.member.identity);
    const { page } = await console.query(api.workers.list, {
      workspaceId: session.workspaceId as Id<"workspaces">,
      paginationOpts: { numItems: 10, cursor: null },
    });
    expect(page).toHaveLength(1);
    expect(page[0]!.capabilities).toEqual(runnerCapabilities(session.repoId));
  });
});

describe("a work job of a run, start to finish", () => {
  test("claimed with runRef and both spellings of its requirements; run found by /v1/runs/get", async () => {
    const jobId = await runnerEnqueue(session, "work", true);
    const claim = await runnerClaim(session);
    expect(claim.jobId).toBe(jobId);
    expect(claim.job.requirements).toEqual({
      executionMode: "hybrid",
      modelPolicy: "require_5_2",
      writeRequired: true,
      canWrite: true,
      networkRequired: false,
      canUseNetwork: false,
    });
    expect(claim.job).toMatchObject({ _id: jobId, kind: "work", runId: session.runId, runRef: session.runRef });
    const { run } = await ok(session.call, "/v1/runs/get", {
      workspaceId: session.workspaceId,
      runId: claim.job.runId,
    });
    expect(run).toMatchObject({ _id: session.runId, runRef: session.runRef, repoId: session.repoId });
  });

  test("job heartbeat with leaseMs 120000 extends the lease by exactly that", async () => {
    await runnerEnqueue(session, "work", true);
    const claim = await runnerClaim(session);
    expect(claim.leaseExpiresAt).toBe(Date.now() + 120_000);
    vi.advanceTimersByTime(60_000);
    const beat = await ok(session.call, "/v1/jobs/heartbeat", { ...leaseCall(session, claim), leaseMs: 120_000 });
    expect(beat).toEqual({ ok: true, leaseExpiresAt: Date.now() + 120_000, cancelRequested: false });
  });

  test("complete done with the runner's evidence; the job keeps it as sent", async () => {
    const jobId = await runnerEnqueue(session, "work", true);
    const claim = await runnerClaim(session);
    const evidence = {
      commitSha: "0123456789abcdef0123456789abcdef01234567",
      prUrl: "https://github.com/acme/app/pull/7",
      changedPaths: ["src/a.ts", "README.md"],
    };
    const done = await ok(session.call, "/v1/jobs/complete", {
      ...leaseCall(session, claim),
      outcome: "done",
      runId: session.runId,
      message: "Opened PR #7",
      evidence,
    });
    expectCompleteAnswer(done);
    expect(done.result).toEqual({ jobId, status: "done", idempotent: false });
    expect(await jobOf(session.call, session.workspaceId, jobId)).toMatchObject({
      status: "done",
      evidence,
      runId: session.runId,
      runRef: session.runRef,
    });
  });

  test.each([
    [
      "blocked",
      {
        version: 1,
        category: "blocked",
        code: "needs_decision",
        retryable: false,
        summary: "Which database engine should we use?",
        details: { decisionRequestId: null, options: ["PostgreSQL", "SQLite"] },
      },
    ],
    [
      "failed",
      {
        version: 1,
        category: "failed",
        code: "agent_exit_nonzero",
        retryable: true,
        recommendedDelayMs: 30_000,
        summary: null,
        details: { exitCode: 3, stderrTail: "boom" },
      },
    ],
  ])("complete %s with a v1 reason: returned as sent by jobs/get and in the timeline", async (outcome, reason) => {
    const jobId = await runnerEnqueue(session, "work", true);
    const claim = await runnerClaim(session);
    const answer = await ok(session.call, "/v1/jobs/complete", {
      ...leaseCall(session, claim),
      outcome,
      outcomeReason: reason,
    });
    expectCompleteAnswer(answer);
    const job = await jobOf(session.call, session.workspaceId, jobId);
    expect(job.status).toBe(outcome);
    expect(job.outcomeReason).toEqual(reason);
    const { events } = await ok(session.call, "/v1/job-events/list-for-job", {
      workspaceId: session.workspaceId,
      jobId,
    });
    const last = events.at(-1);
    expect(last.type).toBe(outcome);
    expect(last.data.outcomeReason).toEqual(reason);
    const console = t.withIdentity(session.member.identity);
    const detail = await console.query(api.jobsConsole.get, {
      workspaceId: session.workspaceId as Id<"workspaces">,
      jobId: jobId as Id<"jobs">,
    });
    expect(detail?.job.outcomeReason).toEqual(reason);
  });
});

describe("pr_review and screenshot jobs", () => {
  test("each kind is enqueued with the runner's requirements and claimed with both spellings", async () => {
    const review = await runnerEnqueue(session, "pr_review", false);
    const shot = await runnerEnqueue(session, "screenshot", false);
    for (const [jobId, kind] of [
      [review, "pr_review"],
      [shot, "screenshot"],
    ] as const) {
      const claim = await runnerClaim(session);
      expect(claim.job).toMatchObject({ _id: jobId, kind, runRef: session.runRef });
      expect(claim.job.requirements).toMatchObject({
        writeRequired: false,
        canWrite: false,
        modelPolicy: "require_5_2",
      });
    }
    expectClaimAnswer(await runnerClaim(session));
    expect(await runnerClaim(session)).toEqual({ ok: true, jobId: null, job: null, reason: "NO_JOBS" });
  });
});

describe("complete-and-enqueue-children", () => {
  test("children with the runner's requirements; the repeat is idempotent with the same spawnedJobIds", async () => {
    const parent = await runnerEnqueue(session, "work", true);
    const claim = await runnerClaim(session);
    const body = {
      workspaceId: session.workspaceId,
      jobId: claim.jobId,
      workerId: session.workerId,
      claimGeneration: claim.claimGeneration,
      idempotencyKey: `children:${parent}:1`,
      outcome: "done",
      runId: session.runId,
      evidence: { commitSha: "abc1234", prUrl: "https://github.com/acme/app/pull/8", changedPaths: ["src/b.ts"] },
      children: [
        {
          repoId: session.repoId,
          kind: "pr_review",
          role: "reviewer",
          prompt: "Review PR #8",
          runId: session.runId,
          requirements: runnerRequirements(false),
        },
        {
          repoId: session.repoId,
          kind: "screenshot",
          prompt: "Screenshot the settings page",
          runId: session.runId,
          requirements: runnerRequirements(false, true),
        },
      ],
    };
    const first = await ok(session.call, "/v1/jobs/complete-and-enqueue-children", body);
    expectChildrenAnswer(first);
    expect(first.result).toMatchObject({ jobId: parent, status: "done", idempotent: false });
    expect(first.result.spawnedJobIds).toHaveLength(2);

    const again = await ok(session.call, "/v1/jobs/complete-and-enqueue-children", body);
    expectChildrenAnswer(again);
    expect(again.result.idempotent).toBe(true);
    expect(again.result.spawnedJobIds).toEqual(first.result.spawnedJobIds);

    const [review, shot] = await Promise.all(
      first.result.spawnedJobIds.map((id: string) => jobOf(session.call, session.workspaceId, id)),
    );
    expect(review).toMatchObject({ kind: "pr_review", parentJobId: parent, runRef: session.runRef, status: "pending" });
    expect(review.requirements).toMatchObject({
      writeRequired: false,
      canWrite: false,
      networkRequired: false,
      canUseNetwork: false,
    });
    expect(shot.requirements).toMatchObject({ networkRequired: true, canUseNetwork: true, modelPolicy: "require_5_2" });
    const listed = await ok(session.call, "/v1/jobs/list", { workspaceId: session.workspaceId });
    expect(listed.jobs).toHaveLength(3);
  });
});

describe("jobs/list by the runner's statuses", () => {
  test("`running` finds the claimed job (and `claimed`, the older name, too); the answer has jobs[]", async () => {
    const jobId = await runnerEnqueue(session, "work", true);
    const waiting = await runnerEnqueue(session, "pr_review", false, { priority: 5 });
    await runnerClaim(session);
    const running = await ok(session.call, "/v1/jobs/list", { workspaceId: session.workspaceId, status: "running" });
    expect(Array.isArray(running.jobs)).toBe(true);
    expect(running.jobs.map((job: Json) => job._id)).toEqual([jobId]);
    expect(running.jobs[0]).toMatchObject({
      status: "running",
      runRef: session.runRef,
      requirements: { writeRequired: true },
    });
    const claimed = await ok(session.call, "/v1/jobs/list", { workspaceId: session.workspaceId, status: "claimed" });
    expect(claimed.jobs.map((job: Json) => job._id)).toEqual([jobId]);
    for (const status of ["pending", "done", "failed", "blocked", "canceled"]) {
      const listed = await ok(session.call, "/v1/jobs/list", { workspaceId: session.workspaceId, status });
      expect(listed.jobs.map((job: Json) => job._id)).toEqual(status === "pending" ? [waiting] : []);
    }
  });
});
