/**
 * SPEC §9, §9b: `GET /control-plane/metrics` in the Prometheus text format, read back with a real
 * parser (parse-prometheus-text-format), and the Console `stats` query: the right numbers after a
 * scripted sequence of enqueues, claims, completions, a failure, a lease-expiry recovery, a retry
 * and a cancel; scoped by token; retention's deletions taken off the gauges.
 */
import parsePrometheusTextFormat, { type ParsedFamily } from "parse-prometheus-text-format";
import { beforeEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../convex/_generated/api";
import { expectError, ok, rejection } from "./support/api";
import { addMember, createUser, deviceToken, SERVICE_TOKEN } from "./support/fixtures";
import { useFreshConvex, type Json } from "./support/harness";
import { queueWorkspace, type QueueWorkspace } from "./support/queue-fixtures";

const t = useFreshConvex();

const T0 = 1_800_000_000_000;
const SCRAPE_AT = T0 + 1_000_000;

async function scrape(
  token: string | undefined,
): Promise<{ status: number; text: string; contentType: string | null }> {
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const response = await t.fetch("/control-plane/metrics", { headers });
  return { status: response.status, text: await response.text(), contentType: response.headers.get("content-type") };
}

/** Parses with the real parser and checks what it is lenient about: every family typed and described, every value a number. */
function parse(text: string): ParsedFamily[] {
  const families = parsePrometheusTextFormat(text);
  for (const family of families) {
    expect(family.type, family.name).not.toBe("UNTYPED");
    expect(family.help.length, family.name).toBeGreaterThan(0);
    expect(family.name).toMatch(/^ias_[a-z_]+$/);
    for (const metric of family.metrics) expect(Number.isFinite(Number(metric.value)), family.name).toBe(true);
  }
  const series = families.flatMap((family) => family.metrics.map((m) => `${family.name}${JSON.stringify(m.labels)}`));
  expect(new Set(series).size).toBe(series.length);
  return families;
}

/** The one sample of `name` whose labels include `labels` (throws when there is not exactly one). */
function value(families: ParsedFamily[], name: string, labels: Record<string, string>): number {
  const family = families.find((each) => each.name === name);
  if (family === undefined) throw new Error(`no family ${name}`);
  const matches = family.metrics.filter((metric) =>
    Object.entries(labels).every(([key, text]) => metric.labels?.[key] === text),
  );
  if (matches.length !== 1) throw new Error(`${matches.length} samples of ${name} ${JSON.stringify(labels)}`);
  return Number(matches[0]!.value);
}

const workspacesIn = (families: ParsedFamily[]) =>
  [...new Set(families.find((f) => f.name === "ias_jobs")!.metrics.map((m) => m.labels!.workspace))].sort();

/**
 * acme: workers w1, w2 online and w3 offline; five worker-lane jobs and one cloud_ai job enqueued
 * at T0; j1 done, j2 failed then retried, j3's lease lost (back to pending), j5 canceled while pending.
 */
async function scriptedAcme(acme: QueueWorkspace) {
  const w1 = await acme.worker("w1");
  await acme.worker("w2");
  await acme.worker("w3", {}, "offline");
  const jobs: string[] = [];
  for (let i = 1; i <= 5; i++) jobs.push(await acme.enqueue({ prompt: `job ${i}`, priority: i }));
  await acme.enqueue({ lane: "cloud_ai" });
  const [j1, j2, j3, , j5] = jobs as [string, string, string, string, string];

  const first = await acme.claimJob(w1);
  expect(first.jobId).toBe(j1);
  await ok(acme.call, "/v1/jobs/complete", { workspaceId: acme.workspaceId, jobId: j1, workerId: w1, outcome: "done" });
  const second = await acme.claimJob(w1);
  expect(second.jobId).toBe(j2);
  await ok(acme.call, "/v1/jobs/complete", {
    workspaceId: acme.workspaceId,
    jobId: j2,
    workerId: w1,
    outcome: "failed",
  });
  const third = await acme.claimJob(w1, { leaseMs: 10_000 });
  expect(third.jobId).toBe(j3);
  vi.setSystemTime(T0 + 700_000);
  // A heartbeat after the lease ran out recovers the job in its own transaction (SPEC §6).
  expectError(await acme.lease("heartbeat", j3, w1), 409, "LEASE_MISMATCH");
  expect(await acme.job(j3)).toMatchObject({ status: "pending" });
  await ok(acme.call, "/v1/jobs/retry", { workspaceId: acme.workspaceId, jobId: j2 });
  await ok(acme.call, "/v1/jobs/cancel", { workspaceId: acme.workspaceId, jobId: j5 });
  vi.setSystemTime(SCRAPE_AT);
  return { j1, j2, j3 };
}

let acme: QueueWorkspace;
let acmeAdminToken: string;
beforeEach(async () => {
  vi.useFakeTimers({ toFake: ["Date"], now: T0 });
  acme = await queueWorkspace(t, "acme");
  acmeAdminToken = (await deviceToken(t, acme.workspaceId, acme.owner)).token;
});

describe("GET /control-plane/metrics", () => {
  test("after a scripted sequence the parsed metrics carry the right numbers", async () => {
    await scriptedAcme(acme);
    const scraped = await scrape(acmeAdminToken);
    expect(scraped.status).toBe(200);
    expect(scraped.contentType).toBe("text/plain; version=0.0.4; charset=utf-8");
    const families = parse(scraped.text);
    const worker = { workspace: "acme", workspace_id: acme.workspaceId, lane: "worker" };
    const cloud = { ...worker, lane: "cloud_ai" };

    const jobs = (labels: Json, status: string) => value(families, "ias_jobs", { ...labels, status });
    expect(["pending", "running", "done", "failed", "blocked", "canceled"].map((s) => jobs(worker, s))).toEqual([
      3, 0, 1, 0, 0, 1,
    ]);
    expect(jobs(cloud, "pending")).toBe(1);
    expect(value(families, "ias_jobs_enqueued_total", worker)).toBe(5);
    expect(value(families, "ias_jobs_enqueued_total", cloud)).toBe(1);
    expect(value(families, "ias_job_claims_total", worker)).toBe(3);
    expect(value(families, "ias_job_claims_total", cloud)).toBe(0);
    expect(value(families, "ias_job_completions_total", { ...worker, outcome: "done" })).toBe(1);
    expect(value(families, "ias_job_completions_total", { ...worker, outcome: "failed" })).toBe(1);
    expect(value(families, "ias_job_completions_total", { ...worker, outcome: "canceled" })).toBe(0);
    expect(value(families, "ias_job_failures_total", worker)).toBe(1);
    expect(value(families, "ias_job_recoveries_total", { ...worker, to: "pending" })).toBe(1);
    expect(value(families, "ias_job_recoveries_total", { ...worker, to: "failed" })).toBe(0);
    expect(value(families, "ias_job_retries_total", worker)).toBe(1);
    const transition = (from: string, to: string, event: string) =>
      value(families, "ias_job_transitions_total", { ...worker, from, to, event });
    expect(transition("pending", "canceled", "canceled")).toBe(1);
    expect(transition("running", "pending", "recovered")).toBe(1);
    expect(transition("new", "pending", "enqueued")).toBe(5);
    // j4 has waited since T0 (j2 and j3 are pending again since later); the cloud job too.
    expect(value(families, "ias_job_oldest_pending_age_seconds", worker)).toBe(1_000);
    expect(value(families, "ias_job_oldest_pending_age_seconds", cloud)).toBe(1_000);
    expect(value(families, "ias_workers_online", { workspace: "acme" })).toBe(2);
  });

  test("the age follows the clock, and is 0 once nothing waits", async () => {
    const jobId = await acme.enqueue();
    const workerId = await acme.worker("w1");
    vi.setSystemTime(T0 + 42_500);
    const lane = { workspace: "acme", lane: "worker" };
    expect(value(parse((await scrape(acmeAdminToken)).text), "ias_job_oldest_pending_age_seconds", lane)).toBe(42.5);
    expect((await acme.claimJob(workerId)).jobId).toBe(jobId);
    expect(value(parse((await scrape(acmeAdminToken)).text), "ias_job_oldest_pending_age_seconds", lane)).toBe(0);
  });

  test("the service token sees every workspace; a workspace admin token its own; others are refused", async () => {
    await acme.enqueue();
    const beta = await queueWorkspace(t, "beta");
    await beta.enqueue();
    await beta.enqueue();
    const betaAdmin = (await deviceToken(t, beta.workspaceId, beta.owner)).token;

    const all = parse((await scrape(SERVICE_TOKEN)).text);
    expect(workspacesIn(all)).toEqual(["acme", "beta"]);
    expect(value(all, "ias_jobs", { workspace: "acme", lane: "worker", status: "pending" })).toBe(1);
    expect(value(all, "ias_jobs", { workspace: "beta", lane: "worker", status: "pending" })).toBe(2);

    const own = parse((await scrape(betaAdmin)).text);
    expect(workspacesIn(own)).toEqual(["beta"]);
    expect(value(own, "ias_jobs", { workspace: "beta", lane: "worker", status: "pending" })).toBe(2);
    expect(workspacesIn(parse((await scrape(acmeAdminToken)).text))).toEqual(["acme"]);

    // A member's and a viewer's device tokens: 403 as JSON envelopes, no numbers.
    const viewer = await createUser(t, "viewer@acme.test");
    await addMember(t, acme.workspaceId, viewer, "viewer");
    for (const token of [acme.token, (await deviceToken(t, acme.workspaceId, viewer)).token]) {
      const refused = await scrape(token);
      expect(refused.status).toBe(403);
      expect(JSON.parse(refused.text)).toMatchObject({ ok: false, error: "FORBIDDEN" });
    }
    // Another workspace's admin sees its own workspace only (above); no token or a broken one: 401.
    const unauthorized = async (authorization: string | undefined, code: string) => {
      const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
      const response = await t.fetch("/control-plane/metrics", { headers });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ ok: false, error: code });
    };
    await unauthorized(undefined, "MISSING_TOKEN");
    await unauthorized("Token abc", "INVALID_TOKEN");
    await unauthorized("Bearer ias_not_a_token_at_all_0123456789abcdefghijkl", "INVALID_TOKEN");
    const expired = await deviceToken(t, acme.workspaceId, acme.owner, { expiresAt: Date.now() - 1 });
    await unauthorized(`Bearer ${expired.token}`, "EXPIRED_TOKEN");
    const revoked = await deviceToken(t, acme.workspaceId, acme.owner, { revokedAt: Date.now() - 1 });
    await unauthorized(`Bearer ${revoked.token}`, "INVALID_TOKEN");
  });

  test("retention's deletions leave the gauges, the counters keep counting", async () => {
    const { j1 } = await scriptedAcme(acme);
    vi.setSystemTime(SCRAPE_AT + 31 * 86_400_000);
    await t.mutation(internal.retention.sweepWorkspace, { workspaceId: acme.workspaceId });
    expect(await t.run((ctx) => ctx.db.get("jobs", j1 as never))).toBeNull();
    const families = parse((await scrape(SERVICE_TOKEN)).text);
    const worker = { workspace: "acme", lane: "worker" };
    expect(value(families, "ias_jobs", { ...worker, status: "done" })).toBe(0);
    expect(value(families, "ias_jobs", { ...worker, status: "canceled" })).toBe(0);
    expect(value(families, "ias_jobs", { ...worker, status: "pending" })).toBe(3);
    expect(value(families, "ias_job_completions_total", { ...worker, outcome: "done" })).toBe(1);
  });
});

