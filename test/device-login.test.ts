/** Device login (SPEC §5) over HTTP plus the Console's get/approve/deny, and the tokens it mints. */
import { describe, expect, test, vi } from "vitest";
import { api, internal } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { DEVICE_SESSION_RETENTION_MS, USER_CODE_PATTERN } from "../convex/model/deviceCodes";
import { LAST_USED_RESOLUTION_MS } from "../convex/model/tokens";

/** SPEC §5 and §3, pinned by value: a device login lives 10 minutes, a device token 90 days. */
const TEN_MINUTES_MS = 600_000;
const NINETY_DAYS_MS = 7_776_000_000;
import { caller, expectError, ok, rejection } from "./support/api";
import { CONSOLE_URL, POLL, START, loginThroughDevice, pollLogin, startLogin } from "./support/device-fixtures";
import { addMember, createUser, workspaceWithMember } from "./support/fixtures";
import { useFreshConvex, post } from "./support/harness";

const HEARTBEAT = "/v1/workers/heartbeat";
const REVOKE = "/control-plane/v1/auth/token/revoke";

const t = useFreshConvex({ IAS_DEV_ALLOW_UNAUTH: "", IAS_LOCAL_MODE: "", IAS_CONSOLE_URL: CONSOLE_URL });

function heartbeatBody(workspaceId: string) {
  return { workspaceId, displayName: "laptop", status: "online", capabilities: {} };
}

async function auditActions(workspaceId: string) {
  return await t.run(async (ctx) =>
    (
      await ctx.db
        .query("auditLog")
        .withIndex("by_workspace", (q) => q.eq("workspaceId", workspaceId as Id<"workspaces">))
        .collect()
    ).map((row) => row.action),
  );
}

describe("the whole flow", () => {
  test("start → pending → approve → approved with token → consumed → worker route → revoke → 401", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: 1_700_000_000_000 });
    const { workspaceId } = await workspaceWithMember(t, "acme", "owner");
    const approver = await createUser(t, "dev@acme.test");
    await addMember(t, workspaceId, approver, "member");

    const started = await startLogin(t, "acme", "Ada's laptop");
    expect(started).toEqual({
      ok: true,
      deviceId: expect.stringMatching(/^dev_[A-Za-z0-9_-]{24}$/),
      deviceSecret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      userCode: expect.stringMatching(USER_CODE_PATTERN),
      approvalUrl: `${CONSOLE_URL}/auth/device?id=${started.deviceId}`,
      expiresAt: Date.now() + TEN_MINUTES_MS,
      intervalMs: 5_000,
    });
    expect((await pollLogin(t, started)).body).toEqual({ ok: true, status: "pending" });

    // The Console page shows what the person matches against the terminal.
    const asApprover = t.withIdentity(approver.identity);
    expect(await asApprover.query(api.deviceSessions.get, { deviceId: started.deviceId })).toEqual({
      deviceId: started.deviceId,
      userCode: started.userCode,
      machineName: "Ada's laptop",
      workspace: { _id: workspaceId, slug: "acme", name: "acme" },
      status: "pending",
      expiresAt: started.expiresAt,
      createdAt: expect.closeTo(Date.now(), -1),
      decidedAt: null,
      decidedByName: null,
      decidedByYou: false,
    });
    expect(await asApprover.mutation(api.deviceSessions.approve, { deviceId: started.deviceId })).toEqual({
      status: "approved",
    });
    // The page then shows the signed-in person their own decision; another member sees who decided.
    expect(await asApprover.query(api.deviceSessions.get, { deviceId: started.deviceId })).toMatchObject({
      status: "approved",
      decidedAt: expect.closeTo(Date.now(), -1),
      decidedByName: "dev",
      decidedByYou: true,
    });
    const colleague = await createUser(t, "colleague@acme.test");
    await addMember(t, workspaceId, colleague, "member");
    expect(
      await t.withIdentity(colleague.identity).query(api.deviceSessions.get, { deviceId: started.deviceId }),
    ).toMatchObject({ status: "approved", decidedByName: "dev", decidedByYou: false });
    // Approving again is harmless.
    expect(await asApprover.mutation(api.deviceSessions.approve, { deviceId: started.deviceId })).toEqual({
      status: "approved",
    });

    const approved = await pollLogin(t, started);
    expect(approved.body).toEqual({
      ok: true,
      status: "approved",
      token: expect.stringMatching(/^ias_/),
      workspaceId,
      workspaceSlug: "acme",
    });
    const token = approved.body.token as string;
    expect((await pollLogin(t, started)).body).toEqual({ ok: true, status: "consumed" });
    expect(await asApprover.query(api.deviceSessions.get, { deviceId: started.deviceId })).toMatchObject({
      status: "consumed",
    });

    // A device token bound to the approver and the workspace, labelled with the machine, 90 days.
    const [stored] = await t.run((ctx) =>
      ctx.db
        .query("apiTokens")
        .withIndex("by_user", (q) => q.eq("userId", approver.userId))
        .collect(),
    );
    expect(stored).toMatchObject({
      kind: "device",
      userId: approver.userId,
      workspaceId,
      label: "Ada's laptop",
      prefix: token.slice(0, 12),
      expiresAt: Date.now() + NINETY_DAYS_MS,
    });
    expect(stored).not.toHaveProperty("revokedAt");

    await ok(caller(t, token), HEARTBEAT, heartbeatBody(workspaceId));
    expect((await post(t, REVOKE, {}, { token })).body).toEqual({ ok: true, revoked: true });
    expectError(await caller(t, token)(HEARTBEAT, heartbeatBody(workspaceId)), 401, "INVALID_TOKEN");

    expect(await auditActions(workspaceId)).toEqual(["device.approved", "token.created", "token.revoked"]);
  });

  test("in local mode the approval URL is the local server's page", async () => {
    vi.stubEnv("IAS_LOCAL_MODE", "true");
    vi.stubEnv("IAS_LOCAL_BASE_URL", "http://127.0.0.1:4321");
    await workspaceWithMember(t, "local", "owner");
    const started = await startLogin(t, "local");
    expect(started.approvalUrl).toBe(`http://127.0.0.1:4321/local/device?id=${started.deviceId}`);
  });

  test("a deployment without IAS_CONSOLE_URL says so instead of handing out a dead link", async () => {
    vi.stubEnv("IAS_CONSOLE_URL", "");
    await workspaceWithMember(t, "acme", "owner");
    const refused = await post(t, START, { workspaceSlug: "acme" });
    expectError(refused, 503, "NOT_CONFIGURED");
    expect(refused.body.message).toContain("IAS_CONSOLE_URL");
  });
});

