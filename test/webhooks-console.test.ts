/**
 * Outbound webhook endpoints in the Console (SPEC §9b): admins create, list, update, rotate and
 * delete them; the secret is shown once and stored only sealed; private and loopback targets are
 * refused (loopback allowed in local mode with IAS_WEBHOOKS_ALLOW_LOOPBACK=true); every change is
 * audited; the subscription row the emitters read follows the endpoints.
 */
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { decryptSecret, webhookKeyBytes } from "../convex/model/webhooks";
import { rejection } from "./support/api";
import { workspaceWithMember } from "./support/fixtures";
import { freshConvex, resetTestEnvironment, type TestConvex } from "./support/harness";
import { WEBHOOK_KEY } from "./support/webhook-fixtures";

let t: TestConvex;
let workspaceId: Id<"workspaces">;
let admin: ReturnType<TestConvex["withIdentity"]>;
let asMember: ReturnType<TestConvex["withIdentity"]>;

beforeEach(async () => {
  t = freshConvex({ IAS_WEBHOOK_SECRET_KEY: WEBHOOK_KEY });
  const acme = await workspaceWithMember(t, "acme", "member");
  workspaceId = acme.workspaceId;
  admin = t.withIdentity(acme.owner.identity);
  asMember = t.withIdentity(acme.member.identity);
});
afterEach(resetTestEnvironment);

const create = (fields: { url?: string; events?: string[]; enabled?: boolean; description?: string } = {}) =>
  admin.mutation(api.webhooks.create, {
    workspaceId,
    url: "https://hooks.example.com/ias",
    events: ["job.finished"],
    ...fields,
  } as never);

const subscriptions = () =>
  t.run(
    async (ctx) =>
      (
        await ctx.db
          .query("webhookSubscriptions")
          .withIndex("by_workspace", (q) => q.eq("workspaceId", workspaceId))
          .unique()
      )?.types ?? null,
  );

describe("endpoints", () => {
  test("create answers the secret once; it is stored only sealed and the list shows its prefix", async () => {
    const created = await create({ events: ["job.failed", "job.finished"], description: " CI alerts " });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(created.secretPrefix).toBe(created.secret.slice(0, 10));

    const listed = await admin.query(api.webhooks.list, { workspaceId });
    expect(listed).toEqual([
      expect.objectContaining({
        _id: created.endpointId,
        url: "https://hooks.example.com/ias",
        events: ["job.finished", "job.failed"],
        enabled: true,
        description: "CI alerts",
        secretPrefix: created.secretPrefix,
      }),
    ]);
    expect(JSON.stringify(listed)).not.toContain(created.secret);
    expect(listed[0]).not.toHaveProperty("secretCiphertext");

    const stored = await t.run(async (ctx) => (await ctx.db.get(created.endpointId))!);
    expect(JSON.stringify(stored)).not.toContain(created.secret.slice(6));
    const key = webhookKeyBytes({ IAS_WEBHOOK_SECRET_KEY: WEBHOOK_KEY })!;
    expect(await decryptSecret(key, stored.secretCiphertext, workspaceId)).toBe(created.secret);
  });

  test("rotating gives a new secret once; the old one no longer opens", async () => {
    const created = await create();
    const rotated = await admin.mutation(api.webhooks.rotateSecret, { workspaceId, endpointId: created.endpointId });
    expect(rotated.secret).not.toBe(created.secret);
    const stored = await t.run(async (ctx) => (await ctx.db.get(created.endpointId))!);
    const key = webhookKeyBytes({ IAS_WEBHOOK_SECRET_KEY: WEBHOOK_KEY })!;
    expect(await decryptSecret(key, stored.secretCiphertext, workspaceId)).toBe(rotated.secret);
    expect(stored.secretPrefix).toBe(rotated.secretPrefix);
  });

  test("private, loopback and non-https targets are refused naming the URL", async () => {
    for (const url of [
      "http://hooks.example.com/ias",
      "https://127.0.0.1/hook",
      "https://[::1]/hook",
      "https://localhost:8080/hook",
      "https://10.0.0.5/hook",
      "https://192.168.1.20/hook",
      "https://169.254.169.254/latest/meta-data",
      "https://[fd00::5]/hook",
      "https://metadata.google.internal/",
      "https://user:pw@hooks.example.com/",
    ]) {
      const refused = await rejection(create({ url }));
      expect(refused.code, url).toBe("INVALID_REQUEST");
      expect(refused.message, url).toMatch(/^url: /);
    }
    const endpointId = (await create()).endpointId;
    const refused = await rejection(
      admin.mutation(api.webhooks.update, { workspaceId, endpointId, url: "https://10.1.1.1/" }),
    );
    expect(refused.code).toBe("INVALID_REQUEST");
    expect((await admin.query(api.webhooks.list, { workspaceId }))[0]!.url).toBe("https://hooks.example.com/ias");
  });

  test("loopback receivers are allowed in local mode with IAS_WEBHOOKS_ALLOW_LOOPBACK=true only", async () => {
    const url = "http://127.0.0.1:4555/hook";
    expect((await rejection(create({ url }))).code).toBe("INVALID_REQUEST");
    t = freshConvex({
      IAS_WEBHOOK_SECRET_KEY: WEBHOOK_KEY,
      IAS_LOCAL_MODE: "true",
      IAS_WEBHOOKS_ALLOW_LOOPBACK: "true",
    });
    const acme = await workspaceWithMember(t, "acme", "owner");
    const local = t.withIdentity(acme.owner.identity);
    const created = await local.mutation(api.webhooks.create, {
      workspaceId: acme.workspaceId,
      url,
      events: ["job.finished"],
    });
    expect(created.endpointId).toEqual(expect.any(String));
    const privateTarget = local.mutation(api.webhooks.create, {
      workspaceId: acme.workspaceId,
      url: "http://10.0.0.1/hook",
      events: ["job.finished"],
    });
    expect((await rejection(privateTarget)).code).toBe("INVALID_REQUEST");
  });

  test("without IAS_WEBHOOK_SECRET_KEY endpoints cannot be created: 503 NOT_CONFIGURED", async () => {
    t = freshConvex({ IAS_WEBHOOK_SECRET_KEY: "" });
    const acme = await workspaceWithMember(t, "acme", "owner");
    const refused = await rejection(
      t.withIdentity(acme.owner.identity).mutation(api.webhooks.create, {
        workspaceId: acme.workspaceId,
        url: "https://hooks.example.com/ias",
        events: ["job.finished"],
      }),
    );
    expect(refused.code).toBe("NOT_CONFIGURED");
    expect(refused.message).toContain("IAS_WEBHOOK_SECRET_KEY");
  });

  test("events must name at least one type; a workspace holds at most 10 endpoints", async () => {
    expect((await rejection(create({ events: [] }))).code).toBe("INVALID_REQUEST");
    for (let i = 0; i < 10; i++) await create({ url: `https://hooks.example.com/${i}` });
    expect((await rejection(create({ url: "https://hooks.example.com/11" }))).code).toBe("CONFLICT");
  });

  test("members and other workspaces' admins can do nothing with endpoints", async () => {
    const { endpointId } = await create();
    for (const call of [
      asMember.query(api.webhooks.list, { workspaceId }),
      asMember.mutation(api.webhooks.create, {
        workspaceId,
        url: "https://hooks.example.com/x",
        events: ["job.failed"],
      }),
      asMember.mutation(api.webhooks.sendTest, { workspaceId, endpointId }),
      asMember.query(api.webhooks.listDeliveries, {
        workspaceId,
        endpointId,
        paginationOpts: { numItems: 5, cursor: null },
      }),
    ]) {
      expect((await rejection(call)).code).toBe("FORBIDDEN");
    }
    const beta = await workspaceWithMember(t, "beta", "owner");
    const outsider = t.withIdentity(beta.owner.identity);
    for (const call of [
      outsider.mutation(api.webhooks.update, { workspaceId: beta.workspaceId, endpointId, enabled: false }),
      outsider.mutation(api.webhooks.remove, { workspaceId: beta.workspaceId, endpointId }),
      outsider.mutation(api.webhooks.rotateSecret, { workspaceId: beta.workspaceId, endpointId }),
    ]) {
      expect((await rejection(call)).code).toBe("WEBHOOK_NOT_FOUND");
    }
  });
});

