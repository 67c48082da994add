/**
 * Recurring run triggers (SPEC §6 "Scheduling"): type `schedule`, a 5-field cron expression in an
 * IANA time zone, fired on time by a chain of scheduled functions (fake timers drive convex-test's
 * scheduler); a firing missed while the scheduler was stopped fires once; Console CRUD re-arms or
 * cancels the chain so that at most one call is ever pending.
 */
import { describe, expect, test, vi } from "vitest";
import { api, internal } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { workspaceWithMember } from "./support/fixtures";
import { useFreshConvex } from "./support/harness";
import { caller, createRepo, rejection } from "./support/api";

const t = useFreshConvex();

const at = (iso: string) => Date.parse(iso);

async function setUp(now: number) {
  vi.useFakeTimers({ now });
  const acme = await workspaceWithMember(t, "acme");
  const repoId = (await createRepo(caller(t, acme.token), acme.workspaceId)) as Id<"repos">;
  const admin = t.withIdentity(acme.owner.identity);
  return { ...acme, repoId, admin };
}

/** Moves the clock to `time`, firing every timer due by then, and waits for the fired functions. */
async function advanceTo(time: number) {
  vi.advanceTimersByTime(time - Date.now());
  await t.finishInProgressScheduledFunctions();
}

async function trigger(runTriggerId: Id<"runTriggers">) {
  return (await t.run((ctx) => ctx.db.get(runTriggerId)))!;
}

async function jobs() {
  return await t.run((ctx) => ctx.db.query("jobs").collect());
}

async function pendingCalls() {
  return (await t.run((ctx) => ctx.db.system.query("_scheduled_functions").collect())).filter(
    (call) => call.state.kind === "pending" && call.name.startsWith("runTriggerSchedule"),
  );
}

