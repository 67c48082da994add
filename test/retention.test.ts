/**
 * Retention (SPEC §6): per-workspace settings (admins, Console) and the cron sweep, under Convex's
 * transaction limits with more rows than one batch: exactly the expired finished jobs (with their
 * events) and the other expired rows go; unfinished jobs, parents of unfinished children and
 * younger rows stay.
 */
import { beforeEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../convex/_generated/api";
import type { Doc, Id } from "../convex/_generated/dataModel";
import type { JobOutcome } from "../convex/model/jobs";
import { rejection } from "./support/api";
import { storedJob, type StoredJobFields } from "./support/job-documents";
import { createUser, workspaceWithMember } from "./support/fixtures";
import { useFreshConvex } from "./support/harness";

const DAY = 86_400_000;
const NOW = Date.UTC(2031, 0, 15, 12);
const daysAgo = (days: number) => NOW - days * DAY;

const t = useFreshConvex();
beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"], now: daysAgo(500) });
});

/** Inserts a job of `repoId` (as enqueue would store it) with `events` timeline events. */
async function insertJob(
  workspaceId: Id<"workspaces">,
  repoId: Id<"repos">,
  fields: StoredJobFields,
  events = 2,
): Promise<Id<"jobs">> {
  const jobId = await t.run((ctx) => ctx.db.insert("jobs", storedJob(workspaceId, repoId, fields, events)));
  for (let first = 1; first <= events; first += 5_000) {
    await t.run(async (ctx) => {
      for (let seq = first; seq < Math.min(first + 5_000, events + 1); seq++) {
        await ctx.db.insert("jobEvents", {
          workspaceId,
          jobId,
          seq,
          type: seq === 1 ? "enqueued" : "log",
          at: Date.now(),
          ...(seq === 1 ? {} : { data: { lines: [`line ${seq}`] } }),
        });
      }
    });
  }
  return jobId;
}

async function repoOf(workspaceId: Id<"workspaces">, hash: string): Promise<Id<"repos">> {
  return await t.run((ctx) =>
    ctx.db.insert("repos", { workspaceId, remoteUrlHash: hash, status: "active", updatedAt: Date.now() }),
  );
}

async function eventsOf(jobId: Id<"jobs">) {
  return await t.run(
    async (ctx) =>
      (
        await ctx.db
          .query("jobEvents")
          .withIndex("by_job_seq", (q) => q.eq("jobId", jobId))
          .take(20_000)
      ).length,
  );
}

async function exists(id: Id<any>) {
  return (await t.run((ctx) => ctx.db.get(id))) !== null;
}

/** Runs the cron and everything it schedules; returns the sweep transactions that ran. */
async function runRetention() {
  vi.setSystemTime(NOW);
  await t.mutation(internal.retention.sweepAll, {});
  await t.finishAllScheduledFunctions(vi.runAllTimers);
  const runs = await t.run((ctx) => ctx.db.system.query("_scheduled_functions").take(1_000));
  return runs.filter((run) => run.name.includes("sweepWorkspace"));
}

