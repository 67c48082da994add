/** The audit log (SPEC §9) and the rule that no token or secret is ever stored, logged or echoed. */
import { describe, expect, test, vi } from "vitest";
import { api } from "../convex/_generated/api";
import { recordAudit } from "../convex/audit";
import schema from "../convex/schema";
import { VISIBLE_PREFIX_LENGTH } from "../convex/model/tokens";
import { caller, ok, rejection } from "./support/api";
import { CONSOLE_URL, POLL, START, loginThroughDevice, pollLogin, startLogin } from "./support/device-fixtures";
import { addMember, createUser, workspaceWithMember } from "./support/fixtures";
import { useFreshConvex, post, type Json } from "./support/harness";

const t = useFreshConvex({ IAS_LOCAL_MODE: "", IAS_CONSOLE_URL: CONSOLE_URL });

describe("Console audit list", () => {
  test("admins page through the log newest first; members and outsiders may not read it", async () => {
    const { workspaceId, owner, member } = await workspaceWithMember(t, "acme", "member");
    const asOwner = t.withIdentity(owner.identity);
    for (const policy of ["metadata_only", "none", "full", "none", "metadata_only"] as const) {
      await asOwner.mutation(api.workspaces.setDataPolicy, { workspaceId, dataPolicy: policy });
    }
    // Setting the policy it already has is no change and no event.
    await asOwner.mutation(api.workspaces.setDataPolicy, { workspaceId, dataPolicy: "metadata_only" });

    const seen: Json[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const result: { page: Json[]; isDone: boolean; continueCursor: string } = await asOwner.query(api.audit.list, {
        workspaceId,
        paginationOpts: { numItems: 2, cursor },
      });
      expect(result.page.length).toBeLessThanOrEqual(2);
      seen.push(...result.page);
      if (result.isDone) break;
      cursor = result.continueCursor;
    }
    expect(seen.map((event) => [event.action, event.details.from, event.details.to])).toEqual([
      ["workspace.data_policy_changed", "none", "metadata_only"],
      ["workspace.data_policy_changed", "full", "none"],
      ["workspace.data_policy_changed", "none", "full"],
      ["workspace.data_policy_changed", "metadata_only", "none"],
      ["workspace.data_policy_changed", "full", "metadata_only"],
    ]);
    expect(seen[0]).toMatchObject({ actor: { kind: "user", userId: owner.userId }, at: expect.any(Number) });

    const outsider = (await workspaceWithMember(t, "other", "owner")).owner;
    for (const person of [member, outsider]) {
      const refused = await rejection(
        t
          .withIdentity(person.identity)
          .query(api.audit.list, { workspaceId, paginationOpts: { numItems: 2, cursor: null } }),
      );
      expect(refused.code).toBe("FORBIDDEN");
    }
  });

  test("recordAudit cuts anything that looks like a token back to its visible prefix", async () => {
    const { workspaceId, owner } = await workspaceWithMember(t, "acme", "owner");
    const { token } = await loginThroughDevice(t, owner, "acme");
    await t.run((ctx) =>
      recordAudit(ctx, {
        workspaceId,
        action: "token.created",
        actor: { kind: "service" },
        details: { label: `oops ${token}` },
      }),
    );
    const rows = await t.run((ctx) => ctx.db.query("auditLog").collect());
    const stored = JSON.stringify(rows);
    expect(stored).not.toContain(token);
    expect(stored).toContain(`oops ${token.slice(0, 12)}…`);
  });
});