describe("schedule run triggers", () => {
  test("a cron trigger fires at the right local time across a DST change (Europe/Berlin, spring forward)", async () => {
    // Friday 2026-03-27 12:00 UTC; Berlin leaves CET (UTC+1) for CEST (UTC+2) on Sunday 2026-03-29.
    const { workspaceId, repoId, admin } = await setUp(at("2026-03-27T12:00:00Z"));
    const runTriggerId = await admin.mutation(api.runTriggers.create, {
      workspaceId,
      name: "Morning sweep",
      type: "schedule",
      schedule: { cron: "0 9 * * *", timeZone: "Europe/Berlin" },
      action: {
        repoId,
        enqueueJob: { kind: "work", promptTemplate: "Sweep due {{event.occurredAt}} ({{event.source}})" },
      },
    });
    // 09:00 in Berlin: 08:00 UTC before the change, 07:00 UTC after it.
    const expected = [at("2026-03-28T08:00:00Z"), at("2026-03-29T07:00:00Z"), at("2026-03-30T07:00:00Z")];
    expect((await trigger(runTriggerId)).nextRunAt).toBe(expected[0]);
    const listed = await admin.query(api.runTriggers.list, {
      workspaceId,
      paginationOpts: { numItems: 10, cursor: null },
    });
    expect(listed.page).toEqual([
      expect.objectContaining({
        _id: runTriggerId,
        type: "schedule",
        schedule: { cron: "0 9 * * *", timeZone: "Europe/Berlin" },
        upcomingRuns: expected,
      }),
    ]);

    await advanceTo(expected[0]! - 1_000);
    expect(await jobs()).toHaveLength(0);
    await advanceTo(expected[0]!);
    expect((await jobs()).map((job) => job.prompt)).toEqual([`Sweep due ${expected[0]} (schedule)`]);
    expect((await trigger(runTriggerId)).nextRunAt).toBe(expected[1]);

    // Not 24 hours later (08:00 UTC) but 23: one second before, nothing new.
    await advanceTo(expected[1]! - 1_000);
    expect(await jobs()).toHaveLength(1);
    await advanceTo(expected[1]!);
    const fired = await jobs();
    expect(fired.map((job) => job.prompt)).toEqual([
      `Sweep due ${expected[0]} (schedule)`,
      `Sweep due ${expected[1]} (schedule)`,
    ]);
    expect(fired[1]!._creationTime).toBeGreaterThanOrEqual(expected[1]!);
    expect(await trigger(runTriggerId)).toMatchObject({
      nextRunAt: expected[2],
      lastRun: { at: expected[1], status: "done", jobId: fired[1]!._id },
    });
    expect(await pendingCalls()).toHaveLength(1);
  });

  test("a time that occurs twice when the clocks go back fires once (America/New_York, fall back)", async () => {
    // 2026-11-01 01:30 happens at 05:30 UTC (EDT) and again at 06:30 UTC (EST).
    const { workspaceId, repoId, admin } = await setUp(at("2026-10-31T12:00:00Z"));
    const runTriggerId = await admin.mutation(api.runTriggers.create, {
      workspaceId,
      name: "Night job",
      type: "schedule",
      schedule: { cron: "30 1 * * *", timeZone: "America/New_York" },
      action: { repoId, enqueueJob: { kind: "work", promptTemplate: "night {{event.occurredAt}}" } },
    });
    await advanceTo(at("2026-11-01T12:00:00Z"));
    expect((await jobs()).map((job) => job.prompt)).toEqual([`night ${at("2026-11-01T05:30:00Z")}`]);
    expect((await trigger(runTriggerId)).nextRunAt).toBe(at("2026-11-02T06:30:00Z"));
  });

  test("firings missed while the scheduler was stopped fire once, then the next future time (no burst)", async () => {
    const { workspaceId, repoId, admin } = await setUp(at("2026-06-01T10:00:00Z"));
    const runTriggerId = await admin.mutation(api.runTriggers.create, {
      workspaceId,
      name: "Every 10 minutes",
      type: "schedule",
      schedule: { cron: "*/10 * * * *", timeZone: "UTC" },
      action: { repoId, createRun: {}, enqueueJob: { kind: "work", promptTemplate: "tick {{event.occurredAt}}" } },
    });
    expect((await trigger(runTriggerId)).nextRunAt).toBe(at("2026-06-01T10:10:00Z"));
    // The process stops: its timers are gone, the pending call's row stays. Five hours later
    // (30 firings missed) it starts again and runs the overdue row at once (scripts/local/scheduled.ts).
    const [missed] = await pendingCalls();
    vi.clearAllTimers();
    vi.setSystemTime(at("2026-06-01T15:03:00Z"));
    await t.mutation(internal.runTriggerSchedule.fire, missed!.args[0]);
    const fired = await jobs();
    expect(fired.map((job) => job.prompt)).toEqual([`tick ${at("2026-06-01T10:10:00Z")}`]);
    expect(await trigger(runTriggerId)).toMatchObject({
      nextRunAt: at("2026-06-01T15:10:00Z"),
      lastRun: { at: at("2026-06-01T10:10:00Z"), status: "done" },
    });
    const run = await t.run((ctx) => ctx.db.get(fired[0]!.runId!));
    expect(run!.runRef).toBe(`event-${runTriggerId}-${at("2026-06-01T10:10:00Z")}`);
    const next = (await pendingCalls()).filter((call) => call._id !== missed!._id);
    expect(next.map((call) => call.scheduledTime)).toEqual([at("2026-06-01T15:10:00Z")]);
    // Running the old row again (a restart before it was marked done) is a no-op: stale generation.
    await t.mutation(internal.runTriggerSchedule.fire, missed!.args[0]);
    expect(await jobs()).toHaveLength(1);
    await advanceTo(at("2026-06-01T15:10:00Z"));
    expect(await jobs()).toHaveLength(2);
  });

  test("update, disable, enable and delete keep exactly one pending call; a stale call does nothing", async () => {
    const { workspaceId, repoId, admin } = await setUp(at("2026-06-01T10:00:00Z"));
    const runTriggerId = await admin.mutation(api.runTriggers.create, {
      workspaceId,
      name: "Hourly",
      type: "schedule",
      schedule: { cron: "0 * * * *", timeZone: "UTC" },
      action: { repoId, enqueueJob: { kind: "work", promptTemplate: "hourly" } },
    });
    const first = await trigger(runTriggerId);
    expect(await pendingCalls()).toHaveLength(1);

    await admin.mutation(api.runTriggers.update, {
      workspaceId,
      runTriggerId,
      schedule: { cron: "30 10 * * *", timeZone: "UTC" },
    });
    const updated = await trigger(runTriggerId);
    expect(updated.nextRunAt).toBe(at("2026-06-01T10:30:00Z"));
    expect(updated.scheduleGeneration).toBeGreaterThan(first.scheduleGeneration!);
    expect((await pendingCalls()).map((call) => call._id)).toEqual([updated.scheduledFunctionId]);
    // The first chain's call, had it escaped the cancel, finds a newer generation.
    await t.mutation(internal.runTriggerSchedule.fire, { runTriggerId, generation: first.scheduleGeneration! });
    expect(await jobs()).toHaveLength(0);
    expect((await trigger(runTriggerId)).nextRunAt).toBe(at("2026-06-01T10:30:00Z"));

    await admin.mutation(api.runTriggers.update, { workspaceId, runTriggerId, enabled: false });
    expect(await pendingCalls()).toHaveLength(0);
    expect((await trigger(runTriggerId)).nextRunAt).toBeUndefined();
    await advanceTo(at("2026-06-01T11:00:00Z"));
    expect(await jobs()).toHaveLength(0);

    await admin.mutation(api.runTriggers.update, { workspaceId, runTriggerId, enabled: true });
    expect((await trigger(runTriggerId)).nextRunAt).toBe(at("2026-06-02T10:30:00Z"));
    expect(await pendingCalls()).toHaveLength(1);
    // Renaming leaves the chain alone.
    const armed = await trigger(runTriggerId);
    await admin.mutation(api.runTriggers.update, { workspaceId, runTriggerId, name: "Daily" });
    expect((await trigger(runTriggerId)).scheduledFunctionId).toBe(armed.scheduledFunctionId);

    await admin.mutation(api.runTriggers.remove, { workspaceId, runTriggerId });
    expect(await pendingCalls()).toHaveLength(0);
    await advanceTo(at("2026-06-03T00:00:00Z"));
    expect(await jobs()).toHaveLength(0);
  });

  test("a failing firing is recorded on the trigger and the chain goes on", async () => {
    const { workspaceId, repoId, admin } = await setUp(at("2026-06-01T10:00:00Z"));
    const runTriggerId = await admin.mutation(api.runTriggers.create, {
      workspaceId,
      name: "Repo goes away",
      type: "schedule",
      schedule: { cron: "0 * * * *", timeZone: "UTC" },
      action: { repoId, enqueueJob: { kind: "work", promptTemplate: "x" } },
    });
    await t.run((ctx) => ctx.db.delete(repoId));
    await advanceTo(at("2026-06-01T11:00:00Z"));
    const stored = await trigger(runTriggerId);
    expect(stored.lastRun).toMatchObject({ at: at("2026-06-01T11:00:00Z"), status: "failed" });
    expect(stored.lastRun!.error).toMatch(/^REPO_NOT_FOUND: /);
    expect(stored.nextRunAt).toBe(at("2026-06-01T12:00:00Z"));
    expect(await jobs()).toHaveLength(0);
    expect(await pendingCalls()).toHaveLength(1);
  });

  test("the repair sweep fires a trigger whose call ended without firing, once", async () => {
    const { workspaceId, repoId, admin } = await setUp(at("2026-06-01T10:00:00Z"));
    const runTriggerId = await admin.mutation(api.runTriggers.create, {
      workspaceId,
      name: "Hourly",
      type: "schedule",
      schedule: { cron: "0 * * * *", timeZone: "UTC" },
      action: { repoId, enqueueJob: { kind: "work", promptTemplate: "hourly {{event.occurredAt}}" } },
    });
    // As local mode does at start for a call that was running when the process died.
    const { scheduledFunctionId } = await trigger(runTriggerId);
    await t.run(async (ctx) => {
      await ctx.scheduler.cancel(scheduledFunctionId!);
    });
    vi.setSystemTime(at("2026-06-01T11:00:30Z"));
    await t.mutation(internal.runTriggerSchedule.repairStalled, {});
    await advanceTo(Date.now());
    expect(await jobs()).toHaveLength(0); // not overdue by a minute yet: the call may still come
    vi.setSystemTime(at("2026-06-01T11:05:00Z"));
    await t.mutation(internal.runTriggerSchedule.repairStalled, {});
    await t.mutation(internal.runTriggerSchedule.repairStalled, {}); // its fresh call is pending: left alone
    await advanceTo(Date.now());
    expect((await jobs()).map((job) => job.prompt)).toEqual([`hourly ${at("2026-06-01T11:00:00Z")}`]);
    expect((await trigger(runTriggerId)).nextRunAt).toBe(at("2026-06-01T12:00:00Z"));
    expect(await pendingCalls()).toHaveLength(1);
  });

  test("schedules are checked: 5 fields, a real IANA zone, a type's own fields only", async () => {
    const { workspaceId, repoId, admin, member } = await setUp(at("2026-06-01T10:00:00Z"));
    const action = { repoId, enqueueJob: { kind: "work" as const, promptTemplate: "x" } };
    const create = (fields: Record<string, unknown>) =>
      rejection(
        admin.mutation(api.runTriggers.create, {
          workspaceId,
          name: "x",
          action,
          type: "schedule",
          ...fields,
        } as never),
      );
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ schedule: { cron: "0 0 * * * *", timeZone: "UTC" } }, /^schedule\.cron: must have exactly 5 fields.*not 6/],
      [{ schedule: { cron: "@daily", timeZone: "UTC" } }, /^schedule\.cron: must have exactly 5 fields/],
      [{ schedule: { cron: "61 * * * *", timeZone: "UTC" } }, /^schedule\.cron: is not a valid cron expression/],
      [{ schedule: { cron: "0 0 31 2 *", timeZone: "UTC" } }, /^schedule\.cron: never fires/],
      [{ schedule: { cron: "0 9 * * *", timeZone: "Europe/Atlantis" } }, /^schedule\.timeZone: must be an IANA/],
      [{ schedule: { cron: "0 9 * * *", timeZone: "" } }, /^schedule\.timeZone/],
      [{}, /^schedule: is required for a trigger of type `schedule`/],
      [
        { schedule: { cron: "0 9 * * *", timeZone: "UTC" }, source: "github" },
        /^source: is not a field of a trigger of type `schedule`/,
      ],
      [
        { type: "event", source: "github", eventType: "x", schedule: { cron: "0 9 * * *", timeZone: "UTC" } },
        /^schedule: is not a field of a trigger of type `event`/,
      ],
      [{ type: "event", source: "github" }, /^eventType: is required/],
    ];
    for (const [fields, message] of cases) {
      const refused = await create(fields);
      expect(refused.code).toBe("INVALID_REQUEST");
      expect(refused.message).toMatch(message);
    }
    await expect(
      t.withIdentity(member.identity).mutation(api.runTriggers.create, {
        workspaceId,
        name: "x",
        type: "schedule",
        schedule: { cron: "0 9 * * *", timeZone: "UTC" },
        action,
      }),
    ).rejects.toThrow(/admin/);
    const id = await admin.mutation(api.runTriggers.create, {
      workspaceId,
      name: "x",
      type: "schedule",
      schedule: { cron: " 0 9 * * 1-5 ", timeZone: "Asia/Kolkata" },
      action,
    });
    expect((await trigger(id)).schedule).toEqual({ cron: "0 9 * * 1-5", timeZone: "Asia/Kolkata" });
    const refused = await rejection(
      admin.mutation(api.runTriggers.update, {
        workspaceId,
        runTriggerId: id,
        schedule: { cron: "0 9", timeZone: "UTC" },
      }),
    );
    expect(refused).toMatchObject({ code: "INVALID_REQUEST", message: expect.stringMatching(/^schedule\.cron/) });
    expect(await pendingCalls()).toHaveLength(1);
    expect(await t.run((ctx) => ctx.db.query("jobs").collect())).toHaveLength(0);
  });

  test("changes are audited", async () => {
    const { workspaceId, repoId, admin } = await setUp(at("2026-06-01T10:00:00Z"));
    const runTriggerId = await admin.mutation(api.runTriggers.create, {
      workspaceId,
      name: "Hourly",
      type: "schedule",
      schedule: { cron: "0 * * * *", timeZone: "UTC" },
      action: { repoId, enqueueJob: { kind: "work", promptTemplate: "hourly" } },
    });
    await admin.mutation(api.runTriggers.update, {
      workspaceId,
      runTriggerId,
      schedule: { cron: "5 * * * *", timeZone: "UTC" },
      enabled: false,
    });
    await admin.mutation(api.runTriggers.remove, { workspaceId, runTriggerId });
    const rows = await t.run((ctx) => ctx.db.query("auditLog").collect());
    const ours = rows.filter((row) => String(row.action).startsWith("run_trigger."));
    expect(ours.map((row) => row.action)).toEqual([
      "run_trigger.created",
      "run_trigger.updated",
      "run_trigger.deleted",
    ]);
    expect(JSON.stringify(ours[1])).toMatch(/schedule/);
    expect(JSON.stringify(ours[1])).toMatch(/enabled/);
  });
});
