/** Members and roles (SPEC §3, §9): Console add/remove/setRole, the role rules, removal cutting tokens off. */
import { describe, expect, test } from "vitest";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { membershipChangeProblem } from "../convex/model/members";
import { ROLES, type Role } from "../convex/model/roles";
import { caller, expectError, ok, rejection } from "./support/api";
import { CONSOLE_URL, loginThroughDevice } from "./support/device-fixtures";
import { addMember, createUser, createWorkspace, type Member } from "./support/fixtures";
import { useFreshConvex } from "./support/harness";

const t = useFreshConvex({ IAS_LOCAL_MODE: "", IAS_CONSOLE_URL: CONSOLE_URL });

/** Workspace acme with one person of each role. */
async function team() {
  const owner = await createUser(t, "owner@acme.test");
  const workspaceId = await createWorkspace(t, "acme", owner);
  const people: Record<Role, Member> = { owner } as Record<Role, Member>;
  for (const role of ["admin", "member", "viewer"] as const) {
    people[role] = await createUser(t, `${role}@acme.test`);
    await addMember(t, workspaceId, people[role], role);
  }
  return { workspaceId, people, as: (role: Role) => t.withIdentity(people[role].identity) };
}

async function roleOf(workspaceId: Id<"workspaces">, userId: Id<"users">) {
  return await t.run(
    async (ctx) =>
      (
        await ctx.db
          .query("memberships")
          .withIndex("by_workspace_user", (q) => q.eq("workspaceId", workspaceId).eq("userId", userId))
          .unique()
      )?.role ?? null,
  );
}

describe("the role rules (pure)", () => {
  test("nobody below admin manages members; nobody acts above their own role", () => {
    for (const actor of ROLES) {
      for (const from of [null, ...ROLES]) {
        for (const to of [null, ...ROLES]) {
          const rank = (role: Role) => ROLES.indexOf(role);
          const allowed =
            rank(actor) >= rank("admin") &&
            (from === null || rank(from) <= rank(actor)) &&
            (to === null || rank(to) <= rank(actor));
          expect(membershipChangeProblem(actor, from, to) === null, `${actor}: ${from} → ${to}`).toBe(allowed);
        }
      }
    }
    expect(membershipChangeProblem("admin", "owner", "member")).toMatch(/owner/);
  });
});