describe("deltas and their rollup", () => {
  const counterDocuments = () =>
    t.run(async (ctx) => ({
      totals: await ctx.db
        .query("jobCounters")
        .withIndex("by_workspace_lane_shard", (q) => q.eq("workspaceId", acme.workspaceId as never))
        .take(100),
      pending: (await ctx.db.query("jobCounterDeltas").take(5_000)).length,
    }));
  /** The metrics of acme without the backlog gauge, which is the one series a fold changes. */
  const numbers = async () =>
    (await scrape(acmeAdminToken)).text
      .split("\n")
      .filter((line) => !line.startsWith("ias_job_counter_pending_deltas"))
      .join("\n");
  const pendingGauge = async () =>
    value(parse((await scrape(acmeAdminToken)).text), "ias_job_counter_pending_deltas", { workspace: "acme" });

  test("a move writes one small delta and no total; the numbers are exact before, during and after the rollup", async () => {
    const { j1 } = await scriptedAcme(acme);
    // 6 births, 3 claims, 2 completions, a recovery, a retry, a cancel: one delta each, nothing folded.
    expect(await counterDocuments()).toEqual({ totals: [], pending: 14 });
    expect(await pendingGauge()).toBe(14);
    const before = await numbers();
    expect(value(parse(before), "ias_jobs", { workspace: "acme", lane: "worker", status: "pending" })).toBe(3);

    // At T0 + 600 s only the changes of T0 have settled (ROLLUP_SETTLE_MS = 5 s): the 10 births,
    // claims and completions fold (11), the recovery, retry and cancel of T0 + 700 s stay pending.
    vi.setSystemTime(T0 + 600_000);
    expect(await t.mutation(internal.jobCounters.rollup, {})).toEqual({ folded: 11, more: false });
    vi.setSystemTime(SCRAPE_AT);
    const partly = await counterDocuments();
    expect(partly.totals.map((total) => total.lane).sort()).toEqual(["cloud_ai", "worker"]);
    expect(partly.pending).toBe(3);
    expect(await pendingGauge()).toBe(3);
    expect(await numbers()).toBe(before);

    expect(await t.mutation(internal.jobCounters.rollup, {})).toEqual({ folded: 3, more: false });
    expect((await counterDocuments()).pending).toBe(0);
    expect(await pendingGauge()).toBe(0);
    expect(await numbers()).toBe(before);
    expect(await t.mutation(internal.jobCounters.rollup, {})).toEqual({ folded: 0, more: false });

    // Later changes add to the folded totals: retention deletes j1 (done) and j5 (canceled).
    vi.setSystemTime(SCRAPE_AT + 31 * 86_400_000);
    await t.mutation(internal.retention.sweepWorkspace, { workspaceId: acme.workspaceId });
    expect(await t.run((ctx) => ctx.db.get("jobs", j1 as never))).toBeNull();
    const worker = { workspace: "acme", lane: "worker" };
    for (const fold of [false, true]) {
      if (fold) {
        vi.setSystemTime(SCRAPE_AT + 32 * 86_400_000);
        await t.mutation(internal.jobCounters.rollup, {});
        expect((await counterDocuments()).pending).toBe(0);
      }
      const families = parse((await scrape(SERVICE_TOKEN)).text);
      expect(value(families, "ias_jobs", { ...worker, status: "done" })).toBe(0);
      expect(value(families, "ias_jobs", { ...worker, status: "canceled" })).toBe(0);
      expect(value(families, "ias_jobs", { ...worker, status: "pending" })).toBe(3);
      expect(value(families, "ias_job_completions_total", { ...worker, outcome: "done" })).toBe(1);
      expect(value(families, "ias_jobs_enqueued_total", worker)).toBe(5);
    }
  });

  test("a batch of moves writes one delta per (workspace, lane)", async () => {
    const workerId = await acme.worker("w1");
    for (let i = 0; i < 3; i++) await acme.enqueue({ prompt: `job ${i}` });
    for (let i = 0; i < 3; i++) await acme.claimJob(workerId, { leaseMs: 10_000 });
    const pendingBefore = (await counterDocuments()).pending;
    // The lease sweep recovers the three expired claims in one transaction: one delta.
    vi.setSystemTime(T0 + 60_000);
    await t.mutation(internal.recovery.sweepExpiredLeases, {});
    expect((await counterDocuments()).pending).toBe(pendingBefore + 1);
    const families = parse((await scrape(acmeAdminToken)).text);
    expect(value(families, "ias_job_recoveries_total", { workspace: "acme", lane: "worker", to: "pending" })).toBe(3);
    expect(value(families, "ias_jobs", { workspace: "acme", lane: "worker", status: "pending" })).toBe(3);
  });

  test("more deltas than one batch (100) all fold: each full batch schedules the next", async () => {
    const beta = await queueWorkspace(t, "beta");
    const count = 2 * 100 + 17;
    await t.run(async (ctx) => {
      for (let i = 0; i < count; i++) {
        const workspaceId = (i % 3 === 0 ? beta.workspaceId : acme.workspaceId) as never;
        const lane = i % 2 === 0 ? ("worker" as const) : ("cloud_ai" as const);
        await ctx.db.insert("jobCounterDeltas", {
          workspaceId,
          lane,
          statuses: { pending: 1 },
          moves: { "new>pending:enqueued": 1 },
        });
      }
    });
    const expected = (workspace: "acme" | "beta", lane: "worker" | "cloud_ai") =>
      Array.from({ length: count }, (_, i) => i).filter(
        (i) => (i % 3 === 0) === (workspace === "beta") && (i % 2 === 0) === (lane === "worker"),
      ).length;
    const check = async () => {
      const families = parse((await scrape(SERVICE_TOKEN)).text);
      for (const workspace of ["acme", "beta"] as const)
        for (const lane of ["worker", "cloud_ai"] as const) {
          expect(value(families, "ias_jobs", { workspace, lane, status: "pending" })).toBe(expected(workspace, lane));
          expect(value(families, "ias_jobs_enqueued_total", { workspace, lane })).toBe(expected(workspace, lane));
        }
    };
    await check();
    vi.useFakeTimers({ now: T0 + 10_000 });
    expect(await t.mutation(internal.jobCounters.rollup, {})).toEqual({ folded: 100, more: true });
    await check();
    await t.finishAllScheduledFunctions(vi.runAllTimers);
    const left = await t.run(async (ctx) => (await ctx.db.query("jobCounterDeltas").take(10)).length);
    expect(left).toBe(0);
    const totals = await t.run(async (ctx) => (await ctx.db.query("jobCounters").take(100)).length);
    expect(totals).toBe(4);
    await check();
  });

  test("the 16 shards of a deployment from before the deltas are read as they are, then merged into one total", async () => {
    const shards = Array.from({ length: 16 }, (_, shard) => ({
      workspaceId: acme.workspaceId as never,
      lane: "worker" as const,
      shard,
      statuses: { pending: shard % 3, done: 1 },
      moves: { "new>pending:enqueued": 1 + (shard % 3), "pending>running:claimed": 1, "running>done:completed": 1 },
    }));
    await t.run(async (ctx) => {
      for (const shard of shards) await ctx.db.insert("jobCounters", shard);
    });
    const pending = shards.reduce((sum, shard) => sum + shard.statuses.pending, 0);
    await acme.enqueue();
    const worker = { workspace: "acme", lane: "worker" };
    const check = async () => {
      const families = parse((await scrape(acmeAdminToken)).text);
      expect(value(families, "ias_jobs", { ...worker, status: "pending" })).toBe(pending + 1);
      expect(value(families, "ias_jobs", { ...worker, status: "done" })).toBe(16);
      expect(value(families, "ias_jobs_enqueued_total", worker)).toBe(pending + 16 + 1);
      expect(value(families, "ias_job_claims_total", worker)).toBe(16);
    };
    await check();
    vi.setSystemTime(T0 + 10_000);
    await t.mutation(internal.jobCounters.rollup, {});
    const totals = (await counterDocuments()).totals;
    expect(totals).toHaveLength(1);
    expect(totals[0]).not.toHaveProperty("shard");
    expect(totals[0]!.statuses).toEqual({ pending: pending + 1, done: 16 });
    await check();
  });
});

