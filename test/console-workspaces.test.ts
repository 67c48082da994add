/** Console sign-in wrapper and workspace functions (SPEC §9). */
import { describe, expect, test } from "vitest";
import { api } from "../convex/_generated/api";
import { addMember, createUser } from "./support/fixtures";
import { newConvex } from "./support/harness";
import { rejection } from "./support/api";

describe("console workspaces", () => {
  test("create makes the caller owner; listMine shows it with the role", async () => {
    const t = newConvex();
    const alice = await createUser(t, "alice@example.com");
    const asAlice = t.withIdentity(alice.identity);
    const workspaceId = await asAlice.mutation(api.workspaces.create, { slug: "acme", name: "Acme" });
    expect(await asAlice.query(api.workspaces.listMine, {})).toEqual([
      { _id: workspaceId, slug: "acme", name: "Acme", dataPolicy: "full", role: "owner" },
    ]);
    const bob = await createUser(t, "bob@example.com");
    expect(await t.withIdentity(bob.identity).query(api.workspaces.listMine, {})).toEqual([]);
  });

  test("slugs are validated and unique", async () => {
    const t = newConvex();
    const alice = await createUser(t, "alice@example.com");
    const asAlice = t.withIdentity(alice.identity);
    await asAlice.mutation(api.workspaces.create, { slug: "acme", name: "Acme" });
    expect((await rejection(asAlice.mutation(api.workspaces.create, { slug: "acme", name: "Again" }))).code).toBe(
      "CONFLICT",
    );
    for (const slug of ["", "Acme", "-acme", "acme-", "a b", "x".repeat(49)]) {
      expect((await rejection(asAlice.mutation(api.workspaces.create, { slug, name: "N" }))).code).toBe(
        "INVALID_REQUEST",
      );
    }
    expect((await rejection(asAlice.mutation(api.workspaces.create, { slug: "ok", name: "  " }))).code).toBe(
      "INVALID_REQUEST",
    );
  });

  test("signed-out callers are refused with UNAUTHENTICATED", async () => {
    const t = newConvex();
    expect((await rejection(t.query(api.workspaces.listMine, {}))).code).toBe("UNAUTHENTICATED");
    expect((await rejection(t.mutation(api.workspaces.create, { slug: "acme", name: "A" }))).code).toBe(
      "UNAUTHENTICATED",
    );
  });

  test("setDataPolicy: admins and owners may; members, viewers and outsiders may not", async () => {
    const t = newConvex();
    const owner = await createUser(t, "owner@example.com");
    const workspaceId = await t
      .withIdentity(owner.identity)
      .mutation(api.workspaces.create, { slug: "acme", name: "Acme" });
    const people = {
      admin: await createUser(t, "admin@example.com"),
      member: await createUser(t, "member@example.com"),
      viewer: await createUser(t, "viewer@example.com"),
    };
    for (const [role, person] of Object.entries(people)) await addMember(t, workspaceId, person, role as "admin");
    const outsider = await createUser(t, "outsider@example.com");

    await t.withIdentity(owner.identity).mutation(api.workspaces.setDataPolicy, { workspaceId, dataPolicy: "none" });
    await t
      .withIdentity(people.admin.identity)
      .mutation(api.workspaces.setDataPolicy, { workspaceId, dataPolicy: "metadata_only" });
    const policy = await t.run(async (ctx) => (await ctx.db.get(workspaceId))!.dataPolicy);
    expect(policy).toBe("metadata_only");

    for (const person of [people.member, people.viewer, outsider]) {
      const refused = await rejection(
        t.withIdentity(person.identity).mutation(api.workspaces.setDataPolicy, { workspaceId, dataPolicy: "full" }),
      );
      expect(refused.code).toBe("FORBIDDEN");
    }
    expect(await t.run(async (ctx) => (await ctx.db.get(workspaceId))!.dataPolicy)).toBe("metadata_only");
  });
});