describe("refusals", () => {
  test("deny: the poll says denied, and the denial cannot be turned into an approval", async () => {
    const { owner } = await workspaceWithMember(t, "acme", "owner");
    const started = await startLogin(t, "acme");
    const asOwner = t.withIdentity(owner.identity);
    expect(await asOwner.mutation(api.deviceSessions.deny, { deviceId: started.deviceId })).toEqual({
      status: "denied",
    });
    expect((await pollLogin(t, started)).body).toEqual({ ok: true, status: "denied" });
    expect((await rejection(asOwner.mutation(api.deviceSessions.approve, { deviceId: started.deviceId }))).code).toBe(
      "INVALID_DEVICE_SESSION_STATE",
    );
    expect((await pollLogin(t, started)).body).toEqual({ ok: true, status: "denied" });
  });

  test("denying an approval the device has not collected withdraws it: no token is minted", async () => {
    const { owner, workspaceId } = await workspaceWithMember(t, "acme", "owner");
    const started = await startLogin(t, "acme");
    const asOwner = t.withIdentity(owner.identity);
    await asOwner.mutation(api.deviceSessions.approve, { deviceId: started.deviceId });
    await asOwner.mutation(api.deviceSessions.deny, { deviceId: started.deviceId });
    expect((await pollLogin(t, started)).body).toEqual({ ok: true, status: "denied" });
    const tokens = await t.run((ctx) =>
      ctx.db
        .query("apiTokens")
        .withIndex("by_workspace", (q) => q.eq("workspaceId", workspaceId))
        .collect(),
    );
    expect(tokens.filter((token) => token.label !== "test machine")).toEqual([]);
    expect(await auditActions(workspaceId)).toEqual(["device.approved", "device.denied"]);
  });

  test("a consumed login can be neither approved nor denied again", async () => {
    const { owner } = await workspaceWithMember(t, "acme", "owner");
    const { started } = await loginThroughDevice(t, owner, "acme");
    const asOwner = t.withIdentity(owner.identity);
    expect(await asOwner.mutation(api.deviceSessions.approve, { deviceId: started.deviceId })).toEqual({
      status: "consumed",
    });
    expect((await rejection(asOwner.mutation(api.deviceSessions.deny, { deviceId: started.deviceId }))).code).toBe(
      "INVALID_DEVICE_SESSION_STATE",
    );
  });

  test("expiry after 10 minutes: pending and uncollected approvals both expire; no decision after that", async () => {
    vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"], now: 1_700_000_000_000 });
    const { owner } = await workspaceWithMember(t, "acme", "owner");
    const asOwner = t.withIdentity(owner.identity);
    const waiting = await startLogin(t, "acme");
    const approvedLate = await startLogin(t, "acme");
    await asOwner.mutation(api.deviceSessions.approve, { deviceId: approvedLate.deviceId });

    vi.setSystemTime(Date.now() + TEN_MINUTES_MS - 1);
    expect((await pollLogin(t, waiting)).body.status).toBe("pending");
    vi.setSystemTime(Date.now() + 1);
    expect((await pollLogin(t, waiting)).body).toEqual({ ok: true, status: "expired" });
    expect((await pollLogin(t, approvedLate)).body).toEqual({ ok: true, status: "expired" });
    // The Console query reads the stored status, written by the function scheduled at expiresAt.
    await t.finishAllScheduledFunctions(vi.runAllTimers);
    expect(await asOwner.query(api.deviceSessions.get, { deviceId: waiting.deviceId })).toMatchObject({
      status: "expired",
    });
    const stored = await t.run((ctx) => ctx.db.query("deviceSessions").collect());
    expect(stored.map((session) => session.status)).toEqual(["expired", "expired"]);
    for (const decide of [api.deviceSessions.approve, api.deviceSessions.deny]) {
      expect((await rejection(asOwner.mutation(decide, { deviceId: waiting.deviceId }))).code).toBe(
        "INVALID_DEVICE_SESSION_STATE",
      );
    }
  });

  test("an unknown id and a wrong secret get the same 404", async () => {
    await workspaceWithMember(t, "acme", "owner");
    const started = await startLogin(t, "acme");
    const wrongSecret = await post(t, POLL, {
      deviceId: started.deviceId,
      deviceSecret: `${started.deviceSecret.slice(0, -1)}x`,
    });
    const unknownId = await post(t, POLL, { deviceId: "dev_doesnotexist", deviceSecret: started.deviceSecret });
    expectError(wrongSecret, 404, "DEVICE_SESSION_NOT_FOUND");
    expect(unknownId.status).toBe(wrongSecret.status);
    expect(unknownId.body).toEqual(wrongSecret.body);
    // The wrong guess did not disturb the real session.
    expect((await pollLogin(t, started)).body.status).toBe("pending");
  });

  test("start needs an existing workspace slug and a valid body", async () => {
    expectError(await post(t, START, { workspaceSlug: "nope" }), 404, "WORKSPACE_NOT_FOUND");
    expectError(await post(t, START, {}), 400, "INVALID_REQUEST");
    expectError(await post(t, POLL, { deviceId: "x" }), 400, "INVALID_REQUEST");
  });

  test("the Console hides sessions of other workspaces and needs a signed-in user", async () => {
    await workspaceWithMember(t, "acme", "owner");
    const outsider = (await workspaceWithMember(t, "other", "owner")).owner;
    const started = await startLogin(t, "acme");
    const asOutsider = t.withIdentity(outsider.identity);
    expect((await rejection(asOutsider.query(api.deviceSessions.get, { deviceId: started.deviceId }))).code).toBe(
      "DEVICE_SESSION_NOT_FOUND",
    );
    expect(
      (await rejection(asOutsider.mutation(api.deviceSessions.approve, { deviceId: started.deviceId }))).code,
    ).toBe("DEVICE_SESSION_NOT_FOUND");
    expect((await rejection(asOutsider.query(api.deviceSessions.get, { deviceId: "dev_missing" }))).code).toBe(
      "DEVICE_SESSION_NOT_FOUND",
    );
    expect((await rejection(t.mutation(api.deviceSessions.approve, { deviceId: started.deviceId }))).code).toBe(
      "UNAUTHENTICATED",
    );
    expect((await pollLogin(t, started)).body.status).toBe("pending");
  });

  test("an approver removed before the device collects the token turns the approval into a denial", async () => {
    const { workspaceId, owner } = await workspaceWithMember(t, "acme", "owner");
    const dev = await createUser(t, "dev@acme.test");
    await addMember(t, workspaceId, dev, "member");
    const started = await startLogin(t, "acme");
    await t.withIdentity(dev.identity).mutation(api.deviceSessions.approve, { deviceId: started.deviceId });
    await t.withIdentity(owner.identity).mutation(api.members.remove, { workspaceId, userId: dev.userId });
    expect((await pollLogin(t, started)).body).toEqual({ ok: true, status: "denied" });
  });
});

