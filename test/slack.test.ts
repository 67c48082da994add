/** Slack Events API (SPEC §8): signature v0, timestamp window, url_verification, team binding, retries. */
import { describe, expect, test, vi } from "vitest";
import { api } from "../convex/_generated/api";
import { slackSignatureOf } from "../convex/model/slackSignature";
import { workspaceWithMember } from "./support/fixtures";
import { useFreshConvex, post, type Json } from "./support/harness";
import { expectError } from "./support/api";
import { eventDoc, itemDoc } from "./support/integration-fixtures";

const SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
const ROUTE = "/integrations/slack/events/v1";

const t = useFreshConvex({ SLACK_SIGNING_SECRET: SIGNING_SECRET });

const nowSeconds = () => String(Math.floor(Date.now() / 1000));

/** POSTs `body` exactly as Slack would: signed over the raw text, unless `headers` says otherwise. */
async function deliver(
  body: Json,
  options: { timestamp?: string; signature?: string; headers?: Record<string, string> } = {},
) {
  const raw = JSON.stringify(body);
  const timestamp = options.timestamp ?? nowSeconds();
  const signature = options.signature ?? (await slackSignatureOf(SIGNING_SECRET, timestamp, raw));
  return await post(t, ROUTE, raw, {
    headers: { "x-slack-request-timestamp": timestamp, "x-slack-signature": signature, ...options.headers },
  });
}

function messageEvent(eventId: string, teamId = "T0ACME") {
  return {
    token: "deprecated-verification-token",
    team_id: teamId,
    api_app_id: "A0APP",
    type: "event_callback",
    event_id: eventId,
    event_time: 1_771_063_200,
    event: {
      type: "message",
      channel: "C0GENERAL",
      user: "U0ALICE",
      text: "Deploy is broken on staging",
      ts: "1771063200.000100",
    },
  };
}

async function boundWorkspace() {
  const acme = await workspaceWithMember(t, "acme");
  await t
    .withIdentity(acme.owner.identity)
    .mutation(api.slack.bindTeam, { workspaceId: acme.workspaceId, teamId: "T0ACME" });
  return acme;
}

