// @vitest-environment node
/** Console sign-in through @convex-dev/auth's Password provider, then a Console call as that user. */
import { afterEach, beforeAll, expect, test, vi } from "vitest";
import { api } from "../convex/_generated/api";
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
