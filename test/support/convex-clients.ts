/**
 * The official `convex` clients against a spawned local server (test/support/local-process.ts):
 * sign-up through @convex-dev/auth, WebSocket clients on the `ws` package, waiting for a
 * subscription to reach a value, and JWTs signed with the server's own key (expired ones).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import type { FunctionArgs, FunctionReference, FunctionReturnType } from "convex/server";
import { decodeJwt, importPKCS8, SignJWT } from "jose";
import WebSocket from "ws";
import { api } from "../../convex/_generated/api";
import { parseDotEnv } from "../../scripts/local/env";
import type { LocalProcess } from "./local-process";

export const PASSWORD = "correct horse battery staple";

export type Session = { email: string; token: string; refreshToken: string; userId: string };

/** Signs up (Password provider, `flow: "signUp"`) with the unmodified HTTP client. */
export async function signUp(server: LocalProcess, email: string): Promise<Session> {
  const http = new ConvexHttpClient(server.baseUrl, { logger: false });
  const result = await http.action(api.auth.signIn, {
    provider: "password",
    params: { email, password: PASSWORD, flow: "signUp" },
  });
  if (!result.tokens) throw new Error(`sign-up of ${email} returned no tokens: ${JSON.stringify(result)}`);
  return { email, ...result.tokens, userId: decodeJwt(result.tokens.token).sub!.split("|")[0]! };
}

export function httpClient(server: LocalProcess, token?: string): ConvexHttpClient {
  return new ConvexHttpClient(server.baseUrl, { logger: false, ...(token ? { auth: token } : {}) });
}

/** A ConvexClient over a real WebSocket (Node has none built in that the client accepts). */
export function wsClient(server: LocalProcess, token?: string): ConvexClient {
  const client = new ConvexClient(server.baseUrl, {
    webSocketConstructor: WebSocket as unknown as typeof globalThis.WebSocket,
    logger: false,
  });
  if (token !== undefined) client.setAuth(async () => token);
  return client;
}

/**
 * Subscribes and resolves with the first value that satisfies `accept` (rejects on a query
 * error or after `timeoutMs`). `values` collects every value seen, for assertions on the way.
 */
export function waitForValue<Query extends FunctionReference<"query">>(
  client: ConvexClient,
  query: Query,
  args: FunctionArgs<Query>,
  accept: (value: FunctionReturnType<Query>) => boolean,
  timeoutMs = 20_000,
): Promise<{ value: FunctionReturnType<Query>; values: FunctionReturnType<Query>[] }> {
  const values: FunctionReturnType<Query>[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(
        new Error(`no accepted value within ${timeoutMs} ms; last: ${JSON.stringify(values.at(-1))?.slice(0, 500)}`),
      );
    }, timeoutMs);
    const unsubscribe = client.onUpdate(
      query,
      args,
      (value) => {
        values.push(value);
        if (!accept(value)) return;
        clearTimeout(timer);
        unsubscribe();
        resolve({ value, values });
      },
      (error) => {
        clearTimeout(timer);
        unsubscribe();
        reject(error);
      },
    );
  });
}

/**
 * `onPaginatedUpdate_experimental` (the client's page-splitting paginated query, the same
 * protocol use as `usePaginatedQuery`) with args minus `paginationOpts`, as the client takes them.
 */
export function onPaginated<Query extends FunctionReference<"query">>(
  client: ConvexClient,
  query: Query,
  args: Omit<FunctionArgs<Query>, "paginationOpts">,
  initialNumItems: number,
  callback: (result: { results: any[]; status: string; loadMore: (numItems: number) => boolean }) => void,
) {
  return client.onPaginatedUpdate_experimental(query, args as FunctionArgs<Query>, { initialNumItems }, (result) =>
    callback(result as unknown as Parameters<typeof callback>[0]),
  );
}

/** The variables the server generated into its `.env.local` (keys, issuer). */
export function serverEnv(server: LocalProcess): Record<string, string> {
  return parseDotEnv(readFileSync(join(server.cwd, ".env.local"), "utf8"));
}

/** A JWT like the ones @convex-dev/auth issues, signed with the server's key, with chosen times. */
export async function signedToken(
  server: LocalProcess,
  claims: { sub: string; iat: number; exp: number; iss?: string; aud?: string },
  privateKey = serverEnv(server).JWT_PRIVATE_KEY!,
): Promise<string> {
  const env = serverEnv(server);
  return await new SignJWT({ sub: claims.sub })
    .setProtectedHeader({ alg: "RS256" })
    .setIssuedAt(claims.iat)
    .setIssuer(claims.iss ?? env.CONVEX_SITE_URL!)
    .setAudience(claims.aud ?? "convex")
    .setExpirationTime(claims.exp)
    .sign(await importPKCS8(privateKey, "RS256"));
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Polls `check` until it holds (for state outside a subscription). */
export async function eventually(check: () => boolean, timeoutMs = 20_000, what = "condition") {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} did not hold within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
