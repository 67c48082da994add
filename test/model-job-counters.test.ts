/**
 * The pure side of the metrics (model/jobCounters.ts, model/metricsText.ts): compacting, what each
 * change adds, how the named counters derive from the move counts, and the text format's escaping
 * as the real parser reads it back.
 */
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { describe, expect, test } from "vitest";
import {
  addDelta,
  birthDelta,
  compactDelta,
  emptyDelta,
  knownMoves,
  laneCounts,
  moveDelta,
  parseMoveKey,
  presenceDelta,
} from "../convex/model/jobCounters";
import { exposition, metricFamilies, type WorkspaceStats } from "../convex/model/metricsText";

describe("compacting a delta", () => {
  test("zero entries go; a delta that nets out to nothing is not written", () => {
    const bornAndDeleted = addDelta(presenceDelta("done", 1), presenceDelta("done", -1));
    expect(compactDelta(bornAndDeleted)).toBeNull();
    const moved = addDelta(birthDelta("pending", "enqueued"), moveDelta("pending", "running", "claimed"));
    expect(compactDelta(moved)).toEqual({
      statuses: { running: 1 },
      moves: { "new>pending:enqueued": 1, "pending>running:claimed": 1 },
    });
  });
});

describe("deltas and derived counts", () => {
  const lifeOfAJob = [
    birthDelta("pending", "enqueued"),
    moveDelta("pending", "running", "claimed"),
    moveDelta("running", "pending", "recovered"),
    moveDelta("pending", "running", "claimed"),
    moveDelta("running", "failed", "failed"),
    moveDelta("failed", "pending", "retried"),
    moveDelta("pending", "running", "claimed"),
    moveDelta("running", "failed", "recovered"),
  ];

  test("a job's life nets out to one job in its last status", () => {
    const total = lifeOfAJob.reduce(addDelta, emptyDelta());
    expect(Object.entries(total.statuses).filter(([, count]) => count !== 0)).toEqual([["failed", 1]]);
    expect(addDelta(total, presenceDelta("failed", -1)).statuses.failed).toBe(0);
  });

  test("claims, completions, failures, recoveries and retries come from the moves, summed over the total and its deltas", () => {
    const counts = laneCounts([
      lifeOfAJob.slice(0, 4).reduce(addDelta, emptyDelta()),
      lifeOfAJob.slice(4).reduce(addDelta, emptyDelta()),
    ]);
    expect(counts).toMatchObject({
      jobs: { pending: 0, running: 0, failed: 1, done: 0 },
      enqueued: 1,
      claims: 3,
      // Only the worker's failed report is a completion; the lost lease is a recovery (and a failure).
      completions: { done: 0, failed: 1, blocked: 0, canceled: 0 },
      failures: 2,
      recoveries: { pending: 1, failed: 1, canceled: 0 },
      retries: 1,
    });
  });

  test("a cancel while pending is not a completion; every known move is listed, at zero before it happens", () => {
    const counts = laneCounts([
      addDelta(birthDelta("pending", "enqueued"), moveDelta("pending", "canceled", "canceled")),
    ]);
    expect(counts.completions.canceled).toBe(0);
    expect(counts.transitions).toHaveLength(knownMoves().length);
    expect(counts.transitions.find((move) => move.from === "pending" && move.to === "canceled")?.count).toBe(1);
    expect(counts.transitions.find((move) => move.to === "done")?.count).toBe(0);
  });

  test("a move the table does not know yet (a new status) is still counted", () => {
    const counts = laneCounts([{ statuses: {}, moves: { "scheduled>pending:released": 2 } }]);
    expect(counts.transitions).toContainEqual({ from: "scheduled", to: "pending", event: "released", count: 2 });
    expect(parseMoveKey("not a key")).toBeNull();
  });
});

describe("the text format", () => {
  test("label values with quotes, backslashes and newlines read back as written", () => {
    const awkward = 'we"ird\\slug\nx';
    const lane = { ...laneCounts([]), oldestPendingSince: 1_000 };
    const stats: WorkspaceStats = {
      workspaceId: "ws1",
      slug: awkward,
      lanes: { worker: lane, cloud_ai: { ...lane, oldestPendingSince: null } },
      workersOnline: 7,
      pendingCounterDeltas: 3,
    };
    const families = parsePrometheusTextFormat(exposition(metricFamilies([stats], 3_500)));
    const workers = families.find((family) => family.name === "ias_workers_online")!;
    expect(workers.type).toBe("GAUGE");
    expect(workers.metrics).toEqual([{ labels: { workspace: awkward, workspace_id: "ws1" }, value: "7" }]);
    const pending = families.find((family) => family.name === "ias_job_counter_pending_deltas")!;
    expect(pending.metrics).toEqual([{ labels: { workspace: awkward, workspace_id: "ws1" }, value: "3" }]);
    const age = families.find((family) => family.name === "ias_job_oldest_pending_age_seconds")!;
    expect(age.metrics.map((metric) => [metric.labels?.lane, metric.value])).toEqual([
      ["worker", "2.5"],
      ["cloud_ai", "0"],
    ]);
  });
});
