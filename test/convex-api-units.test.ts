// @vitest-environment node
/**
 * Pure pieces of local mode's Convex client surface: the sync protocol's timestamp encoding and
 * message parsing, function paths, the `json` value format, and JWT verification against an
 * auth config (signature, issuer, audience, expiry) with the identity Convex derives.
 */
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { describe, expect, test } from "vitest";
import { canonicalPath, exportClean } from "../scripts/local/convexApi/functions";
import { AuthFailure, createIdentityVerifier } from "../scripts/local/convexApi/identity";
import { decodeTs, encodeTs, parseClientMessage, ProtocolError } from "../scripts/local/convexApi/protocol";

describe("timestamps", () => {
  test("encode as the client's longToU64 does (8 little-endian bytes, base64) and round-trip", () => {
    const ts = 1_796_168_822_196_000_001n;
    const littleEndian = Array.from({ length: 8 }, (_, i) => Number((ts >> BigInt(8 * i)) & 0xffn));
    const clientEncoding = btoa(String.fromCharCode(...littleEndian));
    expect(encodeTs(ts)).toBe(clientEncoding);
    expect(decodeTs(encodeTs(ts))).toBe(ts);
    expect(encodeTs(1n)).toBe("AQAAAAAAAAA=");
    expect(() => decodeTs("AQID")).toThrow(ProtocolError);
  });
});

describe("client messages", () => {
  test("a well-formed ModifyQuerySet parses; journals may be null", () => {
    const message = parseClientMessage(
      JSON.stringify({
        type: "ModifyQuerySet",
        baseVersion: 0,
        newVersion: 1,
        modifications: [
          { type: "Add", queryId: 0, udfPath: "a:b", args: [{}], journal: null },
          { type: "Remove", queryId: 3 },
        ],
      }),
    );
    expect(message.type).toBe("ModifyQuerySet");
  });

  test.each([
    ["not JSON", "{", /invalid JSON/],
    ["no type", "{}", /without a string `type`/],
    ["an array", "[1]", /without a string `type`/],
    ["an unknown type", '{"type":"Query"}', /Unknown client message type "Query"/],
    ["a prototype key as type", '{"type":"toString"}', /Unknown client message type "toString"/],
    [
      "a negative query id",
      '{"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[{"type":"Remove","queryId":-1}]}',
      /modifications\.0\.queryId/,
    ],
    ["an unknown token type", '{"type":"Authenticate","tokenType":"Magic","baseVersion":0}', /Malformed Authenticate/],
  ])("%s is a ProtocolError naming the problem", (_name, text, expected) => {
    expect(() => parseClientMessage(text)).toThrow(expected);
    expect(() => parseClientMessage(text)).toThrow(ProtocolError);
  });
});

describe("function paths", () => {
  test.each([
    ["workspaces:listMine", "workspaces:listMine"],
    ["workspaces.js:listMine", "workspaces:listMine"],
    ["api/nested:fn", "api/nested:fn"],
    ["messages", "messages:default"],
    ["_generated/api:api", null],
    ["../secrets:x", null],
    ["a:b:c", null],
    ["a:1x", null],
    ["a/_private:x", null],
  ])("%s → %s", (path, expected) => {
    expect(canonicalPath(path)).toBe(expected);
  });
});

test("the json format: int64 as decimal strings, bytes as base64, special floats as names", () => {
  const bytes = new Uint8Array([0, 16, 131]).buffer;
  expect(exportClean({ n: 42n, b: bytes, f: Number.NaN, i: -Infinity, x: [1.5, "s", null, true] })).toEqual({
    n: "42",
    b: "ABCD",
    f: "NaN",
    i: "-Infinity",
    x: [1.5, "s", null, true],
  });
});

describe("JWT verification", async () => {
  const issuer = "http://127.0.0.1:3211";
  const { privateKey, publicKey } = await generateKeyPair("RS256");
  const jwks = { keys: [{ use: "sig", ...(await exportJWK(publicKey)) }] };
  const fetched: string[] = [];
  const verify = createIdentityVerifier(
    async () => ({ providers: [{ domain: issuer, applicationID: "convex" }] }),
    async (url) => {
      fetched.push(url);
      return url.endsWith("/openid-configuration") ? { jwks_uri: `${issuer}/.well-known/jwks.json` } : jwks;
    },
  );
  const now = Math.floor(Date.now() / 1000);
  const sign = (claims: Record<string, unknown>, options: { iss?: string; aud?: string; exp?: number } = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "RS256" })
      .setIssuedAt(now - 10)
      .setIssuer(options.iss ?? issuer)
      .setAudience(options.aud ?? "convex")
      .setExpirationTime(options.exp ?? now + 3600)
      .sign(privateKey);

  test("a valid token gives the identity Convex derives: standard claims renamed, custom ones kept", async () => {
    const token = await sign({
      sub: "user|session",
      email: "ada@example.com",
      email_verified: true,
      given_name: "Ada",
      team: "lab",
    });
    const verified = await verify(token);
    expect(verified.identity).toEqual({
      tokenIdentifier: `${issuer}|user|session`,
      subject: "user|session",
      issuer,
      email: "ada@example.com",
      emailVerified: true,
      givenName: "Ada",
      team: "lab",
    });
    expect(verified.expiresAt).toBe((now + 3600) * 1000);
    expect(fetched).toEqual([`${issuer}/.well-known/openid-configuration`, `${issuer}/.well-known/jwks.json`]);
    await verify(token);
    expect(fetched).toHaveLength(2); // keys are kept
  });

  test.each([
    ["expired", { exp: now - 1 }, "EXPIRED_TOKEN", /Token expired/],
    ["another issuer", { iss: "https://elsewhere.example" }, "INVALID_TOKEN", /No auth provider found/],
    ["another audience", { aud: "not-convex" }, "INVALID_TOKEN", /No auth provider found/],
  ])("%s is refused", async (_name, options, code, message) => {
    const failure = await verify(await sign({ sub: "user|session" }, options)).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(AuthFailure);
    expect(failure).toMatchObject({ code });
    expect((failure as Error).message).toMatch(message);
  });

  test("a token signed by another key, or without sub, or not a JWT, is refused", async () => {
    const other = await generateKeyPair("RS256");
    const forged = await new SignJWT({ sub: "user|session" })
      .setProtectedHeader({ alg: "RS256" })
      .setIssuer(issuer)
      .setAudience("convex")
      .setExpirationTime(now + 60)
      .sign(other.privateKey);
    await expect(verify(forged)).rejects.toMatchObject({ code: "INVALID_TOKEN" });
    await expect(verify(await sign({}))).rejects.toThrow(/no `sub`/);
    await expect(verify("abc.def")).rejects.toThrow(/not a JWT/);
  });
});
