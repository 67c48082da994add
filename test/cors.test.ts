/**
 * CORS is decided per route in the route table (`cors`). A web page must not be able to start a
 * device login and read its `deviceSecret` (then send the person to the genuine approval page),
 * so device start and poll, the integration webhooks and the worker-only routes send no CORS
 * headers and their preflight is refused; routes a browser Console may call keep them.
 */
import { expect, test } from "vitest";
import { routes } from "../convex/api/routes";
import { SERVICE_TOKEN, workspaceWithMember } from "./support/fixtures";
import { useFreshConvex, post } from "./support/harness";

const ORIGIN = { origin: "https://evil.example" };

const t = useFreshConvex({ IAS_CONSOLE_URL: "https://console.example" });

test("a foreign Origin gets no CORS headers from device start: the page cannot read the deviceSecret", async () => {
  await workspaceWithMember(t, "acme");
  const started = await post(t, "/control-plane/v1/auth/device/start", { workspaceSlug: "acme" }, { headers: ORIGIN });
  expect(started.status).toBe(200);
  expect(started.body.deviceSecret).toEqual(expect.any(String));
  expect(started.headers.get("access-control-allow-origin")).toBeNull();

  const polled = await post(
    t,
    "/control-plane/v1/auth/device/poll",
    { deviceId: started.body.deviceId, deviceSecret: started.body.deviceSecret },
    { headers: ORIGIN },
  );
  expect(polled.body.status).toBe("pending");
  expect(polled.headers.get("access-control-allow-origin")).toBeNull();

  for (const path of ["/control-plane/v1/auth/device/start", "/control-plane/v1/auth/device/poll"]) {
    const preflight = await t.fetch(path, {
      method: "OPTIONS",
      headers: { ...ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    expect(preflight.headers.get("access-control-allow-origin"), path).toBeNull();
    expect(preflight.headers.get("access-control-allow-methods"), path).toBeNull();
  }
});

test("routes a browser Console calls keep CORS on answers, errors and preflight", async () => {
  const resolve = "/control-plane/v1/workspaces/resolve";
  const answered = await post(t, resolve, { slug: "nope" }, { token: SERVICE_TOKEN, headers: ORIGIN });
  expect(answered.headers.get("access-control-allow-origin")).toBe("*");
  expect(answered.headers.get("access-control-expose-headers")).toContain("x-request-id");
  const refused = await post(t, resolve, { slug: "nope" }, { headers: ORIGIN });
  expect(refused.status).toBe(401);
  expect(refused.headers.get("access-control-allow-origin")).toBe("*");
  const preflight = await t.fetch(resolve, {
    method: "OPTIONS",
    headers: { ...ORIGIN, "access-control-request-method": "POST" },
  });
  expect(preflight.headers.get("access-control-allow-headers")).toContain("authorization");
});

test("every route's answer carries CORS headers exactly when its row in the route table says so", async () => {
  expect(routes.filter((route) => route.cors).length).toBeGreaterThan(10);
  expect(routes.filter((route) => !route.cors).map((route) => route.path)).toEqual(
    expect.arrayContaining([
      "/control-plane/v1/auth/device/start",
      "/control-plane/v1/auth/device/poll",
      "/integrations/events/v1/ingest",
      "/control-plane/v1/jobs/claim-next",
    ]),
  );
  for (const route of routes) {
    const response = await t.fetch(route.path, {
      method: route.method,
      headers: { ...ORIGIN, "content-type": "application/json" },
      ...(route.method === "POST" ? { body: "{" } : {}),
    });
    const expected = route.cors ? "*" : null;
    expect(response.headers.get("access-control-allow-origin"), `${route.method} ${route.path}`).toBe(expected);
  }
});
