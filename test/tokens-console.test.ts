/** Token lifecycle in the Console (SPEC §3, §9): my tokens, workspace service tokens, revocation. */
import { describe, expect, test, vi } from "vitest";
import { api, internal } from "../convex/_generated/api";
import { caller, expectError, ok, rejection } from "./support/api";
import { CONSOLE_URL, loginThroughDevice } from "./support/device-fixtures";
import { SERVICE_TOKEN, addMember, createUser, workspaceWithMember } from "./support/fixtures";
import { useFreshConvex } from "./support/harness";

const t = useFreshConvex({ IAS_LOCAL_MODE: "", IAS_CONSOLE_URL: CONSOLE_URL });

const upsertRepo = (workspaceId: string) => ({ workspaceId, remoteUrlHash: "abc", status: "active" });

describe("my tokens", () => {
  test("listMine shows every device token with prefix, label, created, last used and expiry, never the value", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: 1_700_000_000_000 });
    const acme = await workspaceWithMember(t, "acme", "owner");
    const me = acme.owner;
    const other = await workspaceWithMember(t, "other", "owner");
    await addMember(t, other.workspaceId, me, "member");
    const first = await loginThroughDevice(t, me, "acme", "laptop");
    vi.setSystemTime(Date.now() + 1_000);
    const second = await loginThroughDevice(t, me, "other", "ci box");
    vi.setSystemTime(Date.now() + 1_000);
    await ok(caller(t, first.token), "/v1/jobs/list", { workspaceId: acme.workspaceId });

    const mine = await t.withIdentity(me.identity).query(api.tokens.listMine, {});
    const minted = mine.filter((row) => row.label !== "test machine");
    expect(minted).toEqual([
      expect.objectContaining({
        workspaceId: other.workspaceId,
        label: "ci box",
        prefix: second.token.slice(0, 12),
        lastUsedAt: null,
        status: "active",
      }),
      expect.objectContaining({
        workspaceId: acme.workspaceId,
        label: "laptop",
        prefix: first.token.slice(0, 12),
        lastUsedAt: Date.now(),
        // 90 days, pinned by value (SPEC §3).
        expiresAt: Date.now() - 2_000 + 7_776_000_000,
        kind: "device",
        status: "active",
      }),
    ]);
    const serialized = JSON.stringify(mine);
    expect(serialized).not.toContain(first.token);
    expect(serialized).not.toContain("tokenHash");
  });

  test("an expired token shows `expired` once the cron marks it: the list reads no clock", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: 1_700_000_000_000 });
    const acme = await workspaceWithMember(t, "acme", "owner");
    const login = await loginThroughDevice(t, acme.owner, "acme", "laptop");
    const statusOf = async () =>
      (await t.withIdentity(acme.owner.identity).query(api.tokens.listMine, {})).find(
        (row) => row.prefix === login.token.slice(0, 12),
      )?.status;
    const { expiresAt } = (await t.withIdentity(acme.owner.identity).query(api.tokens.listMine, {})).find(
      (row) => row.prefix === login.token.slice(0, 12),
    )!;
    vi.setSystemTime(expiresAt - 1);
    await t.mutation(internal.tokens.markExpiredTokens, {});
    expect(await statusOf()).toBe("active");
    vi.setSystemTime(expiresAt);
    expect(await statusOf()).toBe("active"); // nothing was written yet
    await t.mutation(internal.tokens.markExpiredTokens, {});
    expect(await statusOf()).toBe("expired");
  });

  test("revokeMine stops the token at once; another person's token looks missing", async () => {
    const acme = await workspaceWithMember(t, "acme", "owner");
    const colleague = await createUser(t, "colleague@acme.test");
    await addMember(t, acme.workspaceId, colleague, "admin");
    const { token } = await loginThroughDevice(t, acme.owner, "acme");
    const row = (await t.withIdentity(acme.owner.identity).query(api.tokens.listMine, {})).find(
      (r) => r.prefix === token.slice(0, 12),
    )!;

    expect(
      (await rejection(t.withIdentity(colleague.identity).mutation(api.tokens.revokeMine, { tokenId: row.tokenId })))
        .code,
    ).toBe("TOKEN_NOT_FOUND");
    await ok(caller(t, token), "/v1/jobs/list", { workspaceId: acme.workspaceId });

    await t.withIdentity(acme.owner.identity).mutation(api.tokens.revokeMine, { tokenId: row.tokenId });
    expectError(await caller(t, token)("/v1/jobs/list", { workspaceId: acme.workspaceId }), 401, "INVALID_TOKEN");
    const after = (await t.withIdentity(acme.owner.identity).query(api.tokens.listMine, {})).find(
      (r) => r.tokenId === row.tokenId,
    )!;
    expect(after.status).toBe("revoked");
    expect(after.revokedAt).toEqual(expect.any(Number));
  });
});