describe("Console members", () => {
  test("admins add by email or user id; the list shows everyone; duplicates and unknown people are refused", async () => {
    const { workspaceId, as } = await team();
    const carol = await createUser(t, "carol@example.test");
    const dan = await createUser(t, "dan@example.test");
    // Typed with capitals and spaces, found all the same.
    expect(
      await as("admin").mutation(api.members.add, { workspaceId, email: " Carol@Example.test ", role: "member" }),
    ).toEqual({
      userId: carol.userId,
      role: "member",
    });
    await as("owner").mutation(api.members.add, { workspaceId, userId: dan.userId, role: "admin" });
    expect(await roleOf(workspaceId, dan.userId)).toBe("admin");

    const listed = await as("viewer").query(api.members.list, { workspaceId });
    expect(listed.map((row) => row.email).sort()).toEqual(
      [
        "carol@example.test",
        "admin@acme.test",
        "dan@example.test",
        "member@acme.test",
        "owner@acme.test",
        "viewer@acme.test",
      ].sort(),
    );
    const refused = async (args: Record<string, unknown>) =>
      (await rejection(as("admin").mutation(api.members.add, { workspaceId, role: "member", ...args } as never))).code;
    expect(await refused({ email: "carol@example.test" })).toBe("CONFLICT");
    expect(await refused({ email: "nobody@example.test" })).toBe("USER_NOT_FOUND");
    expect(await refused({})).toBe("INVALID_REQUEST");
    expect(await refused({ email: "dan@example.test", userId: dan.userId })).toBe("INVALID_REQUEST");
  });

  test("members and viewers cannot manage members; admins cannot touch owners or make one", async () => {
    const { workspaceId, people, as } = await team();
    const outsider = await createUser(t, "x@example.test");
    for (const role of ["member", "viewer"] as const) {
      expect(
        (await rejection(as(role).mutation(api.members.add, { workspaceId, userId: outsider.userId, role: "viewer" })))
          .code,
      ).toBe("FORBIDDEN");
      expect(
        (
          await rejection(
            as(role).mutation(api.members.setRole, { workspaceId, userId: people.viewer.userId, role: "member" }),
          )
        ).code,
      ).toBe("FORBIDDEN");
      expect(
        (await rejection(as(role).mutation(api.members.remove, { workspaceId, userId: people.viewer.userId }))).code,
      ).toBe("FORBIDDEN");
    }
    const admin = as("admin");
    expect(
      (await rejection(admin.mutation(api.members.add, { workspaceId, userId: outsider.userId, role: "owner" }))).code,
    ).toBe("FORBIDDEN");
    expect(
      (
        await rejection(
          admin.mutation(api.members.setRole, { workspaceId, userId: people.owner.userId, role: "admin" }),
        )
      ).code,
    ).toBe("FORBIDDEN");
    expect(
      (
        await rejection(
          admin.mutation(api.members.setRole, { workspaceId, userId: people.member.userId, role: "owner" }),
        )
      ).code,
    ).toBe("FORBIDDEN");
    expect(
      (await rejection(admin.mutation(api.members.remove, { workspaceId, userId: people.owner.userId }))).code,
    ).toBe("FORBIDDEN");
    expect(await roleOf(workspaceId, people.owner.userId)).toBe("owner");

    // What an admin may do: change roles up to admin, remove non-owners.
    await admin.mutation(api.members.setRole, { workspaceId, userId: people.viewer.userId, role: "admin" });
    expect(await roleOf(workspaceId, people.viewer.userId)).toBe("admin");
    await admin.mutation(api.members.remove, { workspaceId, userId: people.member.userId });
    expect(await roleOf(workspaceId, people.member.userId)).toBeNull();
    expect(
      (await rejection(admin.mutation(api.members.remove, { workspaceId, userId: people.member.userId }))).code,
    ).toBe("MEMBER_NOT_FOUND");
  });

  test("the last owner can be neither removed nor demoted; with a second owner both work", async () => {
    const { workspaceId, people, as } = await team();
    const owner = as("owner");
    expect(
      (await rejection(owner.mutation(api.members.remove, { workspaceId, userId: people.owner.userId }))).code,
    ).toBe("LAST_OWNER");
    expect(
      (
        await rejection(
          owner.mutation(api.members.setRole, { workspaceId, userId: people.owner.userId, role: "admin" }),
        )
      ).code,
    ).toBe("LAST_OWNER");

    await owner.mutation(api.members.setRole, { workspaceId, userId: people.admin.userId, role: "owner" });
    await owner.mutation(api.members.setRole, { workspaceId, userId: people.owner.userId, role: "admin" });
    expect(await roleOf(workspaceId, people.owner.userId)).toBe("admin");
    const newOwner = as("admin"); // people.admin is owner now
    expect(
      (await rejection(newOwner.mutation(api.members.remove, { workspaceId, userId: people.admin.userId }))).code,
    ).toBe("LAST_OWNER");
    await newOwner.mutation(api.members.setRole, { workspaceId, userId: people.member.userId, role: "owner" });
    await newOwner.mutation(api.members.remove, { workspaceId, userId: people.admin.userId });
    expect(await roleOf(workspaceId, people.admin.userId)).toBeNull();
  });

  test("changes are audited with the actor, the target and the roles", async () => {
    const { workspaceId, people, as } = await team();
    const carol = await createUser(t, "carol@example.test");
    await as("owner").mutation(api.members.add, { workspaceId, userId: carol.userId, role: "viewer" });
    await as("admin").mutation(api.members.setRole, { workspaceId, userId: carol.userId, role: "member" });
    await as("admin").mutation(api.members.remove, { workspaceId, userId: carol.userId });
    const events = (
      await as("admin").query(api.audit.list, { workspaceId, paginationOpts: { numItems: 10, cursor: null } })
    ).page;
    expect(
      events.map(({ action, actor, targetUserId, details }) => ({ action, actor, targetUserId, details })),
    ).toEqual([
      {
        action: "member.removed",
        actor: { kind: "user", userId: people.admin.userId },
        targetUserId: carol.userId,
        details: { role: "member", tokensRevoked: 0 },
      },
      {
        action: "member.role_changed",
        actor: { kind: "user", userId: people.admin.userId },
        targetUserId: carol.userId,
        details: { from: "viewer", to: "member" },
      },
      {
        action: "member.added",
        actor: { kind: "user", userId: people.owner.userId },
        targetUserId: carol.userId,
        details: { role: "viewer" },
      },
    ]);
  });
});

