/** `/v1/uncertainties/create-with-auto-promotion` and `/v1/uncertainties/add-resolution` (SPEC §7). */
import { describe, expect, test } from "vitest";
import type { Id } from "../convex/_generated/dataModel";
import openApiDocument from "../openapi.json";
import { useFreshConvex } from "./support/harness";
import { expectError, jobsOfKind, ok } from "./support/api";
import { raise, uncertaintyBody, workspaceWithRun as withRun } from "./support/runs-fixtures";

const t = useFreshConvex();

const workspaceWithRun = (slug?: string) => withRun(t, slug);

const uncertainty = (id: string) => t.run((ctx) => ctx.db.get(id as Id<"uncertainties">));
const decision = (id: string) => t.run((ctx) => ctx.db.get(id as Id<"decisionRequests">));

describe("create-with-auto-promotion", () => {
  test("a confident, reversible uncertainty is recorded as assumed with no decision request", async () => {
    const { call, workspaceId, runId } = await workspaceWithRun();
    const answer = await raise(call, uncertaintyBody(workspaceId, runId, null));
    expect(answer).toEqual({
      ok: true,
      uncertaintyId: expect.any(String),
      decisionRequestId: null,
      promoted: false,
      tier: null,
    });
    expect(await uncertainty(answer.uncertaintyId)).toMatchObject({
      status: "assumed",
      assumedValue: "PostgreSQL",
      autoPromoteThreshold: 0.8,
    });
    expect(await t.run((ctx) => ctx.db.query("decisionRequests").collect())).toEqual([]);
  });

  test.each([
    ["blocker", { kind: "approval", confidence: 1, impact: "low", reversibility: "easy" }],
    ["blocker", { confidence: 0.99, impact: "high", reversibility: "hard" }],
    ["checkpoint", { confidence: 0.79, impact: "medium" }],
    ["audit", { confidence: 0.6, impact: "low", autoPromoteThreshold: 0.7 }],
  ])("promotes to a %s decision request in the Inbox", async (tier, fields) => {
    const { call, workspaceId, runId } = await workspaceWithRun();
    const answer = await raise(call, { ...uncertaintyBody(workspaceId, runId, null), ...fields });
    expect(answer).toEqual({
      ok: true,
      uncertaintyId: expect.any(String),
      decisionRequestId: expect.any(String),
      promoted: true,
      tier,
    });
    expect(await uncertainty(answer.uncertaintyId)).toMatchObject({
      status: "open",
      decisionRequestId: answer.decisionRequestId,
    });
    expect(await decision(answer.decisionRequestId)).toMatchObject({
      status: "open",
      tier,
      runId,
      uncertaintyId: answer.uncertaintyId,
    });
  });

  test("confidence exactly at the threshold is not promoted", async () => {
    const { call, workspaceId, runId } = await workspaceWithRun();
    const body = { ...uncertaintyBody(workspaceId, runId, null), confidence: 0.6, autoPromoteThreshold: 0.6 };
    expect((await raise(call, body)).promoted).toBe(false);
  });

  test("a repeated idempotencyKey returns the first answer; another body under it is refused", async () => {
    const { call, workspaceId, runId } = await workspaceWithRun();
    const withoutKey = uncertaintyBody(workspaceId, runId, "blocker");
    const body = { ...withoutKey, idempotencyKey: "job-1:question-1" };
    const first = await raise(call, body);
    const repeats = await Promise.all([raise(call, body), raise(call, body)]);
    for (const repeat of repeats) expect(repeat).toEqual(first);
    expect(await t.run((ctx) => ctx.db.query("uncertainties").collect())).toHaveLength(1);
    expect(await t.run((ctx) => ctx.db.query("decisionRequests").collect())).toHaveLength(1);

    expectError(
      await call("/v1/uncertainties/create-with-auto-promotion", { ...body, confidence: 0.1 }),
      409,
      "IDEMPOTENCY_KEY_REUSED",
    );

    // Keys are per workspace; without a key every call is a new uncertainty.
    const other = await workspaceWithRun("other");
    const elsewhere = await raise(other.call, { ...body, workspaceId: other.workspaceId, runId: other.runId });
    expect(elsewhere.uncertaintyId).not.toBe(first.uncertaintyId);
    expect((await raise(call, withoutKey)).uncertaintyId).not.toBe(first.uncertaintyId);
  });

  test("runs and jobs of another workspace answer like missing ones; bad fields are 400", async () => {
    const acme = await workspaceWithRun();
    const other = await workspaceWithRun("other");
    const body = uncertaintyBody(acme.workspaceId, acme.runId, "audit");
    const route = "/v1/uncertainties/create-with-auto-promotion";
    expectError(await acme.call(route, { ...body, runId: other.runId }), 404, "RUN_NOT_FOUND");
    const { jobId } = await ok(other.call, "/v1/jobs/enqueue", {
      workspaceId: other.workspaceId,
      repoId: other.repoId,
      kind: "work",
      prompt: "p",
    });
    expectError(await acme.call(route, { ...body, jobId }), 404, "JOB_NOT_FOUND");
    expectError(await acme.call(route, { ...body, kind: "opinion" }), 400, "INVALID_REQUEST");
    expectError(await acme.call(route, { ...body, confidence: 1.5 }), 400, "INVALID_REQUEST");
    expectError(await acme.call(route, { ...body, autoPromoteThreshold: -0.1 }), 400, "INVALID_REQUEST");
    expectError(await acme.call(route, { ...body, impact: "huge" }), 400, "INVALID_REQUEST");
    expectError(await acme.call(route, { ...body, prompt: "" }), 400, "INVALID_REQUEST");
    expect(await t.run((ctx) => ctx.db.query("uncertainties").collect())).toEqual([]);
  });
});