describe("the retention sweep", () => {
  test("deletes exactly the expired finished jobs and their events, in several bounded transactions", async () => {
    const { workspaceId } = await workspaceWithMember(t, "acme");
    const repoId = await repoOf(workspaceId, "origin");
    const finished = (days: number, status: JobOutcome = "done", extra: Partial<Doc<"jobs">> = {}) => ({
      status,
      outcome: status,
      finishedAt: daysAgo(days),
      ...extra,
    });

    // 150 expired jobs (more than a page), every finished status among them.
    const statuses = ["done", "failed", "blocked", "canceled"] as const;
    const expired: Id<"jobs">[] = [];
    for (let i = 0; i < 150; i++)
      expired.push(await insertJob(workspaceId, repoId, finished(31 + (i % 5), statuses[i % 4])));
    // One with a 16,500-event timeline: more than one transaction may delete (16,000 documents written).
    const longJob = await insertJob(workspaceId, repoId, finished(45), 16_500);
    // Just past and just inside the 30-day default.
    const justExpired = await insertJob(workspaceId, repoId, finished(30 + 1 / 24));
    const young = await insertJob(workspaceId, repoId, finished(30 - 1 / 24));
    const recent = await insertJob(workspaceId, repoId, finished(2));
    // Unfinished jobs stay however old they are.
    const pending = await insertJob(workspaceId, repoId, { status: "pending" });
    const running = await insertJob(workspaceId, repoId, { status: "running", leaseExpiresAt: NOW + DAY });
    // A parent whose child is not finished stays (and the child); one whose children are finished goes with them.
    const waitingParent = await insertJob(workspaceId, repoId, finished(60));
    const unfinishedChild = await insertJob(workspaceId, repoId, { status: "pending", parentJobId: waitingParent });
    const runningChildParent = await insertJob(workspaceId, repoId, finished(60));
    const runningChild = await insertJob(workspaceId, repoId, { status: "running", parentJobId: runningChildParent });
    const doneParent = await insertJob(workspaceId, repoId, finished(60));
    const doneChildren = [
      await insertJob(workspaceId, repoId, finished(50, "done", { parentJobId: doneParent })),
      await insertJob(workspaceId, repoId, finished(50, "failed", { parentJobId: doneParent })),
    ];
    // A child finished young while its parent expired: the parent goes, the child stays.
    const expiredParentOfYoung = await insertJob(workspaceId, repoId, finished(40));
    const youngChild = await insertJob(workspaceId, repoId, finished(5, "done", { parentJobId: expiredParentOfYoung }));

    const runs = await runRetention();
    expect(runs.length).toBeGreaterThan(4);
    expect(runs.every((run) => run.state.kind === "success")).toBe(true);

    for (const jobId of [...expired, longJob, justExpired, doneParent, ...doneChildren, expiredParentOfYoung]) {
      expect(await exists(jobId), jobId).toBe(false);
      expect(await eventsOf(jobId)).toBe(0);
    }
    const kept = [
      young,
      recent,
      pending,
      running,
      waitingParent,
      unfinishedChild,
      runningChildParent,
      runningChild,
      youngChild,
    ];
    for (const jobId of kept) {
      expect(await exists(jobId), jobId).toBe(true);
      expect(await eventsOf(jobId)).toBe(2);
    }
    const left = await t.run(async (ctx) => ({
      jobs: (
        await ctx.db
          .query("jobs")
          .withIndex("by_workspace", (q) => q.eq("workspaceId", workspaceId))
          .take(500)
      ).length,
      events: (await ctx.db.query("jobEvents").take(20_000)).length,
    }));
    expect(left).toEqual({ jobs: kept.length, events: kept.length * 2 });
  });

  test("a deleted job's job-token reports go with it; a kept job keeps its report", async () => {
    const { workspaceId } = await workspaceWithMember(t, "acme");
    const repoId = await repoOf(workspaceId, "origin");
    const old = await insertJob(workspaceId, repoId, {
      status: "blocked",
      outcome: "blocked",
      finishedAt: daysAgo(31),
    });
    const young = await insertJob(workspaceId, repoId, { status: "done", outcome: "done", finishedAt: daysAgo(1) });
    const report = (jobId: Id<"jobs">) =>
      t.run((ctx) =>
        ctx.db.insert("jobReports", { workspaceId, jobId, claimGeneration: 1, blockedReason: "waits", children: [] }),
      );
    const [oldReport, youngReport] = [await report(old), await report(young)];
    await runRetention();
    expect([await exists(old), await exists(oldReport)]).toEqual([false, false]);
    expect([await exists(young), await exists(youngReport)]).toEqual([true, true]);
  });

  test("each workspace's own settings apply; the other rows go after their SPEC defaults", async () => {
    const acme = await workspaceWithMember(t, "acme", "owner");
    const beta = await workspaceWithMember(t, "beta", "owner");
    const [acmeRepo, betaRepo] = [await repoOf(acme.workspaceId, "a"), await repoOf(beta.workspaceId, "b")];

    // Rows whose age comes from their creation time are created at that time, oldest first.
    vi.setSystemTime(daysAgo(366));
    const oldAudit = await t.run((ctx) =>
      ctx.db.insert("auditLog", { workspaceId: acme.workspaceId, action: "member.added", actor: { kind: "service" } }),
    );
    vi.setSystemTime(daysAgo(364));
    const youngAudit = await t.run((ctx) =>
      ctx.db.insert("auditLog", { workspaceId: acme.workspaceId, action: "member.added", actor: { kind: "service" } }),
    );
    const runId = await t.run((ctx) =>
      ctx.db.insert("runs", {
        workspaceId: acme.workspaceId,
        repoId: acmeRepo,
        runRef: "r1",
        status: "in_progress",
        updatedAt: Date.now(),
      }),
    );
    const pack = () =>
      t.run((ctx) =>
        ctx.db.insert("contextPacks", {
          workspaceId: acme.workspaceId,
          runId,
          items: [],
          maxItems: 50,
          maxTextBytes: 65_536,
          expansionHints: [],
        }),
      );
    vi.setSystemTime(daysAgo(31));
    const oldPack = await pack();
    vi.setSystemTime(daysAgo(29));
    const youngPack = await pack();
    vi.setSystemTime(NOW - 60_000);

    const event = (days: number) =>
      t.run((ctx) =>
        ctx.db.insert("integrationEvents", {
          workspaceId: acme.workspaceId,
          source: "github",
          eventType: "push",
          idempotencyKey: `key-${days}`,
          dataPolicy: "full",
          receivedAt: daysAgo(days),
          triggers: [],
        }),
      );
    const [oldEvent, youngEvent] = [await event(31), await event(29)];

    const worker = (name: string, days: number, online: boolean) =>
      t.run((ctx) =>
        ctx.db.insert("workers", {
          workspaceId: acme.workspaceId,
          displayName: name,
          status: online ? "online" : "offline",
          capabilities: {},
          inventory: {},
          lastSeenAt: daysAgo(days),
          online,
        }),
      );
    const [goneWorker, youngWorker] = [await worker("gone", 15, false), await worker("young", 13, false)];

    const token = (label: string, fields: { expiresAt: number; revokedAt?: number }) =>
      t.run((ctx) =>
        ctx.db.insert("apiTokens", {
          tokenHash: `hash-${label}`,
          prefix: "ias_xxxxxxxx",
          kind: "device",
          workspaceId: acme.workspaceId,
          label,
          ...fields,
        }),
      );
    const expiredLongAgo = await token("expired-31", { expiresAt: daysAgo(31) });
    const expiredRecently = await token("expired-29", { expiresAt: daysAgo(29) });
    const revokedLongAgo = await token("revoked-31", { expiresAt: NOW + 50 * DAY, revokedAt: daysAgo(31) });
    const revokedRecently = await token("revoked-29", { expiresAt: NOW + 50 * DAY, revokedAt: daysAgo(29) });

    // beta keeps finished jobs 7 days; acme keeps the default 30.
    await t.withIdentity(beta.owner.identity).mutation(api.retention.set, {
      workspaceId: beta.workspaceId,
      finishedJobsDays: 7,
    });
    const acmeTenDays = await insertJob(acme.workspaceId, acmeRepo, { status: "done", finishedAt: daysAgo(10) });
    const betaTenDays = await insertJob(beta.workspaceId, betaRepo, { status: "done", finishedAt: daysAgo(10) });
    const betaSixDays = await insertJob(beta.workspaceId, betaRepo, { status: "done", finishedAt: daysAgo(6) });

    await runRetention();

    const gone = [oldAudit, oldPack, oldEvent, goneWorker, expiredLongAgo, revokedLongAgo, betaTenDays];
    const kept = [
      youngAudit,
      youngPack,
      youngEvent,
      youngWorker,
      expiredRecently,
      revokedRecently,
      acmeTenDays,
      betaSixDays,
    ];
    for (const id of gone) expect(await exists(id), `${id} should be deleted`).toBe(false);
    for (const id of kept) expect(await exists(id), `${id} should be kept`).toBe(true);
  });

  test("a worker still flagged online is never deleted, however long ago it was seen", async () => {
    const { workspaceId } = await workspaceWithMember(t, "acme");
    const stale = await t.run((ctx) =>
      ctx.db.insert("workers", {
        workspaceId,
        displayName: "stale",
        status: "online",
        capabilities: {},
        inventory: {},
        lastSeenAt: daysAgo(100),
        online: true,
      }),
    );
    await runRetention();
    expect(await exists(stale)).toBe(true);
  });
});

