// @vitest-environment node
/**
 * Local mode's request log (SPEC §9b) over a real socket: one line per request with ISO time,
 * method, path (no query), status, milliseconds and request id; never a body, token or secret,
 * checked after a device login with its polls, calls with the token it handed out, an integration
 * ingest with its secret and a signed Slack request. `--quiet` silences it.
 */
import { afterAll, describe, expect, test } from "vitest";
import { slackSignatureOf } from "../../convex/model/slackSignature";
import { removeTempDirs, spawnLocalServer, type LocalProcess } from "../support/local-process";

afterAll(removeTempDirs);

const INTEGRATION_SECRET = "integration-secret-0123456789abcdef";
const SLACK_SECRET = "slack-signing-secret-0123456789";
const LINE =
  /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z) (GET|POST|HEAD|OPTIONS) (\/\S*) (\d{3}|aborted) (\d+)ms (\S+)$/;

async function post(server: LocalProcess, path: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, any> };
}

/** The request-log lines printed so far, parsed. */
function requestLines(server: LocalProcess) {
  return server
    .output()
    .split("\n")
    .map((line) => LINE.exec(line))
    .filter((match) => match !== null)
    .map(([, at, method, path, status, ms, requestId]) => ({ at, method, path, status, ms: Number(ms), requestId }));
}

async function waitForLines(server: LocalProcess, count: number) {
  for (let i = 0; i < 100 && requestLines(server).length < count; i++) await new Promise((r) => setTimeout(r, 50));
  return requestLines(server);
}

describe("request log", () => {
  test("one line per request, nothing secret in the output", async () => {
    const server = await spawnLocalServer({
      env: { IAS_INTEGRATION_EVENT_SECRET: INTEGRATION_SECRET, SLACK_SIGNING_SECRET: SLACK_SECRET },
    });
    try {
      const before = requestLines(server).length;
      const started = await post(server, "/control-plane/v1/auth/device/start", {
        workspaceSlug: "local",
        machineName: "laptop",
      });
      const { deviceId, deviceSecret } = started.body;
      const pending = await post(server, "/control-plane/v1/auth/device/poll", { deviceId, deviceSecret });
      expect(pending.body.status).toBe("pending");
      const approved = await fetch(`${server.baseUrl}/local/device/approve`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ id: deviceId }).toString(),
      });
      expect(approved.status).toBe(200);
      await approved.text();
      const login = await post(server, "/control-plane/v1/auth/device/poll", { deviceId, deviceSecret });
      const token: string = login.body.token;
      expect(token).toMatch(/^ias_/);
      const resolved = await post(
        server,
        "/control-plane/v1/workspaces/resolve?debug=secret-in-query",
        { slug: "local" },
        { authorization: `Bearer ${token}`, "x-request-id": "client-req-42" },
      );
      expect(resolved.body.workspaceId).toEqual(expect.any(String));
      const marker = "body-marker-that-must-not-be-logged";
      const ingested = await post(
        server,
        "/integrations/events/v1/ingest",
        {
          workspaceSlug: "local",
          source: "ci",
          eventType: "build",
          idempotencyKey: "k1",
          item: { externalId: "1", title: marker },
        },
        { "x-ias-integration-event-secret": INTEGRATION_SECRET },
      );
      expect(ingested.status).toBe(200);
      const slackBody = JSON.stringify({ type: "url_verification", challenge: "challenge-marker" });
      const timestamp = String(Math.floor(Date.now() / 1000));
      const slack = await post(server, "/integrations/slack/events/v1", slackBody, {
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": await slackSignatureOf(SLACK_SECRET, timestamp, slackBody),
      });
      expect(slack.status).toBe(200);
      const refused = await post(
        server,
        "/control-plane/v1/jobs/list",
        { workspaceId: "x" },
        { authorization: "Bearer ias_wrong" },
      );
      expect(refused.status).toBe(401);

      const lines = (await waitForLines(server, before + 8)).slice(before);
      expect(lines.map((line) => [line.method, line.path, line.status])).toEqual([
        ["POST", "/control-plane/v1/auth/device/start", "200"],
        ["POST", "/control-plane/v1/auth/device/poll", "200"],
        ["POST", "/local/device/approve", "200"],
        ["POST", "/control-plane/v1/auth/device/poll", "200"],
        ["POST", "/control-plane/v1/workspaces/resolve", "200"],
        ["POST", "/integrations/events/v1/ingest", "200"],
        ["POST", "/integrations/slack/events/v1", "200"],
        ["POST", "/control-plane/v1/jobs/list", "401"],
      ]);
      // API answers carry their request id; the client's own is echoed.
      expect(lines[0]!.requestId).toBe(started.headers.get("x-request-id"));
      expect(lines[4]!.requestId).toBe("client-req-42");
      for (const line of lines) {
        expect(Math.abs(Date.parse(line.at!) - Date.now())).toBeLessThan(120_000);
        expect(line.ms).toBeGreaterThanOrEqual(0);
      }

      const output = server.output();
      for (const secret of [
        deviceSecret,
        token,
        token.slice(12),
        INTEGRATION_SECRET,
        SLACK_SECRET,
        server.serviceToken,
        marker,
        "challenge-marker",
        "secret-in-query",
        "ias_wrong",
      ]) {
        expect(output, `the output contains ${secret}`).not.toContain(secret);
      }
    } finally {
      await server.stop();
    }
  });

  test("--quiet prints no request lines", async () => {
    const server = await spawnLocalServer({ args: ["--quiet"] });
    try {
      for (let i = 0; i < 3; i++) await (await fetch(`${server.apiUrl}/health`)).text();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(requestLines(server)).toEqual([]);
      expect(server.output()).toContain("listening on");
    } finally {
      await server.stop();
    }
  });
});
