/** The HTTP layer (SPEC §2, §3): envelope, status codes, size limit, auth variants, CORS. */
import { describe, expect, test, vi } from "vitest";
import { useFreshConvex, post } from "./support/harness";
import { SERVICE_TOKEN, deviceToken, workspaceWithMember } from "./support/fixtures";
import { expectError } from "./support/api";
import { secretSharingDigestPrefix } from "./support/secrets";

const RESOLVE = "/control-plane/v1/workspaces/resolve";
const REVOKE = "/control-plane/v1/auth/token/revoke";

const t = useFreshConvex({ IAS_DEV_ALLOW_UNAUTH: "" });

describe("routing", () => {
  test("health answers {ok:true} without a token", async () => {
    const response = await t.fetch("/control-plane/health");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
  });

  test("unknown path is 404 ROUTE_NOT_FOUND, wrong method is 405 with Allow", async () => {
    expectError(await post(t, "/control-plane/v1/nothing-here", {}), 404, "ROUTE_NOT_FOUND");
    const get = await t.fetch(RESOLVE, { method: "GET" });
    expect(get.status).toBe(405);
    expect((await get.json()).error).toBe("METHOD_NOT_ALLOWED");
    expect(get.headers.get("allow")).toContain("POST");
    const postHealth = await post(t, "/control-plane/health", {});
    expectError(postHealth, 405, "METHOD_NOT_ALLOWED");
  });

  test("CORS preflight is answered and responses expose x-request-id", async () => {
    const preflight = await t.fetch(RESOLVE, {
      method: "OPTIONS",
      headers: { origin: "https://console.example", "access-control-request-method": "POST" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
    expect(preflight.headers.get("access-control-allow-headers")).toContain("authorization");
    const health = await t.fetch("/control-plane/health");
    expect(health.headers.get("access-control-expose-headers")).toContain("x-request-id");
  });

  test("x-request-id is echoed when sent and generated otherwise, also on errors", async () => {
    const echoed = await post(
      t,
      RESOLVE,
      { slug: "x" },
      { token: SERVICE_TOKEN, headers: { "x-request-id": "req-123" } },
    );
    expect(echoed.headers.get("x-request-id")).toBe("req-123");
    const generated = await post(t, RESOLVE, "{", { token: SERVICE_TOKEN });
    expect(generated.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const notFound = await post(t, "/nope", {}, { headers: { "x-request-id": "abc" } });
    expect(notFound.headers.get("x-request-id")).toBe("abc");
  });
});

describe("bodies", () => {
  test("a 262,144-byte body is accepted and 262,145 bytes is 413 REQUEST_TOO_LARGE", async () => {
    const base = JSON.stringify({ slug: "local", pad: "" });
    const exact = JSON.stringify({ slug: "local", pad: "x".repeat(262_144 - base.length) });
    expect(new TextEncoder().encode(exact).byteLength).toBe(262_144);
    const accepted = await post(t, RESOLVE, exact, { token: SERVICE_TOKEN });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toEqual({ ok: true, workspaceId: null, workspace: null });

    const over = exact.replace('"pad":"', '"pad":"y');
    expect(new TextEncoder().encode(over).byteLength).toBe(262_145);
    expectError(await post(t, RESOLVE, over, { token: SERVICE_TOKEN }), 413, "REQUEST_TOO_LARGE");
  });

  test("the size limit applies before authentication and to streamed bodies without length", async () => {
    const huge = "x".repeat(300_000);
    expectError(await post(t, RESOLVE, huge), 413, "REQUEST_TOO_LARGE");
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 5; i++) controller.enqueue(new Uint8Array(60_000).fill(32));
        controller.close();
      },
    });
    const response = await t.fetch(RESOLVE, { method: "POST", body: stream, duplex: "half" } as RequestInit);
    expect(response.status).toBe(413);
    expect((await response.json()).error).toBe("REQUEST_TOO_LARGE");
  });

  test("malformed JSON is 400 INVALID_JSON, before authentication", async () => {
    expectError(await post(t, RESOLVE, "{not json", { token: SERVICE_TOKEN }), 400, "INVALID_JSON");
    expectError(await post(t, RESOLVE, "{not json"), 400, "INVALID_JSON");
    const invalidUtf8 = await t.fetch(RESOLVE, {
      method: "POST",
      headers: { authorization: `Bearer ${SERVICE_TOKEN}` },
      body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]),
    });
    expect(invalidUtf8.status).toBe(400);
    expect((await invalidUtf8.json()).error).toBe("INVALID_JSON");
  });

  test("schema violations are 400 INVALID_REQUEST with issues; unknown fields are ignored", async () => {
    const missing = await post(t, RESOLVE, {}, { token: SERVICE_TOKEN });
    expectError(missing, 400, "INVALID_REQUEST");
    expect(missing.body.issues).toEqual([{ path: "slug", message: expect.any(String) }]);

    const wrongType = await post(t, RESOLVE, { slug: 42 }, { token: SERVICE_TOKEN });
    expectError(wrongType, 400, "INVALID_REQUEST");
    expect(wrongType.body.issues[0].path).toBe("slug");

    for (const body of ["[]", "null", "7", '"text"']) {
      expectError(await post(t, RESOLVE, body, { token: SERVICE_TOKEN }), 400, "INVALID_REQUEST");
    }
    const extra = await post(t, RESOLVE, { slug: "x", futureField: { nested: true } }, { token: SERVICE_TOKEN });
    expect(extra.status).toBe(200);
  });

  test("a string with an unpaired surrogate escape is 400 naming its path; paired ones are fine", async () => {
    const lone = await post(t, RESOLVE, '{"slug":"a","extra":{"list":["ok","\\ud800"]}}', { token: SERVICE_TOKEN });
    expectError(lone, 400, "INVALID_REQUEST");
    expect(lone.body.issues).toEqual([{ path: "extra.list.1", message: expect.stringMatching(/surrogate/) }]);
    const key = await post(t, RESOLVE, '{"slug":"a","\\udc00":1}', { token: SERVICE_TOKEN });
    expectError(key, 400, "INVALID_REQUEST");
    const paired = await post(t, RESOLVE, '{"slug":"\\ud83d\\ude42"}', { token: SERVICE_TOKEN });
    expect(paired.status).toBe(200);
  });

  test("no input produces a 500 or a stack trace", async () => {
    const inputs = ["", "{}", '{"slug":null}', "\u0000", '{"slug":"' + "a".repeat(70) + '"}', "[[[[[[[[]]]]]]]]"];
    for (const input of inputs) {
      const response = await post(t, RESOLVE, input, { token: SERVICE_TOKEN });
      expect(response.status).toBeLessThan(500);
      expect(JSON.stringify(response.body)).not.toMatch(/at .*\.ts:\d+/);
    }
  });
});