describe("Console retention settings", () => {
  test("admins read the defaults, change some days and every change is audited", async () => {
    const { workspaceId, owner } = await workspaceWithMember(t, "acme", "owner");
    const asOwner = t.withIdentity(owner.identity);
    const defaults = {
      finishedJobsDays: 30,
      integrationEventsDays: 30,
      contextPacksDays: 30,
      offlineWorkersDays: 14,
      endedTokensDays: 30,
      auditDays: 365,
    };
    expect(await asOwner.query(api.retention.get, { workspaceId })).toEqual({ settings: defaults, defaults });

    const after = await asOwner.mutation(api.retention.set, { workspaceId, finishedJobsDays: 7, auditDays: 400 });
    expect(after).toEqual({ ...defaults, finishedJobsDays: 7, auditDays: 400 });
    expect((await asOwner.query(api.retention.get, { workspaceId })).settings).toEqual(after);
    // The same values again change nothing and record nothing.
    await asOwner.mutation(api.retention.set, { workspaceId, finishedJobsDays: 7 });

    const audit = await asOwner.query(api.audit.list, {
      workspaceId,
      action: "workspace.retention_changed",
      paginationOpts: { numItems: 10, cursor: null },
    });
    expect(audit.page).toHaveLength(1);
    expect(audit.page[0]).toMatchObject({
      actor: { kind: "user", userId: owner.userId },
      details: { finishedJobsDays: "30 → 7", auditDays: "365 → 400" },
    });
  });

  test("values out of range are refused naming the field; members may neither read nor change", async () => {
    const { workspaceId, owner, member } = await workspaceWithMember(t, "acme", "member");
    const asOwner = t.withIdentity(owner.identity);
    for (const [field, value] of [
      ["finishedJobsDays", 0],
      ["finishedJobsDays", 1.5],
      ["offlineWorkersDays", 3651],
      ["auditDays", 29],
    ] as const) {
      const refused = await rejection(asOwner.mutation(api.retention.set, { workspaceId, [field]: value }));
      expect(refused.code).toBe("INVALID_REQUEST");
      expect(refused.message).toContain(field);
    }
    expect((await asOwner.mutation(api.retention.set, { workspaceId, auditDays: 30 })).auditDays).toBe(30);

    const asMember = t.withIdentity(member.identity);
    expect((await rejection(asMember.query(api.retention.get, { workspaceId }))).code).toBe("FORBIDDEN");
    expect((await rejection(asMember.mutation(api.retention.set, { workspaceId, auditDays: 60 }))).code).toBe(
      "FORBIDDEN",
    );
    const outsider = await createUser(t, "outsider@example.test");
    expect((await rejection(t.withIdentity(outsider.identity).query(api.retention.get, { workspaceId }))).code).toBe(
      "FORBIDDEN",
    );
  });
});