describe("Console stats", () => {
  test("members get the same numbers as /metrics; non-members are refused", async () => {
    await scriptedAcme(acme);
    const stats = await t
      .withIdentity(acme.member.identity)
      .query(api.metrics.stats, { workspaceId: acme.workspaceId });
    expect(stats).toMatchObject({
      slug: "acme",
      workersOnline: 2,
      lanes: {
        worker: {
          jobs: { pending: 3, running: 0, done: 1, failed: 0, blocked: 0, canceled: 1 },
          enqueued: 5,
          claims: 3,
          completions: { done: 1, failed: 1, blocked: 0, canceled: 0 },
          failures: 1,
          recoveries: { pending: 1, failed: 0, canceled: 0 },
          retries: 1,
          oldestPendingSince: T0,
        },
        cloud_ai: { jobs: { pending: 1 }, enqueued: 1, claims: 0, oldestPendingSince: T0 },
      },
    });
    const families = parse((await scrape(acmeAdminToken)).text);
    for (const transition of stats.lanes.worker.transitions) {
      const { from, to, event, count } = transition;
      expect(value(families, "ias_job_transitions_total", { workspace: "acme", lane: "worker", from, to, event })).toBe(
        count,
      );
    }

    const viewer = await createUser(t, "viewer@acme.test");
    await addMember(t, acme.workspaceId, viewer, "viewer");
    const seen = await t.withIdentity(viewer.identity).query(api.metrics.stats, { workspaceId: acme.workspaceId });
    expect(seen.lanes.worker.jobs.pending).toBe(3);

    const outsider = await createUser(t, "outsider@elsewhere.test");
    const refused = await rejection(
      t.withIdentity(outsider.identity).query(api.metrics.stats, { workspaceId: acme.workspaceId }),
    );
    expect(refused.code).toBe("FORBIDDEN");
    expect((await rejection(t.query(api.metrics.stats, { workspaceId: acme.workspaceId }))).code).toBe(
      "UNAUTHENTICATED",
    );
  });

  test("a workspace's counters are not another's", async () => {
    await acme.enqueue();
    const beta = await queueWorkspace(t, "beta");
    const stats = await t.withIdentity(beta.owner.identity).query(api.metrics.stats, { workspaceId: beta.workspaceId });
    expect(stats.lanes.worker.jobs.pending).toBe(0);
    expect(stats.lanes.worker.enqueued).toBe(0);
    expect(stats.lanes.worker.oldestPendingSince).toBeNull();
  });
});