describe("add-resolution", () => {
  const route = "/v1/uncertainties/add-resolution";

  test("assumed, answered and dismissed on an unpromoted uncertainty: each recorded, no job", async () => {
    const { call, workspaceId, runId } = await workspaceWithRun();
    const { uncertaintyId } = await raise(call, uncertaintyBody(workspaceId, runId, null));
    const assumed = await ok(call, route, {
      workspaceId,
      uncertaintyId: `uncertainties/${uncertaintyId}`,
      mode: "assumed",
      value: "MySQL",
      confidence: 0.9,
    });
    expect(assumed).toEqual({ ok: true, resolutionId: expect.any(String) });
    expect(await uncertainty(uncertaintyId)).toMatchObject({ status: "assumed", assumedValue: "MySQL" });
    const answered = await ok(call, route, {
      workspaceId,
      uncertaintyId,
      mode: "answered",
      value: "PostgreSQL",
      commitSha: "abc1234",
    });
    expect(await uncertainty(uncertaintyId)).toMatchObject({ status: "answered" });
    const dismissed = await ok(call, route, { workspaceId, uncertaintyId, mode: "dismissed", value: "" });
    expect(await uncertainty(uncertaintyId)).toMatchObject({ status: "dismissed" });
    const resolutions = await t.run((ctx) => ctx.db.query("resolutions").collect());
    expect(resolutions.map((r) => [r._id, r.mode, r.value])).toEqual([
      [assumed.resolutionId, "assumed", "MySQL"],
      [answered.resolutionId, "answered", "PostgreSQL"],
      [dismissed.resolutionId, "dismissed", ""],
    ]);
    expect(await jobsOfKind(call, workspaceId, "apply_decision")).toEqual([]);
  });

  test("answered on a promoted uncertainty answers its decision and enqueues one apply_decision job", async () => {
    const { call, workspaceId, runId, repoId } = await workspaceWithRun();
    const raised = await raise(call, uncertaintyBody(workspaceId, runId, "blocker"));
    const body = { workspaceId, uncertaintyId: raised.uncertaintyId, mode: "answered", value: "SQLite" };
    const first = await ok(call, route, body);
    const again = await ok(call, route, body);
    expect(again.resolutionId).toBe(first.resolutionId);
    const jobs = await jobsOfKind(call, workspaceId, "apply_decision");
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ repoId, runId, status: "pending" });
    expect(jobs[0]!.prompt).toContain("Answer: SQLite");
    expect(await decision(raised.decisionRequestId)).toMatchObject({
      status: "answered",
      answer: "SQLite",
      applyJobId: jobs[0]!._id,
    });

    // Another answer once answered is refused and changes nothing.
    expectError(await call(route, { ...body, value: "MySQL" }), 409, "INVALID_DECISION_STATE");
    expect((await decision(raised.decisionRequestId))?.answer).toBe("SQLite");
    expect(await jobsOfKind(call, workspaceId, "apply_decision")).toHaveLength(1);
  });

  test("dismissed on a promoted uncertainty dismisses its decision; it cannot be answered afterwards", async () => {
    const { call, workspaceId, runId } = await workspaceWithRun();
    const raised = await raise(call, uncertaintyBody(workspaceId, runId, "checkpoint"));
    await ok(call, route, { workspaceId, uncertaintyId: raised.uncertaintyId, mode: "dismissed", value: "not needed" });
    expect(await decision(raised.decisionRequestId)).toMatchObject({ status: "dismissed" });
    const answer = await call(route, {
      workspaceId,
      uncertaintyId: raised.uncertaintyId,
      mode: "answered",
      value: "x",
    });
    expectError(answer, 409, "INVALID_DECISION_STATE");
    expect(await jobsOfKind(call, workspaceId, "apply_decision")).toEqual([]);
  });

  test("assumed on a promoted uncertainty leaves its decision open", async () => {
    const { call, workspaceId, runId } = await workspaceWithRun();
    const raised = await raise(call, uncertaintyBody(workspaceId, runId, "audit"));
    await ok(call, route, { workspaceId, uncertaintyId: raised.uncertaintyId, mode: "assumed", value: "PostgreSQL" });
    expect(await decision(raised.decisionRequestId)).toMatchObject({ status: "open" });
    expect(await uncertainty(raised.uncertaintyId)).toMatchObject({ status: "assumed" });
  });

  test("an uncertainty of another workspace answers like a missing one; bad mode is 400", async () => {
    const acme = await workspaceWithRun();
    const other = await workspaceWithRun("other");
    const foreign = await raise(other.call, uncertaintyBody(other.workspaceId, other.runId, "blocker"));
    const body = { workspaceId: acme.workspaceId, uncertaintyId: foreign.uncertaintyId, mode: "answered", value: "x" };
    expectError(await acme.call(route, body), 404, "UNCERTAINTY_NOT_FOUND");
    expectError(await acme.call(route, { ...body, uncertaintyId: acme.runId }), 400, "INVALID_REQUEST");
    const own = await raise(acme.call, uncertaintyBody(acme.workspaceId, acme.runId, null));
    expectError(
      await acme.call(route, { ...body, uncertaintyId: own.uncertaintyId, mode: "guessed" }),
      400,
      "INVALID_REQUEST",
    );
    expect((await decision(foreign.decisionRequestId))?.status).toBe("open");
  });
});

test("openapi.json documents the run and uncertainty routes", () => {
  const paths: Record<string, object> = openApiDocument.paths;
  for (const path of [
    "/v1/runs/upsert",
    "/v2/runs/upsert",
    "/v1/uncertainties/create-with-auto-promotion",
    "/v1/uncertainties/add-resolution",
  ]) {
    expect(paths[`/control-plane${path}`], path).toHaveProperty("post");
  }
});
