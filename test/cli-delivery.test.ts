// @vitest-environment node
/**
 * Delivery of what a worker keeps on disk (scripts/cli/delivery.ts, job-state.ts) against a
 * scripted API client: lines before the outcome, retries through failures while trying is
 * allowed, nothing after the lease is lost, and at start what an earlier process left: delivered
 * while its lease lasts, dropped after, another login's left alone.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { ApiError, NetworkError, type ApiClient } from "../scripts/cli/client";
import { deliverJob, deliverLeftovers, LogShipper, type DeliveryOptions } from "../scripts/cli/delivery";
import { JobState, type LeaseRecord } from "../scripts/cli/job-state";
import { Output } from "../scripts/cli/output";

const roots: string[] = [];
const stateDir = () => {
  const root = mkdtempSync(join(tmpdir(), "ias-delivery-"));
  roots.push(root);
  return root;
};
afterAll(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })));

const quiet = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;
const out = new Output({ json: true, stdout: quiet, stderr: quiet, env: {} });
const fastRetry = { baseMs: 1, maxMs: 2, jitter: 0 };

/** Each route answers from its script in turn (an Error is thrown); the last answer repeats. */
function scriptedClient(script: Record<string, Array<unknown>>) {
  const calls: Array<{ route: string; body: Record<string, any> }> = [];
  const client = {
    siteUrl: "http://127.0.0.1:1",
    async call(route: string, body: Record<string, any>) {
      calls.push({ route, body });
      const answers = script[route] ?? [{}];
      const answer = answers.length > 1 ? answers.shift() : answers[0];
      if (answer instanceof Error) throw answer;
      return answer;
    },
  } as unknown as ApiClient;
  return { client, calls, routes: () => calls.map((call) => call.route) };
}

const lease = (fields: Partial<LeaseRecord> = {}): LeaseRecord => ({
  siteUrl: "http://127.0.0.1:1",
  workspaceId: "ws1",
  jobId: "job1",
  workerId: "w1",
  claimGeneration: 2,
  leaseDeadline: Date.now() + 60_000,
  ...fields,
});

function jobWithOutcome(dir: string, fields: Partial<LeaseRecord> = {}, lines = ["one", "two"]) {
  const state = JobState.create(dir, lease(fields), 1024 * 1024);
  lines.forEach((line, index) => state.spool.append(line, 1_000 + index));
  state.spool.close();
  state.saveOutcome({ route: "/v1/jobs/complete", body: { jobId: state.lease.jobId, outcome: "done" } });
  return state;
}

