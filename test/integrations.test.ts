/** Event ingest (SPEC §8): secret, idempotency, data policies, Context Lake upsert, run-trigger fan-out. */
import { describe, expect, test, vi } from "vitest";
import { api } from "../convex/_generated/api";
import { workspaceWithMember } from "./support/fixtures";
import { useFreshConvex } from "./support/harness";
import { expectError } from "./support/api";
import {
  INTEGRATION_SECRET,
  eventDoc,
  eventsWithKey,
  ingest,
  itemDoc,
  setDataPolicy,
} from "./support/integration-fixtures";

const t = useFreshConvex({ IAS_INTEGRATION_EVENT_SECRET: INTEGRATION_SECRET });

const EVENT = {
  source: "github",
  eventType: "issue_opened",
  idempotencyKey: "gh-delivery-1",
  occurredAt: "2026-02-14T10:00:00Z",
  payload: { issue: { number: 42, labels: ["bug"] }, $weird: "keys are fine" },
  item: {
    externalId: "issue-42",
    title: "Login fails on Safari",
    text: "Steps: open /login in Safari 17.",
    url: "https://github.com/acme/app/issues/42",
  },
};

describe("ingest authentication", () => {
  test("503 NOT_CONFIGURED while IAS_INTEGRATION_EVENT_SECRET is unset", async () => {
    const { workspaceId } = await workspaceWithMember(t, "acme");
    vi.stubEnv("IAS_INTEGRATION_EVENT_SECRET", "");
    expectError(await ingest(t, { ...EVENT, workspaceId }), 503, "NOT_CONFIGURED");
  });

  test("401 without the header or with a wrong secret; a bearer token does not help", async () => {
    const { workspaceId } = await workspaceWithMember(t, "acme");
    const missing = await ingest(t, { ...EVENT, workspaceId }, null);
    expectError(missing, 401, "INVALID_INTEGRATION_SECRET");
    expect(JSON.stringify(missing.body)).not.toContain(INTEGRATION_SECRET);
    expectError(
      await ingest(t, { ...EVENT, workspaceId }, `${INTEGRATION_SECRET}x`),
      401,
      "INVALID_INTEGRATION_SECRET",
    );
    expectError(
      await ingest(t, { ...EVENT, workspaceId }, INTEGRATION_SECRET.slice(0, -1)),
      401,
      "INVALID_INTEGRATION_SECRET",
    );
    expect(await eventsWithKey(t, workspaceId, EVENT.idempotencyKey)).toHaveLength(0);
  });

  test("the secret is checked before the body: a wrong secret with an invalid body is 401, not 400", async () => {
    expectError(await ingest(t, { source: 42 }, "wrong"), 401, "INVALID_INTEGRATION_SECRET");
    expectError(await ingest(t, { source: 42 }, INTEGRATION_SECRET), 400, "INVALID_REQUEST");
  });

  test("the right secret ingests, by workspace id or slug; unknown workspaces are 404", async () => {
    const { workspaceId } = await workspaceWithMember(t, "acme");
    const byId = await ingest(t, { ...EVENT, workspaceId: `workspaces/${workspaceId}` });
    expect(byId.status).toBe(200);
    expect(byId.body).toEqual({
      ok: true,
      eventId: expect.any(String),
      duplicate: false,
      triggeredRunTriggerIds: [],
      contextItemId: expect.any(String),
    });
    const bySlug = await ingest(t, { ...EVENT, idempotencyKey: "gh-delivery-2", workspaceSlug: "acme" });
    expect(bySlug.body).toMatchObject({ ok: true, duplicate: false });
    expectError(await ingest(t, { ...EVENT, workspaceSlug: "nope" }), 404, "WORKSPACE_NOT_FOUND");
    expectError(await ingest(t, { ...EVENT }), 400, "INVALID_REQUEST");
    expectError(await ingest(t, { ...EVENT, workspaceId, workspaceSlug: "acme" }), 400, "INVALID_REQUEST");
  });
});

describe("idempotency", () => {
  test("a repeated key is stored once and answers duplicate: true with the first event id", async () => {
    const { workspaceId } = await workspaceWithMember(t, "acme");
    const first = await ingest(t, { ...EVENT, workspaceId });
    const again = await ingest(t, { ...EVENT, workspaceId, item: { ...EVENT.item, title: "changed" } });
    expect(again.body).toEqual({ ...first.body, duplicate: true });
    expect(await eventsWithKey(t, workspaceId, EVENT.idempotencyKey)).toHaveLength(1);
    expect((await itemDoc(t, first.body.contextItemId))!.title).toBe("Login fails on Safari");
  });

  test("concurrent deliveries of one key store one event; the same key in another workspace is its own", async () => {
    const { workspaceId } = await workspaceWithMember(t, "acme");
    const other = await workspaceWithMember(t, "other");
    const answers = await Promise.all([
      ...Array.from({ length: 5 }, () => ingest(t, { ...EVENT, workspaceId })),
      ingest(t, { ...EVENT, workspaceId: other.workspaceId }),
    ]);
    const ours = answers.slice(0, 5).map((answer) => answer.body);
    expect(ours.filter((body) => body.duplicate === false)).toHaveLength(1);
    expect(new Set(ours.map((body) => body.eventId)).size).toBe(1);
    expect(answers[5]!.body).toMatchObject({ ok: true, duplicate: false });
    expect(answers[5]!.body.eventId).not.toBe(ours[0]!.eventId);
    expect(await eventsWithKey(t, workspaceId, EVENT.idempotencyKey)).toHaveLength(1);
    expect(await eventsWithKey(t, other.workspaceId, EVENT.idempotencyKey)).toHaveLength(1);
  });
});