describe("signature", () => {
  test("a correctly signed url_verification answers its challenge", async () => {
    const challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P";
    const response = await deliver({ token: "x", challenge, type: "url_verification" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("application/json");
    expect(response.body).toEqual({ ok: true, challenge });
  });

  test("a wrong signature, a body changed after signing or missing headers are 401", async () => {
    const body = { type: "url_verification", challenge: "c" };
    const wrongSecret = await slackSignatureOf("another-secret", nowSeconds(), JSON.stringify(body));
    expectError(await deliver(body, { signature: wrongSecret }), 401, "INVALID_SIGNATURE");

    const timestamp = nowSeconds();
    const signedOther = await slackSignatureOf(SIGNING_SECRET, timestamp, JSON.stringify({ ...body, challenge: "d" }));
    expectError(await deliver(body, { timestamp, signature: signedOther }), 401, "INVALID_SIGNATURE");

    const bare = await post(t, ROUTE, body);
    expectError(bare, 401, "INVALID_SIGNATURE");
    expect(bare.body.message).toMatch(/required/);
  });

  test("the signature is checked before the body is validated", async () => {
    expectError(await deliver({ type: 42 }, { signature: "v0=00" }), 401, "INVALID_SIGNATURE");
    expectError(await deliver({ type: 42 }), 400, "INVALID_REQUEST");
  });

  test("timestamps more than 5 minutes off are refused even when correctly signed", async () => {
    vi.useFakeTimers({ now: 1_771_063_200_000 });
    const body = { type: "url_verification", challenge: "c" };
    const now = 1_771_063_200;
    for (const skew of [-301, 301, -3600]) {
      const stale = await deliver(body, { timestamp: String(now + skew) });
      expectError(stale, 401, "INVALID_SIGNATURE");
      expect(stale.body.message).toMatch(/5 minutes/);
    }
    for (const skew of [-299, 0, 299])
      expect((await deliver(body, { timestamp: String(now + skew) })).status).toBe(200);
  });

  test("503 NOT_CONFIGURED while SLACK_SIGNING_SECRET is unset", async () => {
    vi.stubEnv("SLACK_SIGNING_SECRET", "");
    expectError(await deliver({ type: "url_verification", challenge: "c" }), 503, "NOT_CONFIGURED");
  });
});

describe("event_callback", () => {
  test("is ingested for the bound workspace; Slack's retries of one event_id are duplicates", async () => {
    const { workspaceId } = await boundWorkspace();
    const first = await deliver(messageEvent("Ev0001"));
    expect(first.body).toEqual({
      ok: true,
      eventId: expect.any(String),
      duplicate: false,
      triggeredRunTriggerIds: [],
      contextItemId: expect.any(String),
    });
    const retry = await deliver(messageEvent("Ev0001"), {
      headers: { "x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout" },
    });
    expect(retry.body).toMatchObject({ ok: true, eventId: first.body.eventId, duplicate: true });
    const next = await deliver(messageEvent("Ev0002"));
    expect(next.body).toMatchObject({ duplicate: false });
    expect(next.body.eventId).not.toBe(first.body.eventId);

    expect(await eventDoc(t, first.body.eventId)).toMatchObject({
      workspaceId,
      source: "slack",
      eventType: "message",
      idempotencyKey: "slack:Ev0001",
      occurredAt: 1_771_063_200_000,
      text: "Deploy is broken on staging",
    });
    expect(await itemDoc(t, first.body.contextItemId)).toMatchObject({
      source: "slack",
      kind: "slack_message",
      externalId: "C0GENERAL:1771063200.000100",
      text: "Deploy is broken on staging",
    });
  });

  test("a team bound to no workspace is acknowledged and nothing is stored", async () => {
    await boundWorkspace();
    const response = await deliver(messageEvent("Ev0003", "T0STRANGER"));
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ ok: true, ignored: "TEAM_NOT_BOUND", eventId: null });
    expect(await t.run((ctx) => ctx.db.query("integrationEvents").collect())).toEqual([]);
  });

  test("other payload types are acknowledged as ignored", async () => {
    const response = await deliver({ type: "app_rate_limited", team_id: "T0ACME", minute_rate_limited: 1 });
    expect(response.body).toEqual({ ok: true, ignored: "app_rate_limited" });
  });
});

describe("Console bindings", () => {
  test("admins bind a team to one workspace only; members cannot", async () => {
    const acme = await boundWorkspace();
    const other = await workspaceWithMember(t, "other");
    const otherAdmin = t.withIdentity(other.owner.identity);
    await expect(
      otherAdmin.mutation(api.slack.bindTeam, { workspaceId: other.workspaceId, teamId: "T0ACME" }),
    ).rejects.toThrow(/another workspace/);
    await expect(
      t
        .withIdentity(acme.member.identity)
        .mutation(api.slack.bindTeam, { workspaceId: acme.workspaceId, teamId: "T0NEW" }),
    ).rejects.toThrow(/admin/);
    await expect(
      otherAdmin.mutation(api.slack.bindTeam, { workspaceId: other.workspaceId, teamId: "not a team" }),
    ).rejects.toThrow(/Slack team id/);
    const admin = t.withIdentity(acme.owner.identity);
    expect(await admin.query(api.slack.listBindings, { workspaceId: acme.workspaceId })).toEqual([
      expect.objectContaining({ teamId: "T0ACME", workspaceId: acme.workspaceId }),
    ]);
    await admin.mutation(api.slack.unbindTeam, { workspaceId: acme.workspaceId, teamId: "T0ACME" });
    expect((await deliver(messageEvent("Ev0004"))).body).toMatchObject({ ignored: "TEAM_NOT_BOUND" });
    await otherAdmin.mutation(api.slack.bindTeam, { workspaceId: other.workspaceId, teamId: "T0ACME" });
    expect((await deliver(messageEvent("Ev0004"))).body).toMatchObject({ duplicate: false });
  });
});