describe("one job's delivery", () => {
  test("lines (with their times and the claim) go before the outcome; failures are retried", async () => {
    const { client, calls, routes } = scriptedClient({
      "/v1/jobs/log": [new NetworkError("down"), new ApiError("INTERNAL_ERROR", "oops", 503), {}],
      "/v1/jobs/complete": [new NetworkError("down"), {}],
    });
    const state = jobWithOutcome(stateDir());
    const options: DeliveryOptions = { client, out, state, keepTrying: () => true, retry: fastRetry };
    expect(await deliverJob(options, new LogShipper(options))).toEqual({ status: "delivered" });
    expect(routes()).toEqual([
      "/v1/jobs/log",
      "/v1/jobs/log",
      "/v1/jobs/log",
      "/v1/jobs/complete",
      "/v1/jobs/complete",
    ]);
    expect(calls[2]!.body).toEqual({
      workspaceId: "ws1",
      jobId: "job1",
      workerId: "w1",
      claimGeneration: 2,
      lines: ["one", "two"],
      lineTimes: [1_000, 1_001],
    });
  });

  test("when trying stops, the lines and the outcome stay on disk", async () => {
    const { client, routes } = scriptedClient({ "/v1/jobs/log": [new NetworkError("down")] });
    const state = jobWithOutcome(stateDir());
    let tries = 3;
    const options: DeliveryOptions = { client, out, state, keepTrying: () => --tries > 0, retry: fastRetry };
    expect(await deliverJob(options, new LogShipper(options))).toMatchObject({ status: "gave_up", lastError: "down" });
    expect(routes().every((route) => route === "/v1/jobs/log")).toBe(true);
    expect(state.outcome()).toBeDefined();
    expect(state.spool.next()!.lines).toEqual(["one", "two"]);
  });

  test("a lost lease stops everything: no more lines, no outcome", async () => {
    const { client, routes } = scriptedClient({ "/v1/jobs/log": [new ApiError("LEASE_MISMATCH", "not yours", 409)] });
    const state = jobWithOutcome(
      stateDir(),
      {},
      Array.from({ length: 600 }, (_, i) => `line ${i}`),
    ); // two batches
    const lost: unknown[] = [];
    const options: DeliveryOptions = {
      client,
      out,
      state,
      keepTrying: () => true,
      onLeaseLost: (error) => lost.push(error),
    };
    expect(await deliverJob(options, new LogShipper(options))).toEqual({ status: "lease_lost" });
    expect(routes()).toEqual(["/v1/jobs/log"]);
    expect(lost).toHaveLength(1);
  });

  test("a batch the server refuses for good is dropped, not retried for ever", async () => {
    const { client, routes } = scriptedClient({
      "/v1/jobs/log": [new ApiError("INVALID_REQUEST", "bad", 400), {}],
    });
    const state = jobWithOutcome(
      stateDir(),
      {},
      Array.from({ length: 600 }, (_, i) => `line ${i}`),
    );
    const options: DeliveryOptions = { client, out, state, keepTrying: () => true };
    expect(await deliverJob(options, new LogShipper(options))).toEqual({ status: "delivered" });
    expect(routes()).toEqual(["/v1/jobs/log", "/v1/jobs/log", "/v1/jobs/complete"]);
  });
});

describe("what an earlier worker process left", () => {
  const leftovers = (dir: string, client: ApiClient, signal = new AbortController().signal) =>
    deliverLeftovers({
      client,
      out,
      stateDir: dir,
      siteUrl: "http://127.0.0.1:1",
      workspaceId: "ws1",
      spoolMaxBytes: 1 << 20,
      signal,
    });

  test("is delivered while its lease lasts, then removed", async () => {
    const dir = stateDir();
    const state = jobWithOutcome(dir);
    const { client, routes } = scriptedClient({});
    await leftovers(dir, client);
    expect(routes()).toEqual(["/v1/jobs/log", "/v1/jobs/complete"]);
    expect(existsSync(state.dir)).toBe(false);
  });

  test("is dropped without a call once its lease is over; another login's is left alone", async () => {
    const dir = stateDir();
    const expired = jobWithOutcome(dir, { jobId: "old", leaseDeadline: Date.now() - 1 });
    const elsewhere = jobWithOutcome(dir, { jobId: "theirs", workspaceId: "ws-other" });
    const { client, routes } = scriptedClient({});
    await leftovers(dir, client);
    expect(routes()).toEqual([]);
    expect(existsSync(expired.dir)).toBe(false);
    expect(existsSync(elsewhere.dir)).toBe(true);
  });

  test("a job that was still running gets its lines, and no outcome is made up for it", async () => {
    const dir = stateDir();
    const state = JobState.create(dir, lease(), 1 << 20);
    state.spool.append("printed before the crash", 5);
    state.spool.close();
    const { client, calls } = scriptedClient({});
    await leftovers(dir, client);
    expect(calls.map((call) => [call.route, call.body.lines])).toEqual([
      ["/v1/jobs/log", ["printed before the crash"]],
    ]);
    expect(existsSync(state.dir)).toBe(false);
  });

  test("a stop while delivering keeps it for the next start", async () => {
    const dir = stateDir();
    const state = jobWithOutcome(dir);
    const stop = new AbortController();
    const { client } = scriptedClient({
      "/v1/jobs/log": [new NetworkError("down")],
    });
    setTimeout(() => stop.abort(), 50);
    await leftovers(dir, client, stop.signal);
    expect(existsSync(state.dir)).toBe(true);
    expect(JobState.leftovers(dir, 1 << 20)[0]!.outcome()).toEqual(state.outcome());
  });
});