describe("authentication", () => {
  test("a guess of the service token whose digest shares its first byte is an unknown token", async () => {
    const guess = await secretSharingDigestPrefix(SERVICE_TOKEN);
    expectError(await post(t, RESOLVE, { slug: "x" }, { token: guess }), 401, "INVALID_TOKEN");
  });

  test("missing, malformed, unknown tokens are 401 with distinct codes", async () => {
    expectError(await post(t, RESOLVE, { slug: "x" }), 401, "MISSING_TOKEN");
    expectError(
      await post(t, RESOLVE, { slug: "x" }, { headers: { authorization: "Basic abc" } }),
      401,
      "INVALID_TOKEN",
    );
    expectError(await post(t, RESOLVE, { slug: "x" }, { headers: { authorization: "Bearer" } }), 401, "INVALID_TOKEN");
    expectError(await post(t, RESOLVE, { slug: "x" }, { token: "ias_unknown" }), 401, "INVALID_TOKEN");
  });

  test("an expired token is 401 EXPIRED_TOKEN and a revoked one 401 INVALID_TOKEN", async () => {
    const { workspaceId, member } = await workspaceWithMember(t, "acme");
    const expired = await deviceToken(t, workspaceId, member, { expiresAt: Date.now() - 1 });
    expectError(await post(t, RESOLVE, { slug: "acme" }, { token: expired.token }), 401, "EXPIRED_TOKEN");
    const revoked = await deviceToken(t, workspaceId, member, { revokedAt: Date.now() - 1 });
    const response = await post(t, RESOLVE, { slug: "acme" }, { token: revoked.token });
    expectError(response, 401, "INVALID_TOKEN");
    expect(response.body.message).toMatch(/revoked/);
  });

  test("a token works until the millisecond before expiresAt and is expired at it", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: 1_700_000_000_000 });
    const { workspaceId, member } = await workspaceWithMember(t, "acme");
    const expiresAt = Date.now() + 60_000;
    const { token } = await deviceToken(t, workspaceId, member, { expiresAt });
    vi.setSystemTime(expiresAt - 1);
    expect((await post(t, RESOLVE, { slug: "acme" }, { token })).status).toBe(200);
    vi.setSystemTime(expiresAt);
    expectError(await post(t, RESOLVE, { slug: "acme" }, { token }), 401, "EXPIRED_TOKEN");
  });

  test("error messages never echo the token", async () => {
    const secret = "ias_this_is_a_secret_that_must_not_leak_123456";
    const response = await post(t, RESOLVE, { slug: "x" }, { token: secret });
    expect(JSON.stringify(response.body)).not.toContain(secret);
    expect(JSON.stringify(response.body)).not.toContain("secret_that");
  });

  test("dev unauth: only the exact value `true` lets a token-less request in", async () => {
    for (const value of ["1", "TRUE", "yes", " true", ""]) {
      vi.stubEnv("IAS_DEV_ALLOW_UNAUTH", value);
      expectError(await post(t, RESOLVE, { slug: "x" }), 401, "MISSING_TOKEN");
    }
    vi.stubEnv("IAS_DEV_ALLOW_UNAUTH", "true");
    const { workspaceId } = await workspaceWithMember(t, "devws");
    const allowed = await post(t, RESOLVE, { slug: "devws" });
    expect(allowed.status).toBe(200);
    expect(allowed.body.workspaceId).toBe(workspaceId);
    // A request that does send a token is still checked.
    expectError(await post(t, RESOLVE, { slug: "devws" }, { token: "ias_wrong" }), 401, "INVALID_TOKEN");
  });

  test("without the env service token configured, a guess of it is just an unknown token", async () => {
    vi.stubEnv("IAS_CONTROL_PLANE_SERVICE_TOKEN", "");
    expectError(await post(t, RESOLVE, { slug: "x" }, { token: SERVICE_TOKEN }), 401, "INVALID_TOKEN");
  });

  test("lastUsedAt is written at most once a minute", async () => {
    const { token, tokenId } = await workspaceWithMember(t, "acme");
    const lastUsed = () => t.run(async (ctx) => (await ctx.db.get(tokenId))!.lastUsedAt);
    await post(t, RESOLVE, { slug: "acme" }, { token });
    const first = await lastUsed();
    expect(first).toBeTypeOf("number");
    await post(t, RESOLVE, { slug: "acme" }, { token });
    expect(await lastUsed()).toBe(first);
    await t.run((ctx) => ctx.db.patch(tokenId, { lastUsedAt: first! - 61_000 }));
    await post(t, RESOLVE, { slug: "acme" }, { token });
    expect(await lastUsed()).toBeGreaterThanOrEqual(first!);
  });
});

