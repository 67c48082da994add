/**
 * Structured outcome reasons (SPEC §12): a string of at most 1,000 characters or the v1 object,
 * stored and returned as sent; every malformed reason is a 400 naming its field, and the job
 * stays running with nothing written. System reasons are v1 objects; old string rows still read.
 */
import { beforeEach, describe, expect, test } from "vitest";
import type { Id } from "../convex/_generated/dataModel";
import { expectError, ok } from "./support/api";
import { useFreshConvex, type Json } from "./support/harness";
import { queueWorkspace, type QueueWorkspace } from "./support/queue-fixtures";

const t = useFreshConvex();
let acme: QueueWorkspace;
let workerId: string;
beforeEach(async () => {
  acme = await queueWorkspace(t, "acme");
  workerId = await acme.worker("w");
});

const reason = (overrides: Json = {}) => ({
  version: 1,
  category: "blocked",
  code: "needs_decision",
  retryable: false,
  summary: "Which database?",
  details: { options: ["PostgreSQL", "SQLite"] },
  ...overrides,
});

/** A running job and the fields of a complete call for it. */
async function runningJob() {
  const jobId = await acme.enqueue();
  const claim = await acme.claimJob(workerId);
  return { jobId, fields: { workspaceId: acme.workspaceId, jobId, workerId, claimGeneration: claim.claimGeneration } };
}

/** Bytes of JSON `details` whose serialisation is exactly `bytes` long. */
function detailsOfBytes(bytes: number) {
  const empty = JSON.stringify({ text: "" }).length;
  return { text: "x".repeat(bytes - empty) };
}

describe("accepted and returned as sent", () => {
  test.each([
    ["a string", "exit_code_3"],
    ["a string of 1,000 characters", "r".repeat(1_000)],
    ["the full v1 object", reason({ recommendedDelayMs: 0 })],
    ["a v1 object with only the required fields", { version: 1, category: "blocked", code: "x", retryable: true }],
    ["summary null", reason({ summary: null })],
    ["code of 100 characters, summary of 1,000", reason({ code: "c".repeat(100), summary: "s".repeat(1_000) })],
    ["details of exactly 16 KiB", reason({ details: detailsOfBytes(16 * 1024) })],
  ])("%s", async (_name, outcomeReason) => {
    const { jobId, fields } = await runningJob();
    await ok(acme.call, "/v1/jobs/complete", { ...fields, outcome: "blocked", outcomeReason });
    expect((await acme.job(jobId)).outcomeReason).toEqual(outcomeReason);
    expect((await acme.events(jobId)).at(-1)).toMatchObject({ type: "blocked", data: { outcomeReason } });
  });
});

describe("refused, naming the field; the job stays running and nothing is written", () => {
  test.each([
    ["category ≠ outcome", reason({ category: "failed" }), "outcomeReason.category"],
    ["version 2", reason({ version: 2 }), "outcomeReason.version"],
    ["version as a string", reason({ version: "1" }), "version"],
    ["details over 16 KiB", reason({ details: detailsOfBytes(16 * 1024 + 1) }), "outcomeReason.details"],
    ["details Convex cannot store", reason({ details: { $where: 1 } }), "outcomeReason.details"],
    ["details not an object", reason({ details: ["a"] }), "details"],
    ["code over 100 characters", reason({ code: "c".repeat(101) }), "outcomeReason.code"],
    ["an empty code", reason({ code: "" }), "outcomeReason.code"],
    ["summary over 1,000 characters", reason({ summary: "s".repeat(1_001) }), "outcomeReason.summary"],
    ["retryable missing", reason({ retryable: undefined }), "retryable"],
    ["a negative recommendedDelayMs", reason({ recommendedDelayMs: -1 }), "outcomeReason.recommendedDelayMs"],
    ["a fractional recommendedDelayMs", reason({ recommendedDelayMs: 1.5 }), "recommendedDelayMs"],
    ["an unknown category", reason({ category: "paused" }), "category"],
    ["a string over 1,000 characters", "r".repeat(1_001), "outcomeReason"],
    ["neither text nor an object", 42, "a string of at most 1000 characters or a v1 object"],
  ])("%s", async (_name, outcomeReason, field) => {
    const { jobId, fields } = await runningJob();
    const before = await acme.events(jobId);
    const response = await acme.call("/v1/jobs/complete", { ...fields, outcome: "blocked", outcomeReason });
    expectError(response, 400, "INVALID_REQUEST");
    expect(response.body.message).toContain(field);
    const job = await acme.job(jobId);
    expect(job.status).toBe("running");
    expect(job).not.toHaveProperty("outcomeReason");
    expect(await acme.events(jobId)).toEqual(before);
    // The same worker can still finish it properly.
    await ok(acme.call, "/v1/jobs/complete", { ...fields, outcome: "blocked", outcomeReason: reason() });
  });

  test("complete-and-enqueue-children: a category that is not the outcome spawns nothing", async () => {
    const { jobId, fields } = await runningJob();
    const response = await acme.call("/v1/jobs/complete-and-enqueue-children", {
      ...fields,
      outcome: "done",
      outcomeReason: reason({ category: "blocked" }),
      idempotencyKey: "kids",
      children: [{ repoId: acme.repoId, kind: "pr_review", prompt: "Review" }],
    });
    expectError(response, 400, "INVALID_REQUEST");
    expect(response.body.issues[0].path).toBe("outcomeReason.category");
    expect(await acme.job(jobId)).toMatchObject({ status: "running" });
    expect((await ok(acme.call, "/v1/jobs/list", { workspaceId: acme.workspaceId })).jobs).toHaveLength(1);
  });
});

test("an unknown key of the v1 object is dropped, not refused (SPEC §2: unknown fields are ignored)", async () => {
  const { jobId, fields } = await runningJob();
  await ok(acme.call, "/v1/jobs/complete", {
    ...fields,
    outcome: "blocked",
    outcomeReason: reason({ severity: "high" }),
  });
  const job = await acme.job(jobId);
  expect(job.outcomeReason).toEqual(reason());
  expect(job.outcomeReason).not.toHaveProperty("severity");
});

describe("system reasons and old rows", () => {
  test("cancel of a pending job: a v1 reason with the cancel's text as summary", async () => {
    const jobId = await acme.enqueue();
    await ok(acme.call, "/v1/jobs/cancel", { workspaceId: acme.workspaceId, jobId });
    expect((await acme.job(jobId)).outcomeReason).toEqual({
      version: 1,
      category: "canceled",
      code: "canceled",
      retryable: false,
      summary: "Canceled before a worker claimed it.",
    });
  });

  test("a job stored with the older string reason still reads, and retry clears it", async () => {
    const jobId = await acme.enqueue();
    await t.run((ctx) =>
      ctx.db.patch(jobId as Id<"jobs">, { status: "failed", outcome: "failed", outcomeReason: "lease_expired" }),
    );
    expect(await acme.job(jobId)).toMatchObject({ status: "failed", outcomeReason: "lease_expired" });
    const { job } = await ok(acme.call, "/v1/jobs/retry", { workspaceId: acme.workspaceId, jobId });
    expect(job).not.toHaveProperty("outcomeReason");
  });
});
