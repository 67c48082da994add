/**
 * SPEC §9: every admin change is audited (workspace creation, retention, run triggers, Slack
 * bindings, Console job changes; webhooks in webhooks-console.test.ts), service-token use on admin
 * HTTP routes is recorded by `recordAdminRouteUse`, and `audit.list` filters by action, actor and
 * time through its indexes, a page at a time.
 */
import { beforeEach, describe, expect, test, vi } from "vitest";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { recordAdminRouteUse, recordAudit } from "../convex/audit";
import { AUDIT_ACTIONS } from "../convex/model/audit";
import { caller, createRepo, ok } from "./support/api";
import { SERVICE_TOKEN, addMember, createUser, workspaceWithMember } from "./support/fixtures";
import { useFreshConvex, type Json } from "./support/harness";

const t = useFreshConvex();
beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"], now: 1_800_000_000_000 });
});

type Filters = { action?: string; actorUserId?: Id<"users">; actorKind?: string; from?: number; to?: number };

async function auditRows(identity: { subject: string }, workspaceId: Id<"workspaces">, filters: Filters = {}) {
  const rows: Json[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 50; pages++) {
    const page: { page: Json[]; isDone: boolean; continueCursor: string } = await t
      .withIdentity(identity)
      .query(api.audit.list, { workspaceId, ...(filters as object), paginationOpts: { numItems: 3, cursor } });
    rows.push(...page.page);
    if (page.isDone) return rows;
    cursor = page.continueCursor;
  }
  throw new Error("too many pages");
}

describe("admin changes are audited", () => {
  test("workspace creation, run triggers, Slack bindings and Console job changes each leave one row", async () => {
    const admin = await createUser(t, "admin@acme.test");
    const asAdmin = t.withIdentity(admin.identity);
    const workspaceId = await asAdmin.mutation(api.workspaces.create, { slug: "acme", name: " Acme " });
    const service = caller(t, SERVICE_TOKEN);
    const repoId = (await createRepo(service, workspaceId, "acme-origin")) as Id<"repos">;

    const runTriggerId = await asAdmin.mutation(api.runTriggers.create, {
      workspaceId,
      name: "Triage",
      source: "github",
      eventType: "issue_opened",
      action: { repoId, enqueueJob: { kind: "work", promptTemplate: "Fix {{event.title}}" } },
    });
    await asAdmin.mutation(api.runTriggers.update, { workspaceId, runTriggerId, enabled: false });
    await asAdmin.mutation(api.runTriggers.remove, { workspaceId, runTriggerId });
    await asAdmin.mutation(api.slack.bindTeam, { workspaceId, teamId: "T0123ABCD" });
    await asAdmin.mutation(api.slack.bindTeam, { workspaceId, teamId: "T0123ABCD" }); // already bound: no change
    await asAdmin.mutation(api.slack.unbindTeam, { workspaceId, teamId: "T0123ABCD" });

    const { jobId } = await asAdmin.mutation(api.jobsConsole.enqueue, {
      workspaceId,
      repoId,
      kind: "work",
      prompt: "Console job",
    });
    await asAdmin.mutation(api.jobsConsole.cancel, { workspaceId, jobId, reason: "not needed" });
    await asAdmin.mutation(api.jobsConsole.retry, { workspaceId, jobId });

    const rows = (await auditRows(admin.identity, workspaceId)).reverse();
    expect(rows.map((row) => [row.action, row.details])).toEqual([
      ["workspace.created", { slug: "acme", name: "Acme" }],
      ["run_trigger.created", { runTriggerId, name: "Triage" }],
      ["run_trigger.updated", { runTriggerId, name: "Triage", changed: "enabled" }],
      ["run_trigger.deleted", { runTriggerId, name: "Triage" }],
      ["slack.team_bound", { teamId: "T0123ABCD" }],
      ["slack.team_unbound", { teamId: "T0123ABCD" }],
      ["job.enqueued", { jobId, kind: "work" }],
      ["job.canceled", { jobId, status: "canceled", reason: "not needed" }],
      ["job.retried", { jobId, previousStatus: "canceled" }],
    ]);
    for (const row of rows) expect(row.actor).toEqual({ kind: "user", userId: admin.userId });
  });

  test("a second cancel of a running job changes nothing and records nothing", async () => {
    const { workspaceId, owner } = await workspaceWithMember(t, "acme", "owner");
    const service = caller(t, SERVICE_TOKEN);
    const repoId = await createRepo(service, workspaceId);
    const workerId = (
      await ok(service, "/v1/workers/heartbeat", {
        workspaceId,
        displayName: "w",
        status: "online",
        capabilities: { reposAllowed: [repoId] },
      })
    ).workerId;
    const { jobId } = await ok(service, "/v1/jobs/enqueue", { workspaceId, repoId, kind: "work", prompt: "p" });
    await ok(service, "/v1/jobs/claim-next", { workspaceId, workerId });
    const asOwner = t.withIdentity(owner.identity);
    await asOwner.mutation(api.jobsConsole.cancel, { workspaceId, jobId });
    await asOwner.mutation(api.jobsConsole.cancel, { workspaceId, jobId });
    const rows = await auditRows(owner.identity, workspaceId, { action: "job.canceled" });
    expect(rows.map((row) => row.details)).toEqual([{ jobId, status: "running" }]);
  });

  test("recordAdminRouteUse records service tokens on admin routes, and nothing for people's tokens", async () => {
    const { workspaceId, owner, tokenId } = await workspaceWithMember(t, "acme", "owner");
    const serviceTokenId = await t.run((ctx) =>
      ctx.db.insert("apiTokens", {
        tokenHash: "h",
        prefix: "ias_abcdefgh",
        kind: "service",
        workspaceId,
        label: "ci",
        expiresAt: Date.now() + 86_400_000,
      }),
    );
    await t.run(async (ctx) => {
      await recordAdminRouteUse(ctx, { kind: "service" }, workspaceId, "/v1/queues/pause");
      await recordAdminRouteUse(
        ctx,
        { kind: "token", tokenKind: "service", tokenId: serviceTokenId, workspaceId },
        workspaceId,
        "/v1/queues/resume",
      );
      await recordAdminRouteUse(
        ctx,
        { kind: "token", tokenKind: "device", tokenId, workspaceId, userId: owner.userId },
        workspaceId,
        "/v1/queues/pause",
      );
      await recordAdminRouteUse(ctx, { kind: "dev" }, workspaceId, "/v1/queues/pause");
    });
    const rows = (await auditRows(owner.identity, workspaceId, { action: "service_token.used" })).reverse();
    expect(rows.map((row) => [row.actor, row.details])).toEqual([
      [{ kind: "service" }, { route: "/v1/queues/pause" }],
      [{ kind: "token", tokenId: serviceTokenId }, { route: "/v1/queues/resume" }],
    ]);
  });
});

