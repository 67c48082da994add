/** Pure helpers of the foundation: tokens, roles, slugs, request ids. */
import { describe, expect, test } from "vitest";
import { z } from "zod";
import { idOf } from "../convex/api/schemas";
import { roleAtLeast } from "../convex/model/roles";
import { isValidSlug } from "../convex/model/slug";
import { mintToken, secretsEqual, sha256Hex, VISIBLE_PREFIX_LENGTH } from "../convex/model/tokens";
import { secretSharingDigestPrefix } from "./support/secrets";

describe("tokens", () => {
  test("minted tokens are ias_-prefixed, carry 32 random bytes and differ every time", () => {
    const a = mintToken();
    const b = mintToken();
    expect(a.token).toMatch(/^ias_[A-Za-z0-9_-]{43}$/);
    expect(a.prefix).toBe(a.token.slice(0, VISIBLE_PREFIX_LENGTH));
    expect(a.token).not.toBe(b.token);
  });

  test("sha256Hex matches a known vector", async () => {
    expect(await sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  test("secretsEqual compares every byte: a secret whose digest shares its first bytes is still refused", async () => {
    const expected = "ias_service_secret";
    const sharing = await secretSharingDigestPrefix(expected);
    expect(sharing).not.toBe(expected);
    expect(await secretsEqual(sharing, expected)).toBe(false);
    expect(await secretsEqual(expected, expected)).toBe(true);
  });

  test("secretsEqual compares whole values of any length", async () => {
    expect(await secretsEqual("ias_same", "ias_same")).toBe(true);
    expect(await secretsEqual("ias_same", "ias_samf")).toBe(false);
    expect(await secretsEqual("ias_same", "ias_same_longer")).toBe(false);
    expect(await secretsEqual("", "x")).toBe(false);
  });
});

describe("roles", () => {
  test("owner > admin > member > viewer", () => {
    expect(roleAtLeast("owner", "admin")).toBe(true);
    expect(roleAtLeast("admin", "admin")).toBe(true);
    expect(roleAtLeast("member", "admin")).toBe(false);
    expect(roleAtLeast("viewer", "member")).toBe(false);
    expect(roleAtLeast("viewer", "viewer")).toBe(true);
  });
});

describe("slugs", () => {
  test.each([
    ["local", true],
    ["a", true],
    ["team-42", true],
    ["Team", false],
    ["-x", false],
    ["x-", false],
    ["x".repeat(48), true],
    ["x".repeat(49), false],
  ])("%s -> %s", (slug, valid) => {
    expect(isValidSlug(slug)).toBe(valid);
  });
});

describe("id fields", () => {
  test("accept a table/ prefix and plain ids alike", () => {
    const schema = z.object({ jobId: idOf("workspaces") });
    expect(schema.parse({ jobId: "workspaces/abc" }).jobId).toBe("abc");
    expect(schema.parse({ jobId: "abc" }).jobId).toBe("abc");
    expect(schema.safeParse({ jobId: "" }).success).toBe(false);
    expect(schema.safeParse({ jobId: 5 }).success).toBe(false);
  });
});