describe("workspace service tokens", () => {
  test("admins create one (shown once), it acts as admin of that workspace only, and can be revoked", async () => {
    const acme = await workspaceWithMember(t, "acme", "owner");
    const other = await workspaceWithMember(t, "other", "owner");
    const admin = await createUser(t, "admin@acme.test");
    await addMember(t, acme.workspaceId, admin, "admin");
    const asAdmin = t.withIdentity(admin.identity);
    const workspaceId = acme.workspaceId;

    const created = await asAdmin.mutation(api.tokens.createServiceToken, {
      workspaceId,
      label: "GitHub Actions",
      expiresInDays: 30,
    });
    expect(created).toEqual({
      token: expect.stringMatching(/^ias_/),
      tokenId: expect.any(String),
      prefix: created.token.slice(0, 12),
      expiresAt: expect.any(Number),
    });
    const listed = await asAdmin.query(api.tokens.listServiceTokens, { workspaceId });
    expect(listed).toEqual([
      expect.objectContaining({
        tokenId: created.tokenId,
        kind: "service",
        label: "GitHub Actions",
        prefix: created.prefix,
        status: "active",
      }),
    ]);
    expect(JSON.stringify(listed)).not.toContain(created.token);

    const call = caller(t, created.token);
    await ok(call, "/v1/repos/upsert", upsertRepo(workspaceId));
    expectError(await call("/v1/repos/upsert", upsertRepo(other.workspaceId)), 403, "FORBIDDEN");

    await asAdmin.mutation(api.tokens.revokeServiceToken, { workspaceId, tokenId: created.tokenId });
    expectError(await call("/v1/repos/upsert", upsertRepo(workspaceId)), 401, "INVALID_TOKEN");
    expect((await asAdmin.query(api.tokens.listServiceTokens, { workspaceId }))[0]!.status).toBe("revoked");
  });

  test("only admins manage them; bad labels and lifetimes, and tokens that are not this workspace's service tokens, are refused", async () => {
    const acme = await workspaceWithMember(t, "acme", "member");
    const other = await workspaceWithMember(t, "other", "owner");
    const workspaceId = acme.workspaceId;
    const asMember = t.withIdentity(acme.member.identity);
    const asOwner = t.withIdentity(acme.owner.identity);
    expect((await rejection(asMember.mutation(api.tokens.createServiceToken, { workspaceId, label: "ci" }))).code).toBe(
      "FORBIDDEN",
    );
    expect((await rejection(asMember.query(api.tokens.listServiceTokens, { workspaceId }))).code).toBe("FORBIDDEN");
    expect((await rejection(asOwner.mutation(api.tokens.createServiceToken, { workspaceId, label: "  " }))).code).toBe(
      "INVALID_REQUEST",
    );
    expect(
      (await rejection(asOwner.mutation(api.tokens.createServiceToken, { workspaceId, label: "ci", expiresInDays: 0 })))
        .code,
    ).toBe("INVALID_REQUEST");
    expect(
      (
        await rejection(
          asOwner.mutation(api.tokens.createServiceToken, { workspaceId, label: "ci", expiresInDays: 1.5 }),
        )
      ).code,
    ).toBe("INVALID_REQUEST");

    const foreign = await t
      .withIdentity(other.owner.identity)
      .mutation(api.tokens.createServiceToken, { workspaceId: other.workspaceId, label: "ci" });
    expect(
      (await rejection(asOwner.mutation(api.tokens.revokeServiceToken, { workspaceId, tokenId: foreign.tokenId })))
        .code,
    ).toBe("TOKEN_NOT_FOUND");
    expect(
      (await rejection(asOwner.mutation(api.tokens.revokeServiceToken, { workspaceId, tokenId: acme.tokenId }))).code,
    ).toBe("TOKEN_NOT_FOUND");
    await ok(caller(t, foreign.token), "/v1/jobs/list", { workspaceId: other.workspaceId });
  });

  test("the HTTP revoke route cannot revoke the deployment service token", async () => {
    const acme = await workspaceWithMember(t, "acme", "owner");
    expectError(await caller(t, SERVICE_TOKEN)("/v1/auth/token/revoke", {}), 400, "INVALID_REQUEST");
    await ok(caller(t, SERVICE_TOKEN), "/v1/jobs/list", { workspaceId: acme.workspaceId });
  });
});