describe("data policy", () => {
  test("full keeps metadata, text and payload, and upserts the item with its text", async () => {
    const { workspaceId } = await workspaceWithMember(t, "acme");
    const { body } = await ingest(t, { ...EVENT, workspaceId });
    const event = await eventDoc(t, body.eventId);
    expect(event).toMatchObject({
      dataPolicy: "full",
      source: "github",
      eventType: "issue_opened",
      idempotencyKey: "gh-delivery-1",
      occurredAt: Date.parse("2026-02-14T10:00:00Z"),
      externalId: "issue-42",
      title: "Login fails on Safari",
      url: "https://github.com/acme/app/issues/42",
      text: "Steps: open /login in Safari 17.",
      contextItemId: body.contextItemId,
    });
    expect(JSON.parse(event!.payloadJson!)).toEqual(EVENT.payload);
    expect(await itemDoc(t, body.contextItemId)).toMatchObject({
      workspaceId,
      source: "github",
      externalId: "issue-42",
      title: "Login fails on Safari",
      text: "Steps: open /login in Safari 17.",
      url: "https://github.com/acme/app/issues/42",
      pinned: false,
      promotionState: "proposed",
    });
  });

  test("metadata_only keeps title, url and ids, never text or payload", async () => {
    const { workspaceId } = await workspaceWithMember(t, "acme");
    await setDataPolicy(t, workspaceId, "metadata_only");
    const { body } = await ingest(t, { ...EVENT, workspaceId });
    const event = (await eventDoc(t, body.eventId))!;
    expect(event).toMatchObject({
      dataPolicy: "metadata_only",
      externalId: "issue-42",
      title: "Login fails on Safari",
    });
    expect(event.text).toBeUndefined();
    expect(event.payloadJson).toBeUndefined();
    const item = (await itemDoc(t, body.contextItemId))!;
    expect(item).toMatchObject({
      title: "Login fails on Safari",
      url: "https://github.com/acme/app/issues/42",
      externalId: "issue-42",
    });
    expect(item.text).toBeUndefined();
    expect(item.searchText).not.toContain("Safari 17");
    expect(JSON.stringify([event, item])).not.toContain("Steps: open");
    expect(JSON.stringify([event, item])).not.toContain("weird");
  });

  test("none keeps only the idempotency record: no content, no item", async () => {
    const { workspaceId } = await workspaceWithMember(t, "acme");
    await setDataPolicy(t, workspaceId, "none");
    const { body } = await ingest(t, { ...EVENT, workspaceId });
    expect(body).toMatchObject({ ok: true, duplicate: false, contextItemId: null });
    const { _id, _creationTime, receivedAt: _receivedAt, ...stored } = (await eventDoc(t, body.eventId))!;
    expect(stored).toEqual({
      workspaceId,
      source: "github",
      eventType: "issue_opened",
      idempotencyKey: "gh-delivery-1",
      dataPolicy: "none",
      triggers: [],
    });
    expect(await t.run((ctx) => ctx.db.query("contextItems").collect())).toEqual([]);
    expect((await ingest(t, { ...EVENT, workspaceId })).body.duplicate).toBe(true);
  });

  test("a later version of an item replaces its content and keeps its curation", async () => {
    const { workspaceId, owner } = await workspaceWithMember(t, "acme");
    const first = await ingest(t, { ...EVENT, workspaceId });
    await t.withIdentity(owner.identity).mutation(api.contextLake.setPinned, {
      workspaceId,
      contextItemId: first.body.contextItemId,
      pinned: true,
    });
    await setDataPolicy(t, workspaceId, "metadata_only");
    const second = await ingest(t, {
      ...EVENT,
      workspaceId,
      idempotencyKey: "gh-delivery-2",
      item: { ...EVENT.item, title: "Login fails on Safari and Firefox" },
    });
    expect(second.body.contextItemId).toBe(first.body.contextItemId);
    const item = (await itemDoc(t, first.body.contextItemId))!;
    expect(item).toMatchObject({ title: "Login fails on Safari and Firefox", pinned: true });
    expect(item.text).toBeUndefined();
  });
});