describe("subscriptions and audit", () => {
  test("the subscription row lists what enabled endpoints want and disappears with the last one", async () => {
    expect(await subscriptions()).toBeNull();
    const a = await create({ events: ["job.failed"] });
    const b = await create({ url: "https://hooks.example.com/b", events: ["run.finished", "decision.opened"] });
    expect(await subscriptions()).toEqual(["job.failed", "decision.opened", "run.finished"]);
    await admin.mutation(api.webhooks.update, { workspaceId, endpointId: b.endpointId, enabled: false });
    expect(await subscriptions()).toEqual(["job.failed"]);
    await admin.mutation(api.webhooks.update, { workspaceId, endpointId: a.endpointId, events: ["job.finished"] });
    expect(await subscriptions()).toEqual(["job.finished"]);
    await admin.mutation(api.webhooks.remove, { workspaceId, endpointId: a.endpointId });
    expect(await subscriptions()).toBeNull();
  });

  test("create, update, rotate and delete are audited by origin, never with the secret or the path", async () => {
    const created = await create({ url: "https://hooks.example.com/T123/secret-path?token=abc" });
    const { endpointId } = created;
    await admin.mutation(api.webhooks.update, { workspaceId, endpointId, enabled: false, events: ["run.finished"] });
    const rotated = await admin.mutation(api.webhooks.rotateSecret, { workspaceId, endpointId });
    await admin.mutation(api.webhooks.sendTest, { workspaceId, endpointId }); // not a change: not audited
    await admin.mutation(api.webhooks.remove, { workspaceId, endpointId });

    const page = await admin.query(api.audit.list, { workspaceId, paginationOpts: { numItems: 20, cursor: null } });
    const rows = page.page.filter((row) => row.action.startsWith("webhook.")).reverse();
    const origin = "https://hooks.example.com";
    expect(rows.map((row) => [row.action, row.details])).toEqual([
      ["webhook.created", { endpointId, origin, events: "job.finished" }],
      ["webhook.updated", { endpointId, origin, changed: "enabled, events" }],
      ["webhook.secret_rotated", { endpointId, origin }],
      ["webhook.deleted", { endpointId, origin }],
    ]);
    const text = JSON.stringify(page.page);
    for (const secret of [created.secret, rotated.secret, "secret-path", "token=abc"])
      expect(text).not.toContain(secret);
  });
});
