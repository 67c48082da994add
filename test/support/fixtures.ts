/** Test data: workspaces, members and their tokens, created directly in the database. */
import type { Id } from "../../convex/_generated/dataModel";
import type { Role } from "../../convex/model/roles";
import { mintToken, sha256Hex } from "../../convex/model/tokens";
import type { TestConvex } from "./harness";

export const SERVICE_TOKEN = "ias_test_service_token_0123456789abcdefghijklmnopqrstuvwxyz";

export type Member = {
  userId: Id<"users">;
  sessionId: Id<"authSessions">;
  /** Console identity for `t.withIdentity` (how @convex-dev/auth encodes the user). */
  identity: { subject: string };
};

export async function createUser(t: TestConvex, email: string): Promise<Member> {
  return t.run(async (ctx) => {
    const userId = await ctx.db.insert("users", { email, name: email.split("@")[0] });
    const sessionId = await ctx.db.insert("authSessions", { userId, expirationTime: Date.now() + 86_400_000 });
    return { userId, sessionId, identity: { subject: `${userId}|${sessionId}` } };
  });
}

export async function createWorkspace(t: TestConvex, slug: string, owner: Member): Promise<Id<"workspaces">> {
  return t.run(async (ctx) => {
    const workspaceId = await ctx.db.insert("workspaces", { slug, name: slug, dataPolicy: "full" });
    await ctx.db.insert("memberships", { workspaceId, userId: owner.userId, role: "owner" });
    return workspaceId;
  });
}

export async function addMember(t: TestConvex, workspaceId: Id<"workspaces">, member: Member, role: Role) {
  await t.run((ctx) => ctx.db.insert("memberships", { workspaceId, userId: member.userId, role }));
}

/** Stores a device token for a member the way device approval does, and returns it in clear. */
export async function deviceToken(
  t: TestConvex,
  workspaceId: Id<"workspaces">,
  member: Member,
  overrides: { expiresAt?: number; revokedAt?: number } = {},
): Promise<{ token: string; tokenId: Id<"apiTokens"> }> {
  const { token, prefix } = mintToken();
  const tokenHash = await sha256Hex(token);
  const tokenId = await t.run((ctx) =>
    ctx.db.insert("apiTokens", {
      tokenHash,
      prefix,
      kind: "device",
      userId: member.userId,
      workspaceId,
      label: "test machine",
      expiresAt: Date.now() + 86_400_000,
      ...overrides,
    }),
  );
  return { token, tokenId };
}

/** One workspace with an owner holding a device token: the usual starting point. */
export async function workspaceWithMember(t: TestConvex, slug: string, role: Role = "member") {
  const owner = await createUser(t, `owner@${slug}.test`);
  const workspaceId = await createWorkspace(t, slug, owner);
  const member = role === "owner" ? owner : await createUser(t, `${role}@${slug}.test`);
  if (role !== "owner") await addMember(t, workspaceId, member, role);
  const { token, tokenId } = await deviceToken(t, workspaceId, member);
  return { workspaceId, owner, member, token, tokenId };
}
