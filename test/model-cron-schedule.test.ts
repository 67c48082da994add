/** The pure cron helper (convex/model/cronSchedule.ts): 5 fields, IANA zones, DST gaps and repeats. */
import { describe, expect, test } from "vitest";
import { nextRunAfter, nextRunTimes, scheduleProblem, UPCOMING_RUNS } from "../convex/model/cronSchedule";

const at = (iso: string) => Date.parse(iso);
const iso = (times: number[]) => times.map((time) => new Date(time).toISOString());

describe("cron schedules", () => {
  test("the Console lists 3 upcoming runs", () => {
    expect(UPCOMING_RUNS).toBe(3);
  });

  test("times are read in the zone, and follow its DST changes", () => {
    const berlin = { cron: "0 9 * * *", timeZone: "Europe/Berlin" };
    expect(iso(nextRunTimes(berlin, at("2026-03-27T12:00:00Z"), 3))).toEqual([
      "2026-03-28T08:00:00.000Z",
      "2026-03-29T07:00:00.000Z",
      "2026-03-30T07:00:00.000Z",
    ]);
    expect(iso(nextRunTimes(berlin, at("2026-10-24T12:00:00Z"), 2))).toEqual([
      "2026-10-25T08:00:00.000Z",
      "2026-10-26T08:00:00.000Z",
    ]);
    // A time in the spring-forward gap (02:30 does not exist on 2026-03-29) fires at 03:00 CEST.
    expect(iso(nextRunTimes({ cron: "30 2 * * *", timeZone: "Europe/Berlin" }, at("2026-03-28T12:00:00Z"), 2))).toEqual(
      ["2026-03-29T01:00:00.000Z", "2026-03-30T00:30:00.000Z"],
    );
    // A time that happens twice when the clocks go back fires once (the first).
    expect(iso(nextRunTimes({ cron: "30 2 * * *", timeZone: "Europe/Berlin" }, at("2026-10-24T12:00:00Z"), 2))).toEqual(
      ["2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"],
    );
  });

  test("the next run is strictly after the given time; weekday ranges and steps work", () => {
    const weekdays = { cron: "*/30 9-10 * * 1-5", timeZone: "UTC" };
    expect(nextRunAfter(weekdays, at("2026-06-01T09:00:00Z"))).toBe(at("2026-06-01T09:30:00Z"));
    // Friday 10:30 -> Monday 09:00.
    expect(nextRunAfter(weekdays, at("2026-06-05T10:30:00Z"))).toBe(at("2026-06-08T09:00:00Z"));
    // Day of month and day of week both set: either matches (Vixie cron).
    expect(iso(nextRunTimes({ cron: "0 0 1 * 1", timeZone: "UTC" }, at("2026-06-01T00:00:00Z"), 2))).toEqual([
      "2026-06-08T00:00:00.000Z",
      "2026-06-15T00:00:00.000Z",
    ]);
  });

  test("problems name the field", () => {
    const problem = (cron: string, timeZone = "UTC") => scheduleProblem({ cron, timeZone });
    expect(problem("0 9 * * *", "Europe/Berlin")).toBeNull();
    expect(problem("0 9 * * MON-FRI", "America/New_York")).toBeNull();
    expect(problem("0 9 * * * *")).toMatchObject({ path: "schedule.cron", message: expect.stringMatching(/not 6/) });
    expect(problem("0 9 * *")).toMatchObject({ path: "schedule.cron", message: expect.stringMatching(/not 4/) });
    expect(problem("@hourly")?.path).toBe("schedule.cron");
    expect(problem("")?.path).toBe("schedule.cron");
    expect(problem("0 24 * * *")).toMatchObject({
      path: "schedule.cron",
      message: expect.stringMatching(/valid cron/),
    });
    expect(problem("0 0 30 2 *")).toMatchObject({ path: "schedule.cron", message: "never fires." });
    expect(problem("0 9 * * *", "Europe/Atlantis")?.path).toBe("schedule.timeZone");
    expect(problem("0 9 * * *", "+02:00")?.path).toBe("schedule.timeZone");
  });
});
