/** Shared test set-up: a fresh in-process Convex per test and small helpers for the HTTP API. */
import { convexTest } from "convex-test";
import schema from "../convex/schema";

export const modules = import.meta.glob("../convex/**/*.*s");

export function newConvex() {
  return convexTest(schema, modules);
}
export type TestConvex = ReturnType<typeof newConvex>;

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
