// @vitest-environment node
/**
 * Local mode's device approval page (SPEC §10) end to end over a real socket: the CLI's
 * `approvalUrl`, the page showing the user code, approve/deny as the local owner, refusals.
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { removeTempDirs, spawnLocalServer, type LocalProcess } from "../support/local-process";

let server: LocalProcess;
beforeAll(async () => {
  server = await spawnLocalServer();
});
afterAll(async () => {
  await server?.stop();
  removeTempDirs();
});

async function api(route: string, body: unknown, token?: string) {
  const response = await fetch(`${server.apiUrl}${route}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

async function page(path: string, init: RequestInit = {}) {
  const response = await fetch(`${server.baseUrl}${path}`, init);
  return { status: response.status, html: await response.text(), headers: response.headers };
}

function submit(action: "approve" | "deny", deviceId: string, headers: Record<string, string> = {}) {
  return page(`/local/device/${action}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams({ id: deviceId }).toString(),
  });
}

async function start(machineName: string) {
  const started = await api("/v1/auth/device/start", { workspaceSlug: "local", machineName });
  expect(started.status).toBe(200);
  return started.body as { deviceId: string; deviceSecret: string; userCode: string; approvalUrl: string };
}

/** fetch will not send a foreign Host header (what DNS rebinding produces); node:http will. */
function postWithHost(host: string, deviceId: string): Promise<number> {
  const body = `id=${encodeURIComponent(deviceId)}`;
  return new Promise((resolve, reject) => {
    const sent = request(
      {
        host: "127.0.0.1",
        port: server.port,
        path: "/local/device/approve",
        method: "POST",
        headers: { host, "content-type": "application/x-www-form-urlencoded", "content-length": body.length },
      },
      (response) => {
        response.resume();
        response.on("end", () => resolve(response.statusCode!));
      },
    );
    sent.on("error", reject);
    sent.end(body);
  });
}

const poll = (session: { deviceId: string; deviceSecret: string }) =>
  api("/v1/auth/device/poll", { deviceId: session.deviceId, deviceSecret: session.deviceSecret });

describe("local approval page", () => {
  test("approvalUrl opens a page with the code, machine and workspace; approving there logs the CLI in", async () => {
    const session = await start(`<script>alert("x")</script> & Ada's "box"`);
    expect(session.approvalUrl).toBe(`${server.baseUrl}/local/device?id=${session.deviceId}`);

    const shown = await page(new URL(session.approvalUrl).pathname + new URL(session.approvalUrl).search);
    expect(shown.status).toBe(200);
    expect(shown.headers.get("content-type")).toContain("text/html");
    expect(shown.headers.get("x-frame-options")).toBe("DENY");
    expect(shown.html).toContain(session.userCode);
    expect(shown.html).toContain("Local workspace (local)");
    expect(shown.html).toContain("&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; Ada&#39;s &#34;box&#34;");
    expect(shown.html).not.toContain("<script>");
    expect(shown.html).toContain(
      `<form method="post" action="/local/device/approve"><input type="hidden" name="id" value="${session.deviceId}">`,
    );
    expect((await poll(session)).body.status).toBe("pending");

    const approved = await submit("approve", session.deviceId);
    expect(approved.status).toBe(200);
    expect(approved.html).toMatch(/approved/i);
    const collected = await poll(session);
    expect(collected.body).toMatchObject({
      ok: true,
      status: "approved",
      workspaceSlug: "local",
      token: expect.stringMatching(/^ias_/),
    });
    expect((await poll(session)).body.status).toBe("consumed");

    const listed = await api("/v1/jobs/list", { workspaceId: collected.body.workspaceId }, collected.body.token);
    expect(listed.body).toMatchObject({ ok: true, jobs: [] });
    expect((await page(`/local/device?id=${session.deviceId}`)).html).toContain("already approved");
    // Approving again changes nothing.
    expect((await submit("approve", session.deviceId)).status).toBe(200);
  });

  test("deny: the CLI hears denied, and a denied login cannot be approved afterwards", async () => {
    const session = await start("box");
    const denied = await submit("deny", session.deviceId);
    expect(denied.status).toBe(200);
    expect(denied.html).toMatch(/denied/i);
    expect((await poll(session)).body.status).toBe("denied");
    expect((await submit("approve", session.deviceId)).status).toBe(409);
    expect((await poll(session)).body.status).toBe("denied");
  });

  test("unknown ids answer 404 pages", async () => {
    for (const response of [
      await page("/local/device?id=dev_unknown"),
      await page("/local/device"),
      await submit("approve", "dev_unknown"),
      await submit("deny", ""),
    ]) {
      expect(response.status).toBe(404);
      expect(response.headers.get("content-type")).toContain("text/html");
    }
  });

  test("posts from another site, or to another host name, are refused", async () => {
    const session = await start("box");
    expect((await submit("approve", session.deviceId, { origin: "https://evil.example" })).status).toBe(403);
    expect((await submit("approve", session.deviceId, { origin: "null" })).status).toBe(403);
    expect((await submit("approve", session.deviceId, { origin: "null", "sec-fetch-site": "cross-site" })).status).toBe(
      403,
    );
    expect((await submit("approve", session.deviceId, { origin: "null", "sec-fetch-site": "same-site" })).status).toBe(
      403,
    );
    expect(
      (await submit("approve", session.deviceId, { origin: server.baseUrl, "sec-fetch-site": "cross-site" })).status,
    ).toBe(403);
    expect((await submit("approve", session.deviceId, { "sec-fetch-site": "cross-site" })).status).toBe(403);
    // Refused before the page runs, by the local server's Host check (scripts/local/hostCheck.ts).
    expect(await postWithHost(`rebound.example:${server.port}`, session.deviceId)).toBe(421);
    expect((await poll(session)).body.status).toBe("pending");
    // The page's own form, as a browser sends it.
    const own = await submit("approve", session.deviceId, { origin: server.baseUrl, "sec-fetch-site": "same-origin" });
    expect(own.status).toBe(200);
    expect((await poll(session)).body.status).toBe("approved");
  });

  test("Origin: null is accepted only with Sec-Fetch-Site: same-origin (a browser hiding its origin)", async () => {
    const session = await start("box");
    const hidden = await submit("deny", session.deviceId, { origin: "null", "sec-fetch-site": "same-origin" });
    expect(hidden.status).toBe(200);
    expect((await poll(session)).body.status).toBe("denied");
  });

  test("the page keeps its URL from other sites without nulling its own Origin", async () => {
    const session = await start("box");
    const shown = await page(`/local/device?id=${session.deviceId}`);
    // no-referrer made Chromium send Origin: null on the form post; same-origin does not.
    expect(shown.headers.get("referrer-policy")).toBe("same-origin");
    expect(shown.html).toContain(`<a href="/auth/device?id=${session.deviceId}">`);
  });

  test("wrong methods are 405", async () => {
    expect((await page("/local/device/approve")).status).toBe(405);
    expect((await page("/local/device", { method: "POST" })).status).toBe(405);
  });
});
