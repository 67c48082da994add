// @vitest-environment node
/** Local mode's cron runner, driven by a small fake `cronJobs()` object and fake timers. */
import { cronJobs, makeFunctionReference } from "convex/server";
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { cronMatcher, nextRunAfter, startCronRunner, type CronSpec } from "../scripts/local/crons";

const at = (iso: string) => Date.parse(iso);

describe("nextRunAfter", () => {
  test("interval, calendar and cron-string schedules", () => {
    const from = at("2026-03-10T10:20:30Z");
    expect(nextRunAfter({ type: "interval", seconds: 5 }, from)).toBe(from + 5_000);
    expect(nextRunAfter({ type: "interval", minutes: 2 }, from)).toBe(from + 120_000);
    expect(nextRunAfter({ type: "hourly", minuteUTC: 15 }, from)).toBe(at("2026-03-10T11:15:00Z"));
    expect(nextRunAfter({ type: "daily", hourUTC: 3 }, from)).toBe(at("2026-03-11T03:00:00Z"));
    expect(nextRunAfter({ type: "weekly", dayOfWeek: "friday", hourUTC: 9, minuteUTC: 30 }, from)).toBe(
      at("2026-03-13T09:30:00Z"),
    );
    expect(nextRunAfter({ type: "monthly", day: 1, hourUTC: 0 }, from)).toBe(at("2026-04-01T00:00:00Z"));
    expect(nextRunAfter({ type: "cron", cron: "*/15 * * * *" }, from)).toBe(at("2026-03-10T10:30:00Z"));
    expect(nextRunAfter({ type: "cron", cron: "0 9 * * 1-5" }, from)).toBe(at("2026-03-11T09:00:00Z"));
  });

  test("schedules it cannot evaluate answer null", () => {
    expect(nextRunAfter({ type: "cron", cron: "0 9 * * MON" }, 0)).toBeNull();
    expect(cronMatcher("* * *")).toBeNull();
    expect(nextRunAfter({ type: "someday" } as never, 0)).toBeNull();
  });
});

describe("startCronRunner", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  test("runs a real cronJobs() interval job with its decoded arguments", async () => {
    const crons = cronJobs();
    crons.interval("sweep", { seconds: 2 }, makeFunctionReference<"mutation">("jobs:sweepExpiredLeases"), {
      limit: 5n,
    });
    const calls: Array<[string, unknown]> = [];
    const runner = startCronRunner(
      crons as unknown as { crons: Record<string, CronSpec> },
      async (name, args) => {
        calls.push([name, args]);
      },
      () => undefined,
    );

    await vi.advanceTimersByTimeAsync(1_999);
    expect(calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await vi.advanceTimersByTimeAsync(4_000);
    expect(calls).toEqual([
      ["jobs:sweepExpiredLeases", { limit: 5n }],
      ["jobs:sweepExpiredLeases", { limit: 5n }],
      ["jobs:sweepExpiredLeases", { limit: 5n }],
    ]);
    runner.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toHaveLength(3);
  });

  test("logs failures, skips a run while the previous one is still going, warns on unsupported", async () => {
    const logs: string[] = [];
    let calls = 0;
    let finishSlow = () => {};
    const crons: Record<string, CronSpec> = {
      failing: { name: "a:fails", args: [{}], schedule: { type: "interval", seconds: 1 } },
      slow: { name: "a:slow", args: [{}], schedule: { type: "interval", seconds: 1 } },
      weird: { name: "a:weird", args: [{}], schedule: { type: "cron", cron: "@daily" } },
    };
    const runner = startCronRunner(
      { crons },
      async (name) => {
        calls += 1;
        if (name === "a:fails") throw new Error("boom");
        if (name === "a:slow") await new Promise<void>((resolve) => (finishSlow = resolve));
      },
      (message) => logs.push(message),
    );

    expect(logs.join("\n")).toMatch(/"weird".*not supported/);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(logs.filter((line) => /"failing" \(a:fails\) failed: boom/.test(line))).toHaveLength(2);
    expect(logs.some((line) => /"slow": previous run still in progress/.test(line))).toBe(true);
    finishSlow();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toBe(5); // failing x3, slow x2 (the second tick was skipped)
    runner.stop();
  });
});

describe("the deployment's crons, as local mode loads them", () => {
  test("the metrics counters' rollup runs every 5 s, so local mode folds counter deltas too", async () => {
    const crons = (await import("../convex/crons")).default as unknown as { crons: Record<string, CronSpec> };
    expect(crons.crons["fold job counter deltas"]).toMatchObject({
      name: "jobCounters:rollup",
      schedule: { type: "interval", seconds: 5 },
    });
  });
});