describe("no token or secret leaks", () => {
  /** Every stored document of every table, scheduled function arguments included, as one string. */
  async function everythingStored(): Promise<string> {
    return await t.run(async (ctx) => {
      const tables = await Promise.all(
        Object.keys(schema.tables).map((table) => ctx.db.query(table as never).collect()),
      );
      const scheduled = await ctx.db.system.query("_scheduled_functions").collect();
      return JSON.stringify([tables, scheduled]);
    });
  }

  test("across device login, token use and revocation, Console tokens and member removal", async () => {
    const printed: string[] = [];
    for (const method of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, method).mockImplementation(
        (...args: unknown[]) => void printed.push(args.map(String).join(" ")),
      );
    }
    const said: string[] = [];
    const http = async (path: string, body: unknown, token?: string) => {
      const response = await post(t, path, body, token === undefined ? {} : { token });
      if (!response.body.ok) said.push(JSON.stringify(response.body));
      return response;
    };
    const refusedWith = async (promise: Promise<unknown>) => said.push(JSON.stringify(await rejection(promise)));

    const { workspaceId, owner } = await workspaceWithMember(t, "acme", "owner");
    const dev = await createUser(t, "dev@acme.test");
    await addMember(t, workspaceId, dev, "member");
    const asDev = t.withIdentity(dev.identity);
    const asOwner = t.withIdentity(owner.identity);

    // Login: wrong secret, pending, approve, token, consumed; a denied login; a refused decision.
    const started = await startLogin(t, "acme", "Dev laptop");
    await http(POLL, { deviceId: started.deviceId, deviceSecret: `${started.deviceSecret}x` });
    await http(POLL, { deviceId: `${started.deviceId}x`, deviceSecret: started.deviceSecret });
    await http(POLL, started);
    await asDev.query(api.deviceSessions.get, { deviceId: started.deviceId });
    await asDev.mutation(api.deviceSessions.approve, { deviceId: started.deviceId });
    const token = (await pollLogin(t, started)).body.token as string;
    await http(POLL, started);
    const denied = await startLogin(t, "acme");
    await asOwner.mutation(api.deviceSessions.deny, { deviceId: denied.deviceId });
    await refusedWith(asOwner.mutation(api.deviceSessions.approve, { deviceId: denied.deviceId }));
    await http(START, { workspaceSlug: "nope" });

    // Token use, bad headers, logout, use after logout.
    await ok(caller(t, token), "/v1/workers/heartbeat", {
      workspaceId,
      displayName: "Dev laptop",
      status: "online",
      capabilities: {},
    });
    await http("/control-plane/v1/jobs/list", { workspaceId: "not-an-id" }, token);
    await http("/control-plane/v1/jobs/list", { workspaceId }, `${token}x`);
    await http("/control-plane/v1/auth/token/revoke", {}, token);
    await http("/control-plane/v1/jobs/list", { workspaceId }, token);

    // Console: a service token, its use and revocation; a second device login cut off by removal.
    const service = await asOwner.mutation(api.tokens.createServiceToken, { workspaceId, label: "ci" });
    await ok(caller(t, service.token), "/v1/jobs/list", { workspaceId });
    await asOwner.mutation(api.tokens.revokeServiceToken, { workspaceId, tokenId: service.tokenId });
    await http("/control-plane/v1/jobs/list", { workspaceId }, service.token);
    const second = await loginThroughDevice(t, dev, "acme", "Dev desktop");
    await asOwner.mutation(api.members.remove, { workspaceId, userId: dev.userId });
    await http("/control-plane/v1/jobs/list", { workspaceId }, second.token);

    const secrets = [
      started.deviceSecret,
      denied.deviceSecret,
      second.started.deviceSecret,
      token,
      service.token,
      second.token,
    ];
    // Beyond the visible prefix, no part of a token may appear either.
    secrets.push(...[token, service.token, second.token].map((value) => value.slice(VISIBLE_PREFIX_LENGTH)));

    const stored = await everythingStored();
    const audit = JSON.stringify(
      await asOwner.query(api.audit.list, { workspaceId, paginationOpts: { numItems: 100, cursor: null } }),
    );
    expect(audit).toContain("device.approved"); // the scan below reads a real log
    expect(said.length).toBeGreaterThan(5);
    for (const secret of secrets) {
      expect(stored.includes(secret), "a stored document holds a secret").toBe(false);
      expect(audit.includes(secret), "the audit log holds a secret").toBe(false);
      expect(printed.join("\n").includes(secret), "a log line holds a secret").toBe(false);
      expect(said.join("\n").includes(secret), "an error message holds a secret").toBe(false);
    }
  });
});