describe("workspace resolve", () => {
  test("own slug resolves; foreign and missing slugs answer the same null", async () => {
    const acme = await workspaceWithMember(t, "acme");
    const other = await workspaceWithMember(t, "other");

    const own = await post(t, RESOLVE, { slug: "acme" }, { token: acme.token });
    expect(own.status).toBe(200);
    expect(own.body).toEqual({
      ok: true,
      workspaceId: acme.workspaceId,
      workspace: { _id: acme.workspaceId, slug: "acme", name: "acme" },
    });
    const foreign = await post(t, RESOLVE, { slug: "other" }, { token: acme.token });
    const missing = await post(t, RESOLVE, { slug: "missing" }, { token: acme.token });
    expect(foreign.status).toBe(200);
    expect(foreign.body).toEqual({ ok: true, workspaceId: null, workspace: null });
    expect(missing.body).toEqual(foreign.body);
    expect(other.workspaceId).not.toBe(acme.workspaceId);
  });

  test("the service token sees every workspace", async () => {
    const acme = await workspaceWithMember(t, "acme");
    const other = await workspaceWithMember(t, "other");
    for (const [slug, id] of [
      ["acme", acme.workspaceId],
      ["other", other.workspaceId],
    ] as const) {
      const response = await post(t, RESOLVE, { slug }, { token: SERVICE_TOKEN });
      expect(response.body.workspaceId).toBe(id);
    }
    expect((await post(t, RESOLVE, { slug: "missing" }, { token: SERVICE_TOKEN })).body.workspaceId).toBeNull();
  });

  test("a removed member's token no longer sees the workspace", async () => {
    const acme = await workspaceWithMember(t, "acme", "member");
    await t.run(async (ctx) => {
      const memberships = await ctx.db.query("memberships").collect();
      for (const m of memberships) if (m.userId === acme.member.userId) await ctx.db.delete(m._id);
    });
    const response = await post(t, RESOLVE, { slug: "acme" }, { token: acme.token });
    expect(response.body).toEqual({ ok: true, workspaceId: null, workspace: null });
  });
});

describe("token revoke", () => {
  test("revokes the bearer token used; it is refused afterwards", async () => {
    const { token } = await workspaceWithMember(t, "acme");
    const revoked = await post(t, REVOKE, {}, { token });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toEqual({ ok: true, revoked: true });
    expectError(await post(t, RESOLVE, { slug: "acme" }, { token }), 401, "INVALID_TOKEN");
    expectError(await post(t, REVOKE, {}, { token }), 401, "INVALID_TOKEN");
  });

  test("a bare POST without a body works; the env service token cannot be revoked here", async () => {
    const { token } = await workspaceWithMember(t, "acme");
    const bare = await t.fetch(REVOKE, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    expect(bare.status).toBe(200);
    const service = await post(t, REVOKE, {}, { token: SERVICE_TOKEN });
    expectError(service, 400, "INVALID_REQUEST");
  });
});
