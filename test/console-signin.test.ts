// @vitest-environment node
/** Console sign-in through @convex-dev/auth's Password provider, then a Console call as that user. */
import { afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { api, internal } from "../convex/_generated/api";
import { generateAuthKeys } from "../scripts/auth-keys";
import { newConvex } from "./support/harness";

let keys: { JWT_PRIVATE_KEY: string; JWKS: string };
beforeAll(async () => {
  keys = await generateAuthKeys();
});
afterEach(() => vi.unstubAllEnvs());

test("sign up with email and password creates a user who can then create a workspace", async () => {
  vi.stubEnv("JWT_PRIVATE_KEY", keys.JWT_PRIVATE_KEY);
  vi.stubEnv("JWKS", keys.JWKS);
  vi.stubEnv("CONVEX_SITE_URL", "https://example.convex.site");
  const t = newConvex();
  const result = await t.action(api.auth.signIn, {
    provider: "password",
    params: { email: "ada@example.com", password: "correct horse battery", flow: "signUp" },
  });
  expect(result.tokens?.token).toEqual(expect.any(String));

  const [user] = await t.run((ctx) => ctx.db.query("users").collect());
  const [session] = await t.run((ctx) => ctx.db.query("authSessions").collect());
  expect(user!.email).toBe("ada@example.com");
  // The password is stored hashed by the provider, never in clear.
  const accounts = await t.run((ctx) => ctx.db.query("authAccounts").collect());
  expect(JSON.stringify(accounts)).not.toContain("correct horse battery");

  const asAda = t.withIdentity({ subject: `${user!._id}|${session!._id}` });
  const workspaceId = await asAda.mutation(api.workspaces.create, { slug: "ada", name: "Ada" });
  expect(await asAda.query(api.workspaces.listMine, {})).toEqual([
    expect.objectContaining({ _id: workspaceId, role: "owner" }),
  ]);

  const wrong = t.action(api.auth.signIn, {
    provider: "password",
    params: { email: "ada@example.com", password: "wrong password!", flow: "signIn" },
  });
  await expect(wrong).rejects.toThrow();
});

describe("local mode: the first person to sign up is an owner of workspace local", () => {
  const signUpAs = (t: ReturnType<typeof newConvex>, email: string, flow = "signUp") =>
    t.action(api.auth.signIn, { provider: "password", params: { email, password: "correct horse battery", flow } });
  const userNamed = async (t: ReturnType<typeof newConvex>, email: string) => {
    const users = await t.run((ctx) => ctx.db.query("users").collect());
    const user = users.find((candidate) => candidate.email === email)!;
    const sessions = await t.run((ctx) => ctx.db.query("authSessions").collect());
    const session = sessions.find((candidate) => candidate.userId === user._id)!;
    return t.withIdentity({ subject: `${user._id}|${session._id}` });
  };
  const withKeys = (localMode: string) => {
    vi.stubEnv("JWT_PRIVATE_KEY", keys.JWT_PRIVATE_KEY);
    vi.stubEnv("JWKS", keys.JWKS);
    vi.stubEnv("CONVEX_SITE_URL", "https://example.convex.site");
    vi.stubEnv("IAS_LOCAL_MODE", localMode);
  };

  test("first sign-up joins local as owner (audited); the second does not; signing in again adds nothing", async () => {
    withKeys("true");
    const t = newConvex();
    const { workspaceId } = await t.mutation(internal.workspaces.ensureLocalWorkspace, { slug: "local" });
    await signUpAs(t, "dev@example.com");
    const dev = await userNamed(t, "dev@example.com");
    expect(await dev.query(api.workspaces.listMine, {})).toEqual([
      expect.objectContaining({ _id: workspaceId, slug: "local", role: "owner" }),
    ]);
    const audit = await t.run((ctx) => ctx.db.query("auditLog").collect());
    expect(audit).toEqual([
      expect.objectContaining({ action: "member.added", details: { role: "owner", via: "local_first_sign_up" } }),
    ]);

    await signUpAs(t, "second@example.com");
    expect(await (await userNamed(t, "second@example.com")).query(api.workspaces.listMine, {})).toEqual([]);
    await signUpAs(t, "dev@example.com", "signIn");
    const memberships = await t.run((ctx) => ctx.db.query("memberships").collect());
    expect(memberships.map((membership) => membership.role).sort()).toEqual(["owner", "owner"]); // bootstrap + dev
  });

  test("a person removed from local leaves room: the next sign-up joins", async () => {
    withKeys("true");
    const t = newConvex();
    const { workspaceId } = await t.mutation(internal.workspaces.ensureLocalWorkspace, { slug: "local" });
    await signUpAs(t, "dev@example.com");
    await t.run(async (ctx) => {
      const rows = await ctx.db.query("memberships").collect();
      const workspace = (await ctx.db.get(workspaceId))!;
      for (const row of rows) if (row.userId !== workspace.createdBy) await ctx.db.delete(row._id);
    });
    await signUpAs(t, "next@example.com");
    expect(await (await userNamed(t, "next@example.com")).query(api.workspaces.listMine, {})).toHaveLength(1);
  });

  test("outside local mode, or without a local workspace, a sign-up joins nothing", async () => {
    withKeys("");
    const t = newConvex();
    await t.mutation(internal.workspaces.ensureLocalWorkspace, { slug: "local" });
    await signUpAs(t, "cloud@example.com");
    expect(await (await userNamed(t, "cloud@example.com")).query(api.workspaces.listMine, {})).toEqual([]);

    vi.stubEnv("IAS_LOCAL_MODE", "true");
    const empty = newConvex();
    await signUpAs(empty, "early@example.com");
    expect(await empty.run((ctx) => ctx.db.query("memberships").collect())).toEqual([]);
  });
});