describe("the local approval page's functions", () => {
  test("exist only in local mode: a deployment neither serves the page nor decides through them", async () => {
    await workspaceWithMember(t, "local", "owner");
    const started = await startLogin(t, "local");
    expect((await t.fetch(`/local/device?id=${started.deviceId}`)).status).toBe(404);
    expect(await t.query(internal.deviceSessions.localView, { deviceId: started.deviceId })).toBeNull();
    expect(
      await t.mutation(internal.deviceSessions.decideAsLocalOwner, { deviceId: started.deviceId, decision: "approve" }),
    ).toEqual({
      outcome: "not_found",
    });
    expect((await pollLogin(t, started)).body.status).toBe("pending");
  });

  test("in local mode they approve as the workspace owner, and an expired session shows as expired", async () => {
    vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"], now: 1_700_000_000_000 });
    vi.stubEnv("IAS_LOCAL_MODE", "true");
    const { owner, workspaceId } = await workspaceWithMember(t, "local", "owner");
    const colleague = await createUser(t, "admin@local.test");
    await addMember(t, workspaceId, colleague, "admin");
    const started = await startLogin(t, "local", "box");
    expect(await t.query(internal.deviceSessions.localView, { deviceId: started.deviceId })).toMatchObject({
      userCode: started.userCode,
      machineName: "box",
      status: "pending",
    });
    expect(
      await t.mutation(internal.deviceSessions.decideAsLocalOwner, { deviceId: started.deviceId, decision: "approve" }),
    ).toEqual({
      outcome: "decided",
      status: "approved",
    });
    const polled = await pollLogin(t, started);
    const stored = await t.run((ctx) =>
      ctx.db
        .query("apiTokens")
        .withIndex("by_workspace_kind", (q) => q.eq("workspaceId", workspaceId).eq("kind", "device"))
        .collect(),
    );
    expect(stored.find((row) => row.prefix === (polled.body.token as string).slice(0, 12))?.userId).toBe(owner.userId);

    const late = await startLogin(t, "local");
    vi.setSystemTime(Date.now() + TEN_MINUTES_MS);
    await t.finishAllScheduledFunctions(vi.runAllTimers);
    expect(await t.query(internal.deviceSessions.localView, { deviceId: late.deviceId })).toMatchObject({
      status: "expired",
    });
    expect(
      await t.mutation(internal.deviceSessions.decideAsLocalOwner, { deviceId: late.deviceId, decision: "approve" }),
    ).toEqual({
      outcome: "refused",
      status: "expired",
    });
  });
});

