// @vitest-environment node
/**
 * Outbound webhooks end to end (SPEC §9b): the real local server with
 * IAS_WEBHOOKS_ALLOW_LOOPBACK=true, an endpoint created through the Console functions with the
 * official client, a job finished over the HTTP API, and a receiver on 127.0.0.1 that checks the
 * signature with the docs' Node example. A receiver that answers 500 gets its retry scheduled.
 * The webhook key was generated into .env.local at first start.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { httpClient, serverEnv, signUp } from "../support/convex-clients";
import { callAsService, removeTempDirs, spawnLocalServer, type LocalProcess } from "../support/local-process";

const EXAMPLE = "../../docs/examples/verify-webhook.mjs";
type Verify = (secret: string, header: string, body: string, tolerance?: number) => boolean;
type Received = { path: string; headers: Record<string, string | string[] | undefined>; body: string };

let server: LocalProcess;
let receiver: Server;
let receiverUrl: string;
const received: Received[] = [];

beforeAll(async () => {
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      received.push({
        path: request.url ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      response.writeHead(request.url === "/failing" ? 500 : 200).end("ok");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  server = await spawnLocalServer({ env: { IAS_WEBHOOKS_ALLOW_LOOPBACK: "true" } });
});
afterAll(async () => {
  await server?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
  removeTempDirs();
});

async function until<T>(read: () => Promise<T> | T, accept: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test("a finished job reaches a loopback receiver signed; a failing receiver's retry is scheduled 30 s on", async () => {
  expect(serverEnv(server).IAS_WEBHOOK_SECRET_KEY).toMatch(/^[A-Za-z0-9_-]{43}$/);
  const session = await signUp(server, "ops@example.com");
  const console = httpClient(server, session.token);
  const workspaceId = (await console.mutation(api.workspaces.create, { slug: "ops", name: "Ops" })) as Id<"workspaces">;
  const good = await console.mutation(api.webhooks.create, {
    workspaceId,
    url: `${receiverUrl}/hook`,
    events: ["job.finished"],
  });
  const failing = await console.mutation(api.webhooks.create, {
    workspaceId,
    url: `${receiverUrl}/failing`,
    events: ["job.finished"],
  });

  const { repoId } = await callAsService(server, "/v1/repos/upsert", {
    workspaceId,
    remoteUrlHash: "h",
    status: "active",
  });
  const { workerId } = await callAsService(server, "/v1/workers/heartbeat", {
    workspaceId,
    displayName: "w",
    status: "online",
    capabilities: { reposAllowed: [repoId] },
  });
  const { jobId } = await callAsService(server, "/v1/jobs/enqueue", { workspaceId, repoId, kind: "work", prompt: "p" });
  const claimed = await callAsService(server, "/v1/jobs/claim-next", { workspaceId, workerId });
  const completed = await callAsService(server, "/v1/jobs/complete", {
    workspaceId,
    jobId,
    workerId,
    claimGeneration: claimed.claimGeneration,
    outcome: "done",
  });
  expect(completed.ok).toBe(true);

  await until(
    () => received,
    (list) => list.length >= 2,
  );
  const hook = received.find((request) => request.path === "/hook")!;
  expect(hook).toBeDefined();
  const { verifyIasSignature } = (await import(EXAMPLE)) as { verifyIasSignature: Verify };
  expect(verifyIasSignature(good.secret, String(hook.headers["x-ias-signature"]), hook.body)).toBe(true);
  expect(verifyIasSignature(failing.secret, String(hook.headers["x-ias-signature"]), hook.body)).toBe(false);
  expect(JSON.parse(hook.body)).toMatchObject({
    type: "job.finished",
    workspaceId,
    data: { job: { id: jobId, status: "done" } },
  });
  expect(hook.headers["x-ias-event"]).toBe("job.finished");

  const listed = async (endpointId: Id<"webhookEndpoints">) =>
    (
      await console.query(api.webhooks.listDeliveries, {
        workspaceId,
        endpointId,
        paginationOpts: { numItems: 10, cursor: null },
      })
    ).page;
  const delivered = await until(
    () => listed(good.endpointId),
    (page) => page[0]?.state === "delivered",
  );
  expect(delivered[0]).toMatchObject({
    state: "delivered",
    attempts: 1,
    statusCode: 200,
    latencyMs: expect.any(Number),
  });
  const retrying = await until(
    () => listed(failing.endpointId),
    (page) => page[0]?.attempts === 1,
  );
  expect(retrying[0]).toMatchObject({ state: "pending", attempts: 1, statusCode: 500 });
  const retryIn = retrying[0]!.nextAttemptAt! - Date.now();
  expect(retryIn).toBeGreaterThan(15_000);
  expect(retryIn).toBeLessThanOrEqual(30_000);
});

test("send test event reaches the receiver; a private target cannot even be registered", async () => {
  const session = await signUp(server, "ops2@example.com");
  const console = httpClient(server, session.token);
  const workspaceId = (await console.mutation(api.workspaces.create, {
    slug: "ops2",
    name: "Ops 2",
  })) as Id<"workspaces">;
  const { endpointId, secret } = await console.mutation(api.webhooks.create, {
    workspaceId,
    url: `${receiverUrl}/test`,
    events: ["run.finished"],
  });
  const { eventId } = await console.mutation(api.webhooks.sendTest, { workspaceId, endpointId });
  const request = await until(
    () => received.find((entry) => entry.headers["x-ias-event-id"] === eventId),
    (entry) => entry !== undefined,
  );
  const { verifyIasSignature } = (await import(EXAMPLE)) as { verifyIasSignature: Verify };
  expect(verifyIasSignature(secret, String(request!.headers["x-ias-signature"]), request!.body)).toBe(true);
  await expect(
    console.mutation(api.webhooks.create, { workspaceId, url: "http://10.0.0.1/hook", events: ["run.finished"] }),
  ).rejects.toThrow(/private|reserved/);
});