/** More than the old token-read bound (the user's oldest 1,000 tokens). */
const OLD_REVOKED_TOKENS = 1_100;

describe("removal cuts a member's machines off", () => {
  test("their device tokens stop at once and stay stopped if they are added back", async () => {
    const { workspaceId, people, as } = await team();
    const { token } = await loginThroughDevice(t, people.member, "acme");
    const call = caller(t, token);
    const heartbeat = { workspaceId, displayName: "laptop", status: "online", capabilities: {} };
    await ok(call, "/v1/workers/heartbeat", heartbeat);

    await as("admin").mutation(api.members.remove, { workspaceId, userId: people.member.userId });
    expectError(await call("/v1/workers/heartbeat", heartbeat), 401, "INVALID_TOKEN");
    await as("admin").mutation(api.members.add, { workspaceId, userId: people.member.userId, role: "member" });
    expectError(await call("/v1/workers/heartbeat", heartbeat), 401, "INVALID_TOKEN");
  });

  test("removal revokes the newest token however many revoked ones came before, and spares other workspaces", async () => {
    const { workspaceId, people, as } = await team();
    const otherWorkspaceId = await createWorkspace(t, "other", people.member);
    // Years of old logins, all revoked, then today's login of this workspace and one of another.
    await t.run(async (ctx) => {
      for (let i = 0; i < OLD_REVOKED_TOKENS; i++) {
        await ctx.db.insert("apiTokens", {
          tokenHash: `old-${i}`,
          prefix: "old",
          kind: "device",
          userId: people.member.userId,
          workspaceId,
          label: "old laptop",
          expiresAt: Date.now() + 86_400_000,
          revokedAt: Date.now(),
        });
      }
    });
    const { token } = await loginThroughDevice(t, people.member, "acme");
    const elsewhere = await loginThroughDevice(t, people.member, "other");
    const listJobs = { workspaceId };
    await ok(caller(t, token), "/v1/jobs/list", listJobs);

    await as("admin").mutation(api.members.remove, { workspaceId, userId: people.member.userId });
    await as("admin").mutation(api.members.add, { workspaceId, userId: people.member.userId, role: "member" });
    expectError(await caller(t, token)("/v1/jobs/list", listJobs), 401, "INVALID_TOKEN");
    await ok(caller(t, elsewhere.token), "/v1/jobs/list", { workspaceId: otherWorkspaceId });
  });

  test("a token of a removed member is refused even before revocation reaches it (access re-checked per request)", async () => {
    const { workspaceId, people } = await team();
    const { token } = await loginThroughDevice(t, people.member, "acme");
    // Membership deleted directly, as if by a transaction that did not revoke anything.
    await t.run(async (ctx) => {
      const row = await ctx.db
        .query("memberships")
        .withIndex("by_workspace_user", (q) => q.eq("workspaceId", workspaceId).eq("userId", people.member.userId))
        .unique();
      await ctx.db.delete(row!._id);
    });
    expectError(await caller(t, token)("/v1/jobs/list", { workspaceId }), 403, "FORBIDDEN");
  });

  test("a role change applies to the next request of an existing token", async () => {
    const { workspaceId, people, as } = await team();
    const { token } = await loginThroughDevice(t, people.member, "acme");
    const call = caller(t, token);
    const body = { workspaceId, remoteUrlHash: "abc", status: "active" };
    await ok(call, "/v1/repos/upsert", body);
    await as("owner").mutation(api.members.setRole, { workspaceId, userId: people.member.userId, role: "viewer" });
    expectError(await call("/v1/repos/upsert", body), 403, "FORBIDDEN");
    await ok(call, "/v1/jobs/list", { workspaceId });
  });
});