describe("retention and token use", () => {
  test("the cron deletes sessions an hour after they expired; polls then find nothing", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: 1_700_000_000_000 });
    const { owner } = await workspaceWithMember(t, "acme", "owner");
    const { started } = await loginThroughDevice(t, owner, "acme");
    const fresh = await startLogin(t, "acme");

    vi.setSystemTime(started.expiresAt + DEVICE_SESSION_RETENTION_MS - 1);
    expect(await t.mutation(internal.deviceSessions.scrubFinished, {})).toEqual({ deleted: 0 });
    vi.setSystemTime(started.expiresAt + DEVICE_SESSION_RETENTION_MS + 1);
    expect(await t.mutation(internal.deviceSessions.scrubFinished, {})).toEqual({ deleted: 2 });
    expect(await t.run((ctx) => ctx.db.query("deviceSessions").collect())).toEqual([]);
    expectError(await pollLogin(t, started), 404, "DEVICE_SESSION_NOT_FOUND");
    expectError(await pollLogin(t, fresh), 404, "DEVICE_SESSION_NOT_FOUND");
  });

  test("lastUsedAt is written at most once a minute", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: 1_700_000_000_000 });
    const { owner, workspaceId } = await workspaceWithMember(t, "acme", "owner");
    const { token } = await loginThroughDevice(t, owner, "acme");
    const lastUsed = async () =>
      (
        await t.run((ctx) =>
          ctx.db
            .query("apiTokens")
            .withIndex("by_workspace", (q) => q.eq("workspaceId", workspaceId))
            .collect(),
        )
      ).find((row) => row.prefix === token.slice(0, 12))!.lastUsedAt;
    const call = caller(t, token);
    const first = Date.now();
    await ok(call, HEARTBEAT, heartbeatBody(workspaceId));
    expect(await lastUsed()).toBe(first);
    vi.setSystemTime(first + LAST_USED_RESOLUTION_MS - 1);
    await ok(call, HEARTBEAT, heartbeatBody(workspaceId));
    expect(await lastUsed()).toBe(first);
    vi.setSystemTime(first + LAST_USED_RESOLUTION_MS);
    await ok(call, HEARTBEAT, heartbeatBody(workspaceId));
    expect(await lastUsed()).toBe(first + LAST_USED_RESOLUTION_MS);
  });
});
