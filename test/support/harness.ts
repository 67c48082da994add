/** Shared test set-up: a fresh in-process Convex per test and small helpers for the HTTP API. */
import { convexTest } from "convex-test";
import { afterEach, beforeEach, vi } from "vitest";
import schema from "../../convex/schema";
import { SERVICE_TOKEN } from "./fixtures";

export const modules = import.meta.glob("../../convex/**/*.*s");

/**
 * Convex's transaction limits (16 MiB read and written, 32,000 documents scanned, 4,096 index
 * ranges, 16,000 documents written, 1,000 scheduled functions) are enforced in every test, as on
 * a deployment (SPEC §6 "Production limits"); docs/deploying.md lists what convex-test cannot check.
 */
export const CONVEX_TEST_OPTIONS = { schema, modules, transactionLimits: true } as const;

export function newConvex() {
  return convexTest(CONVEX_TEST_OPTIONS);
}
export type TestConvex = ReturnType<typeof newConvex>;

/**
 * The usual start of a test: a fresh in-process Convex with the env service token (and `env`)
 * stubbed. Pair with `afterEach(resetTestEnvironment)`.
 */
export function freshConvex(env: Record<string, string> = {}): TestConvex {
  vi.stubEnv("IAS_CONTROL_PLANE_SERVICE_TOKEN", SERVICE_TOKEN);
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  return newConvex();
}

/** Undoes what a test may have changed: env stubs, fake timers, spies. */
export function resetTestEnvironment() {
  vi.useRealTimers();
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
}

/**
 * The preamble of a test file, written once: a fresh Convex before each test (`freshConvex(env)`,
 * `env` read per test when it is a function) and `resetTestEnvironment` after it. Returns the
 * running test's instance: a stand-in that forwards to the Convex of the current test, so test
 * bodies and helpers use it as they would the instance itself. Hooks registered after this call
 * (seeding a workspace) see the fresh instance.
 */
export function useFreshConvex(env: Record<string, string> | (() => Record<string, string>) = {}): TestConvex {
  let current: TestConvex | undefined;
  beforeEach(() => {
    current = freshConvex(typeof env === "function" ? env() : env);
  });
  afterEach(() => {
    current = undefined;
    resetTestEnvironment();
  });
  return new Proxy({} as TestConvex, {
    get(_target, property) {
      if (current === undefined)
        throw new Error("useFreshConvex: the instance exists only inside a test or its hooks.");
      const value = Reflect.get(current, property, current);
      return typeof value === "function" ? value.bind(current) : value;
    },
  });
}

export type Json = Record<string, any>;

/** POSTs a JSON body (or a raw string) to a route and returns status, headers and parsed body. */
export async function post(
  t: TestConvex,
  path: string,
  body: unknown,
  options: { token?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Json; headers: Headers }> {
  const headers: Record<string, string> = { "content-type": "application/json", ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const response = await t.fetch(path, {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Json, headers: response.headers };
}
