/** Job tokens' pure parts: the token's format, when a claim's token stops working, how a report merges into a completion. */
import { describe, expect, test } from "vitest";
import { jobTokenProblem, mergeReport, mintJobToken, parseJobToken } from "../convex/model/jobTokens";
import { mintToken, sha256Hex } from "../convex/model/tokens";

describe("the token", () => {
  test("names its job and carries 32 random bytes; only the secret's SHA-256 is kept", async () => {
    const { token, tokenHash } = await mintJobToken("abc123");
    const parsed = parseJobToken(token)!;
    expect(parsed.jobId).toBe("abc123");
    expect(parsed.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(tokenHash).toBe(await sha256Hex(parsed.secret));
    expect((await mintJobToken("abc123")).token).not.toBe(token);
  });

  test("other tokens are not job tokens, nor are truncated ones", () => {
    for (const token of [mintToken().token, "ias_job_", "ias_job_.secret", "ias_job_abc.", "ias_jobabc.secret", "x"]) {
      expect(parseJobToken(token), token).toBeNull();
    }
  });

  test("works while the job runs under that claim and its lease holds", () => {
    const running = { status: "running", claimGeneration: 2, leaseExpiresAt: 1_000 };
    expect(jobTokenProblem(running, 2, 999)).toBeNull();
    expect(jobTokenProblem(running, 2, 1_000)).toMatch(/lease/);
    expect(jobTokenProblem(running, 1, 999)).toMatch(/claimed again/);
    expect(jobTokenProblem({ ...running, status: "done" }, 2, 999)).toMatch(/done/);
    expect(jobTokenProblem({ ...running, status: "pending" }, 2, 999)).toMatch(/pending/);
  });
});

describe("mergeReport", () => {
  const blocked = { blockedReason: "needs a decision" };
  test.each([
    ["done", "blocked"],
    ["failed", "blocked"],
    ["canceled", "canceled"],
    ["blocked", "blocked"],
  ] as const)("the worker's %s with a reported blocked is %s", (outcome, expected) => {
    expect(mergeReport({ outcome }, blocked).outcome).toBe(expected);
  });

  test("blocked by the job: its reason as message and a v1 reason naming what the worker said", () => {
    expect(mergeReport({ outcome: "done", message: "exit 0", outcomeReason: undefined }, blocked)).toEqual({
      outcome: "blocked",
      message: "needs a decision",
      outcomeReason: {
        version: 1,
        category: "blocked",
        code: "blocked_by_job",
        retryable: false,
        summary: "needs a decision",
        details: { workerOutcome: "done" },
      },
      evidence: undefined,
    });
  });

  test("the worker's own blocked keeps its reason; evidence is laid over the worker's key by key", () => {
    const worker = {
      outcome: "blocked" as const,
      message: "mine",
      outcomeReason: "runner_reason",
      evidence: { a: 1, b: 1 },
    };
    expect(mergeReport(worker, { ...blocked, evidence: { b: 2, c: 3 } })).toEqual({
      ...worker,
      evidence: { a: 1, b: 2, c: 3 },
    });
    expect(mergeReport(worker, null)).toBe(worker);
  });
});
