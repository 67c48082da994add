/**
 * SPEC §9b: `GET /control-plane/ready` answers 200 `{ok:true}` once the database answers, and 503
 * `NOT_READY` when it does not (simulated by making the readiness probe's database read throw).
 */
import { expect, test, vi } from "vitest";
import * as readiness from "../convex/readiness";
import { useFreshConvex } from "./support/harness";

const t = useFreshConvex();

test("ready answers 200 {ok:true} without a token while the database answers", async () => {
  const response = await t.fetch("/control-plane/ready");
  expect(response.status).toBe(200);
  expect(await response.json()).toEqual({ ok: true });
  expect(response.headers.get("x-request-id")).toEqual(expect.any(String));
  expect(response.headers.get("access-control-allow-origin")).toBe("*");
});

test("ready answers 503 NOT_READY when the database read fails, and 200 again once it answers", async () => {
  // The registered query's handler is what convex-test runs: make its database read fail.
  const probe = readiness.probe as unknown as { _handler: (ctx: unknown, args: unknown) => Promise<unknown> };
  const original = probe._handler;
  const spy = vi.spyOn(probe, "_handler").mockImplementation(async (ctx: any, args) => {
    ctx.db.query = () => {
      throw new Error("database unavailable");
    };
    return await original(ctx, args);
  });
  const down = await t.fetch("/control-plane/ready");
  expect(down.status).toBe(503);
  const body = (await down.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ ok: false, error: "NOT_READY", message: expect.any(String) });
  expect(JSON.stringify(body)).not.toContain("database unavailable");
  expect(spy).toHaveBeenCalled();

  spy.mockRestore();
  expect((await t.fetch("/control-plane/ready")).status).toBe(200);
});

test("health keeps answering 200 while the database is down: it checks only the HTTP layer", async () => {
  vi.spyOn(readiness.probe as unknown as { _handler: () => Promise<unknown> }, "_handler").mockRejectedValue(
    new Error("database unavailable"),
  );
  expect((await t.fetch("/control-plane/ready")).status).toBe(503);
  expect((await t.fetch("/control-plane/health")).status).toBe(200);
});
