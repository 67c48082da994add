// @vitest-environment node
/**
 * Local mode's Convex HTTP API with the unmodified `ConvexHttpClient` (and plain fetch) over a
 * real socket: Console sign-up and sign-in (@convex-dev/auth), Console functions, ConvexError
 * data, the generated sign-in keys, bad tokens and bad requests.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { ConvexError } from "convex/values";
import { exportPKCS8, generateKeyPair, importJWK, jwtVerify } from "jose";
import { generateAuthKeys } from "../../scripts/auth-keys";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import {
  httpClient,
  nowSeconds,
  PASSWORD,
  serverEnv,
  signedToken,
  signUp,
  type Session,
} from "../support/convex-clients";
import { localServerPool, removeTempDirs, runLocalServerToExit, type LocalProcess } from "../support/local-process";

const servers = localServerPool();
let server: LocalProcess;
let ada: Session;
beforeAll(async () => {
  server = await servers.start();
  ada = await signUp(server, "ada@example.com");
});
afterAll(async () => {
  await servers.killAll();
  removeTempDirs();
});

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, any> };
}

async function rejection(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("first start", () => {
  test("generates the sign-in keys and issuer into .env.local, readable by its owner only", () => {
    const env = serverEnv(server);
    expect(env.JWT_PRIVATE_KEY).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(JSON.parse(env.JWKS!).keys[0]).toMatchObject({ kty: "RSA", use: "sig" });
    expect(env.SITE_URL).toBe("http://localhost:5173");
    expect(env.CONVEX_SITE_URL).toBe(server.baseUrl);
    expect(statSync(join(server.cwd, ".env.local")).mode & 0o777).toBe(0o600);
    expect(server.output()).not.toContain(env.JWT_PRIVATE_KEY!.slice(40, 80));
  });
});

describe("sign-in keys from the shell", () => {
  test("a pair set in the shell wins: nothing is generated and tokens are signed with it", async () => {
    const keys = await generateAuthKeys();
    const shell = await servers.start({ env: { JWT_PRIVATE_KEY: keys.JWT_PRIVATE_KEY, JWKS: keys.JWKS } });
    expect(serverEnv(shell).JWT_PRIVATE_KEY).toBeUndefined();
    const grace = await signUp(shell, "grace@example.com");
    const publicKey = await importJWK(JSON.parse(keys.JWKS).keys[0], "RS256");
    await expect(
      jwtVerify(grace.token, publicKey, { issuer: shell.baseUrl, audience: "convex" }),
    ).resolves.toBeDefined();
    // The first person to sign up in local mode is an owner of workspace local.
    const workspaces = await httpClient(shell, grace.token).query(api.workspaces.listMine, {});
    expect(workspaces.map((w) => [w.slug, w.role])).toEqual([["local", "owner"]]);
  });

  test("half a pair stops the start with a clear message", async () => {
    const keys = await generateAuthKeys();
    const { code, output } = await runLocalServerToExit({ env: { JWT_PRIVATE_KEY: keys.JWT_PRIVATE_KEY } });
    expect(code).toBe(1);
    expect(output).toContain("JWT_PRIVATE_KEY is set but JWKS is not");
    expect(output).not.toContain(keys.JWT_PRIVATE_KEY.slice(40, 80));
  });
});

describe("ConvexHttpClient", () => {
  test("sign up via auth:signIn, create a workspace, listMine", async () => {
    const http = httpClient(server, ada.token);
    // Read first, so a cached result exists that the mutation must make stale (read your writes).
    // Ada signed up first, so local mode made her an owner of workspace local.
    expect((await http.query(api.workspaces.listMine, {})).map((w) => w.slug)).toEqual(["local"]);
    const workspaceId = await http.mutation(api.workspaces.create, { slug: "ada-lab", name: "Ada's lab" });
    expect(await http.query(api.workspaces.listMine, {})).toEqual([
      expect.objectContaining({ slug: "local", role: "owner" }),
      expect.objectContaining({ _id: workspaceId, slug: "ada-lab", role: "owner" }),
    ]);
  });

  test("a Console error's {code, message} arrives as ConvexError data", async () => {
    const http = httpClient(server, ada.token);
    await http.mutation(api.workspaces.create, { slug: "taken", name: "First" });
    const conflict = await rejection(http.mutation(api.workspaces.create, { slug: "taken", name: "Second" }));
    expect(conflict).toBeInstanceOf(ConvexError);
    expect(conflict.data).toEqual({ code: "CONFLICT", message: 'The slug "taken" is taken.' });

    const invalid = await rejection(http.mutation(api.workspaces.create, { slug: "Not A Slug", name: "x" }));
    expect(invalid.data).toMatchObject({ code: "INVALID_REQUEST", issues: [{ path: "slug" }] });

    const anonymous = await rejection(httpClient(server).query(api.workspaces.listMine, {}));
    expect(anonymous.data).toEqual({ code: "UNAUTHENTICATED", message: "Sign in to use the Console." });
  });

  test("sign in again with the password; a wrong password is refused", async () => {
    const http = httpClient(server);
    const again = await http.action(api.auth.signIn, {
      provider: "password",
      params: { email: ada.email, password: PASSWORD, flow: "signIn" },
    });
    expect(again.tokens?.token).toEqual(expect.any(String));
    expect(await httpClient(server, again.tokens!.token).query(api.workspaces.listMine, {})).not.toHaveLength(0);
    const wrong = http.action(api.auth.signIn, {
      provider: "password",
      params: { email: ada.email, password: "not the password", flow: "signIn" },
    });
    await expect(wrong).rejects.toThrow();
  });

  test("token refresh gives a working token; after auth:signOut the refresh token is dead", async () => {
    const grace = await signUp(server, "grace@example.com");
    const http = httpClient(server);
    const refreshed = await http.action(api.auth.signIn, { refreshToken: grace.refreshToken });
    expect(refreshed.tokens?.token).toEqual(expect.any(String));
    const asGrace = httpClient(server, refreshed.tokens!.token);
    await asGrace.mutation(api.workspaces.create, { slug: "grace-lab", name: "Grace" });
    expect((await asGrace.query(api.workspaces.listMine, {})).map((w) => w.slug)).toEqual(["grace-lab"]);

    await asGrace.action(api.auth.signOut, {});
    const afterSignOut = await http.action(api.auth.signIn, { refreshToken: refreshed.tokens!.refreshToken });
    expect(afterSignOut.tokens ?? null).toBeNull();
  });

  test("functions see the verified identity: another user's token sees only their workspaces", async () => {
    const linus = await signUp(server, "linus@example.com");
    expect(await httpClient(server, linus.token).query(api.workspaces.listMine, {})).toEqual([]);
  });
});

describe("bad tokens", () => {
  test("expired, foreign-key, wrong-audience and garbage JWTs get 401 with a code; none runs the function", async () => {
    const sub = `${ada.userId}|session`;
    const expired = await signedToken(server, { sub, iat: nowSeconds() - 7200, exp: nowSeconds() - 3600 });
    const { privateKey } = await generateKeyPair("RS256", { extractable: true });
    const foreign = await signedToken(
      server,
      { sub, iat: nowSeconds(), exp: nowSeconds() + 3600 },
      await exportPKCS8(privateKey),
    );
    const wrongAudience = await signedToken(server, { sub, iat: nowSeconds(), exp: nowSeconds() + 3600, aud: "other" });
    const wrongIssuer = await signedToken(server, {
      sub,
      iat: nowSeconds(),
      exp: nowSeconds() + 3600,
      iss: "https://evil.example",
    });
    const cases: Array<[string, string]> = [
      [expired, "EXPIRED_TOKEN"],
      [foreign, "INVALID_TOKEN"],
      [wrongAudience, "INVALID_TOKEN"],
      [wrongIssuer, "INVALID_TOKEN"],
      ["not-a-jwt", "INVALID_TOKEN"],
    ];
    for (const [token, code] of cases) {
      const answer = await post(
        "/api/mutation",
        { path: "workspaces:create", args: { slug: `never-${code.length}`, name: "x" }, format: "convex_encoded_json" },
        { authorization: `Bearer ${token}` },
      );
      expect(answer.status, token.slice(0, 20)).toBe(401);
      expect(answer.body.code).toBe(code);
      expect(answer.body.message).not.toContain(token);
    }
    const lab = await httpClient(server, ada.token).query(api.workspaces.listMine, {});
    expect(lab.map((w) => w.slug)).not.toContain("never-13");
    // The official client surfaces the 401 body as its error message.
    await expect(httpClient(server, expired).query(api.workspaces.listMine, {})).rejects.toThrow(/EXPIRED_TOKEN/);
  });
});

describe("plain fetch callers and malformed requests", () => {
  test("format json, /api/run/<module>/<name>, and CORS for a Console on another origin", async () => {
    const auth = { authorization: `Bearer ${ada.token}` };
    const query = await post("/api/query", { path: "workspaces:listMine", args: {}, format: "json" }, auth);
    expect(query.status).toBe(200);
    expect(query.body).toMatchObject({
      status: "success",
      value: expect.arrayContaining([expect.objectContaining({ slug: "ada-lab" })]),
    });
    expect(query.headers.get("access-control-allow-origin")).toBe("*");
    const run = await post("/api/run/workspaces/listMine", { args: {} }, auth);
    expect(run.body.value).toEqual(query.body.value);

    const preflight = await fetch(`${server.baseUrl}/api/mutation`, {
      method: "OPTIONS",
      headers: { origin: "http://localhost:5173", "access-control-request-headers": "authorization,content-type" },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-headers")).toBe("authorization,content-type");
  });

  test("internal functions are as unknown as missing ones; the wrong kind says so", async () => {
    const internal = await post("/api/mutation", { path: "workspaces:ensureLocalWorkspace", args: { slug: "x" } });
    expect(internal.status).toBe(560);
    expect(internal.body).toMatchObject({
      status: "error",
      errorMessage: "Could not find public function for 'workspaces:ensureLocalWorkspace'.",
    });
    const missing = await post("/api/query", { path: "nope:nothing", args: {} });
    expect(missing.body.errorMessage).toBe("Could not find public function for 'nope:nothing'.");
    const kind = await post("/api/query", { path: "workspaces:create", args: {} });
    expect(kind.body.errorMessage).toBe("Trying to execute workspaces:create as Query, but it is defined as Mutation.");
    const generated = await post("/api/query", { path: "_generated/api:api", args: {} });
    expect(generated.status).toBe(400);
  });

  test("bad JSON, a bad shape, a bad format, a GET and an oversized body each get their code", async () => {
    expect((await post("/api/query", "{nope")).body.code).toBe("INVALID_JSON");
    expect((await post("/api/query", { path: 7, args: {} })).body).toMatchObject({ code: "INVALID_REQUEST" });
    expect((await post("/api/query", { path: "workspaces:listMine", args: {}, format: "xml" })).body.code).toBe(
      "INVALID_REQUEST",
    );
    const get = await fetch(`${server.baseUrl}/api/query`);
    expect([get.status, ((await get.json()) as { code: string }).code]).toEqual([405, "METHOD_NOT_ALLOWED"]);
    const huge = await post("/api/mutation", {
      path: "workspaces:create",
      args: { slug: "x", name: "y".repeat(17 * 1024 * 1024) },
    });
    expect([huge.status, huge.body.code]).toEqual([413, "REQUEST_TOO_LARGE"]);
    // The server is still fine afterwards.
    expect((await post("/api/query", { path: "workspaces:listMine", args: {} })).status).toBe(560);
  });

  test("@convex-dev/auth's discovery routes stay with the router", async () => {
    const discovery = await fetch(`${server.baseUrl}/.well-known/openid-configuration`);
    expect(((await discovery.json()) as { issuer: string }).issuer).toBe(server.baseUrl);
  });
});