describe("audit.list filters", () => {
  test("by action, by actor (person or kind) and by time range, each index-backed and paginated", async () => {
    const { workspaceId, owner } = await workspaceWithMember(t, "acme", "owner");
    const other = await createUser(t, "other@acme.test");
    await addMember(t, workspaceId, other, "admin");
    const start = Date.now();
    const record = async (action: (typeof AUDIT_ACTIONS)[number], actor: Json) => {
      vi.advanceTimersByTime(1_000);
      await t.run((ctx) => recordAudit(ctx, { workspaceId, action, actor: actor as never }));
      return Date.now();
    };
    const times = [
      await record("member.added", { kind: "user", userId: owner.userId }),
      await record("member.added", { kind: "user", userId: other.userId }),
      await record("token.revoked", { kind: "service" }),
      await record("member.role_changed", { kind: "user", userId: owner.userId }),
      await record("member.added", { kind: "user", userId: owner.userId }),
      await record("token.created", { kind: "dev" }),
      await record("member.added", { kind: "user", userId: owner.userId }),
    ];
    // Another workspace's rows never show.
    const beta = await workspaceWithMember(t, "beta", "owner");
    await t.run((ctx) =>
      recordAudit(ctx, { workspaceId: beta.workspaceId, action: "member.added", actor: { kind: "service" } }),
    );

    const at = (rows: Json[]) => rows.map((row) => row.at);
    expect(at(await auditRows(owner.identity, workspaceId))).toEqual([...times].reverse());
    expect(at(await auditRows(owner.identity, workspaceId, { action: "member.added" }))).toEqual([
      times[6],
      times[4],
      times[1],
      times[0],
    ]);
    expect(at(await auditRows(owner.identity, workspaceId, { actorUserId: owner.userId }))).toEqual([
      times[6],
      times[4],
      times[3],
      times[0],
    ]);
    expect(at(await auditRows(owner.identity, workspaceId, { actorKind: "service" }))).toEqual([times[2]]);
    expect(at(await auditRows(owner.identity, workspaceId, { from: times[2], to: times[5] }))).toEqual([
      times[4],
      times[3],
      times[2],
    ]);
    // Two filters: one is the index range, the other is applied to each page.
    expect(
      at(
        await auditRows(owner.identity, workspaceId, {
          action: "member.added",
          actorUserId: owner.userId,
          from: times[1],
        }),
      ),
    ).toEqual([times[6], times[4]]);
    expect(times[0]).toBeGreaterThan(start);
  });

  test("a device token's row is found by the person behind it", async () => {
    const { workspaceId, owner, tokenId } = await workspaceWithMember(t, "acme", "owner");
    await t.run((ctx) =>
      recordAudit(ctx, {
        workspaceId,
        action: "token.revoked",
        actor: { kind: "token", tokenId, userId: owner.userId },
      }),
    );
    const rows = await auditRows(owner.identity, workspaceId, { actorUserId: owner.userId });
    expect(rows.map((row) => row.actor)).toEqual([{ kind: "token", tokenId, userId: owner.userId }]);
    expect(rows[0]).not.toHaveProperty("actorKind");
  });
});
