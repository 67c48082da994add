/**
 * Outbound webhook deliveries (SPEC §9b) with the network stubbed and fake timers: finished jobs,
 * opened decisions and finished runs reach subscribed endpoints as signed JSON POSTs; a 500 is
 * retried with back-off, an endpoint that keeps failing is given up after 24 hours; a host that
 * resolves to a private address is refused without a request; the newest 100 deliveries are kept.
 */
import { beforeEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { ok } from "./support/api";
import { queueWorkspace, type QueueWorkspace } from "./support/queue-fixtures";
import { useFreshConvex, type Json, type TestConvex } from "./support/harness";
import { WEBHOOK_KEY, fakeNetwork, type FakeNetwork } from "./support/webhook-fixtures";

const EXAMPLE = "../docs/examples/verify-webhook.mjs";
type Verify = (secret: string, header: string, body: string, tolerance?: number, now?: number) => boolean;

const t = useFreshConvex({ IAS_WEBHOOK_SECRET_KEY: WEBHOOK_KEY });
let acme: QueueWorkspace;
let network: FakeNetwork;
let admin: ReturnType<TestConvex["withIdentity"]>;
let workspaceId: Id<"workspaces">;

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ["Date", "setTimeout", "clearTimeout"], now: 1_800_000_000_000 });
  acme = await queueWorkspace(t);
  workspaceId = acme.workspaceId;
  admin = t.withIdentity(acme.owner.identity);
  network = fakeNetwork({
    "hooks.example.com": ["93.184.216.34", "2606:2800:220:1::1"],
    "evil.example.com": ["10.0.0.7"],
  });
});

async function endpoint(events: string[] = ["job.finished"], url = "https://hooks.example.com/ias") {
  return await admin.mutation(api.webhooks.create, { workspaceId, url, events } as never);
}

async function settle() {
  await t.finishAllScheduledFunctions(vi.runAllTimers, 2_000);
}

async function deliveries(endpointId: Id<"webhookEndpoints">, numItems = 200): Promise<Json[]> {
  const page = await admin.query(api.webhooks.listDeliveries, {
    workspaceId,
    endpointId,
    paginationOpts: { numItems, cursor: null },
  });
  return page.page;
}

async function finishJob(outcome: "done" | "failed" = "done") {
  const workerId = await acme.worker("laptop");
  const jobId = await acme.enqueue();
  const { claimGeneration } = await acme.claimJob(workerId);
  await ok(acme.call, "/v1/jobs/complete", {
    workspaceId,
    jobId,
    workerId,
    claimGeneration,
    outcome,
    message: "All green",
  });
  return jobId;
}

describe("delivery", () => {
  test("a finished job is POSTed once, signed with the endpoint's secret; the delivery shows status and latency", async () => {
    const { endpointId, secret } = await endpoint();
    const jobId = await finishJob();
    await settle();

    expect(network.received).toHaveLength(1);
    const [request] = network.received;
    expect(request!.url).toBe("https://hooks.example.com/ias");
    expect(request!.headers).toMatchObject({
      "content-type": "application/json",
      "x-ias-event": "job.finished",
      "x-ias-event-id": expect.stringMatching(/^evt_/),
      "x-ias-delivery": expect.any(String),
    });
    const { verifyIasSignature } = (await import(EXAMPLE)) as { verifyIasSignature: Verify };
    const signature = request!.headers["x-ias-signature"]!;
    expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifyIasSignature(secret, signature, request!.body, 300, request!.at / 1000)).toBe(true);
    expect(Number(/t=(\d+)/.exec(signature)![1])).toBe(Math.floor(request!.at / 1000));

    const body = JSON.parse(request!.body);
    expect(body).toMatchObject({
      id: request!.headers["x-ias-event-id"],
      type: "job.finished",
      workspaceId,
      createdAt: expect.any(Number),
      data: { job: { id: jobId, status: "done", kind: "work", attempts: 1, message: "All green" } },
    });
    expect(JSON.stringify(body)).not.toContain("Do the thing"); // prompts are not sent

    const [delivery] = await deliveries(endpointId);
    expect(delivery).toMatchObject({ state: "delivered", attempts: 1, statusCode: 200, latencyMs: expect.any(Number) });
    expect(delivery).not.toHaveProperty("error");
    expect(network.lookups).toEqual(["hooks.example.com", "hooks.example.com"]);
  });

  test("a 500 is retried 30 s later with the same event, then delivered", async () => {
    const { endpointId, secret } = await endpoint();
    network.statuses = [500, 200];
    await finishJob();
    await settle();

    expect(network.received).toHaveLength(2);
    const [first, second] = network.received;
    expect(second!.at - first!.at).toBe(30_000);
    expect(second!.body).toBe(first!.body);
    expect(second!.headers["x-ias-event-id"]).toBe(first!.headers["x-ias-event-id"]);
    const { verifyIasSignature } = (await import(EXAMPLE)) as { verifyIasSignature: Verify };
    expect(verifyIasSignature(secret, second!.headers["x-ias-signature"]!, second!.body, 300, second!.at / 1000)).toBe(
      true,
    );
    const [delivery] = await deliveries(endpointId);
    expect(delivery).toMatchObject({ state: "delivered", attempts: 2, statusCode: 200 });
    expect(delivery).not.toHaveProperty("error");
  });

  test("an endpoint that keeps answering 500 is tried 30 times over 24 hours with back-off, then given up", async () => {
    const { endpointId } = await endpoint();
    network.statuses = [500];
    await finishJob();
    await settle();

    const times = network.received.map((request) => request.at);
    expect(times).toHaveLength(30);
    const gaps = times.slice(1).map((time, i) => time - times[i]!);
    expect(gaps.slice(0, 8)).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000]);
    expect(times.at(-1)! - times[0]!).toBeLessThanOrEqual(24 * 3_600_000);
    const [delivery] = await deliveries(endpointId);
    expect(delivery).toMatchObject({
      state: "failed",
      attempts: 30,
      statusCode: 500,
      error: expect.stringContaining("HTTP_STATUS"),
      finishedAt: expect.any(Number),
    });
    expect(delivery).not.toHaveProperty("nextAttemptAt");
  });

  test("a receiver that does not answer is cut off after 10 s and retried", async () => {
    const { endpointId } = await endpoint();
    network.statuses = ["hang", 204];
    await finishJob();
    await settle();
    expect(network.received).toHaveLength(2);
    expect(network.received[1]!.at - network.received[0]!.at).toBe(10_000 + 30_000);
    const [delivery] = await deliveries(endpointId);
    expect(delivery).toMatchObject({ state: "delivered", attempts: 2, statusCode: 204 });
  });

  test("a host name that resolves to a private address is refused without a request, and not retried", async () => {
    const { endpointId } = await endpoint(["job.finished"], "https://evil.example.com/hook");
    await finishJob();
    await settle();
    expect(network.received).toEqual([]);
    const [delivery] = await deliveries(endpointId);
    expect(delivery).toMatchObject({
      state: "failed",
      attempts: 1,
      error: expect.stringMatching(/^TARGET_NOT_ALLOWED/),
    });
    expect(delivery!.error).toContain("10.0.0.7");
  });

  test("a host name that does not resolve is retried (DNS_FAILED), not sent blindly", async () => {
    const { endpointId } = await endpoint(["job.finished"], "https://gone.example.com/hook");
    await finishJob();
    await settle();
    expect(network.received).toEqual([]);
    const [delivery] = await deliveries(endpointId);
    expect(delivery).toMatchObject({ state: "failed", attempts: 30, error: expect.stringMatching(/^DNS_FAILED/) });
  });

  test("disabling an endpoint stops its pending retries", async () => {
    const { endpointId } = await endpoint();
    network.statuses = [500];
    await finishJob();
    await t.finishInProgressScheduledFunctions();
    vi.advanceTimersByTime(0);
    await t.finishInProgressScheduledFunctions();
    vi.advanceTimersByTime(0);
    await t.finishInProgressScheduledFunctions();
    expect(network.received).toHaveLength(1);
    await admin.mutation(api.webhooks.update, { workspaceId, endpointId, enabled: false });
    await settle();
    expect(network.received).toHaveLength(1);
    const [delivery] = await deliveries(endpointId);
    expect(delivery).toMatchObject({
      state: "failed",
      attempts: 2,
      error: expect.stringMatching(/^ENDPOINT_DISABLED/),
    });
  });
});

describe("events", () => {
  test("job.failed goes only to endpoints that want it; job.finished to those that want that", async () => {
    const failures = await endpoint(["job.failed"], "https://hooks.example.com/failures");
    const all = await endpoint(["job.finished"], "https://hooks.example.com/all");
    await finishJob("done");
    await finishJob("failed");
    await settle();
    const seen = network.received.map((request) => [new URL(request.url).pathname, request.headers["x-ias-event"]]);
    expect(seen.sort()).toEqual(
      [
        ["/all", "job.finished"],
        ["/all", "job.finished"],
        ["/failures", "job.failed"],
      ].sort(),
    );
    expect((await deliveries(failures.endpointId)).map((d) => JSON.parse(d.body).data.job.status)).toEqual(["failed"]);
    expect(await deliveries(all.endpointId)).toHaveLength(2);
  });

  test("an opened decision and a finished run are announced; a run that stays finished is not announced again", async () => {
    const { endpointId } = await endpoint(["decision.opened", "run.finished"]);
    const { runId } = await ok(acme.call, "/v1/runs/upsert", {
      workspaceId,
      repoId: acme.repoId,
      runRef: "r-1",
      status: "in_progress",
    });
    const { decisionRequestId } = await ok(acme.call, "/v1/uncertainties/create-with-auto-promotion", {
      workspaceId,
      runId,
      prompt: "Ship on Friday?",
      kind: "approval",
      confidence: 0.9,
      impact: "high",
      reversibility: "hard",
    });
    await ok(acme.call, "/v2/runs/upsert", { workspaceId, runId, status: "done" });
    await ok(acme.call, "/v2/runs/upsert", { workspaceId, runId, status: "done", currentMilestone: "m2" });
    await settle();

    const bodies = (await deliveries(endpointId)).map((delivery) => JSON.parse(delivery.body)).reverse();
    expect(bodies.map((body) => body.type)).toEqual(["decision.opened", "run.finished"]);
    expect(bodies[0].data.decision).toMatchObject({ id: decisionRequestId, runId, kind: "approval", tier: "blocker" });
    expect(bodies[1].data.run).toMatchObject({ id: runId, runRef: "r-1", status: "done" });
  });

  test("a workspace without endpoints schedules nothing when a job finishes", async () => {
    await finishJob();
    const scheduled = await t.run((ctx) => ctx.db.system.query("_scheduled_functions").take(100));
    expect(scheduled.map((fn) => fn.name).filter((name) => name.includes("webhook"))).toEqual([]);
  });

  test("send test event reaches the endpoint even while it is disabled", async () => {
    const { endpointId } = await endpoint();
    await admin.mutation(api.webhooks.update, { workspaceId, endpointId, enabled: false });
    const { eventId } = await admin.mutation(api.webhooks.sendTest, { workspaceId, endpointId });
    await settle();
    expect(network.received.map((request) => request.headers["x-ias-event"])).toEqual(["webhook.test"]);
    expect(JSON.parse(network.received[0]!.body)).toMatchObject({ id: eventId, type: "webhook.test" });
    expect((await deliveries(endpointId))[0]).toMatchObject({ state: "delivered", type: "webhook.test" });
  });
});

describe("lost attempts", () => {
  test("the watchdog re-sends a pending attempt that never reported; the late report of the lost one is ignored", async () => {
    const { endpointId } = await endpoint();
    const endpointDoc = await t.run(async (ctx) => (await ctx.db.get(endpointId))!);
    // A delivery whose first attempt was due 3 minutes ago and never reported (its action was lost).
    const deliveryId = await t.run((ctx) =>
      ctx.db.insert("webhookDeliveries", {
        workspaceId,
        endpointId,
        seq: 1,
        eventId: "evt_lost",
        type: "job.finished",
        body: JSON.stringify({ id: "evt_lost" }),
        state: "pending",
        attempts: 0,
        nextAttemptAt: Date.now() - 3 * 60_000,
      }),
    );
    expect(endpointDoc.deliverySeq).toBe(0);
    expect(await t.mutation(internal.webhookDelivery.resendStalled, {})).toEqual({ resent: 1 });
    expect(await t.mutation(internal.webhookDelivery.resendStalled, {})).toEqual({ resent: 0 }); // not twice
    await settle();
    expect(network.received.map((request) => request.headers["x-ias-event-id"])).toEqual(["evt_lost"]);
    // The lost attempt reports after all: attempt 1 already reported, so it changes nothing.
    await t.mutation(internal.webhookDelivery.recordAttempt, {
      deliveryId,
      attempt: 1,
      statusCode: 500,
      error: "x",
      retry: true,
    });
    const delivery = await t.run(async (ctx) => (await ctx.db.get(deliveryId))!);
    expect(delivery).toMatchObject({ state: "delivered", attempts: 1, statusCode: 200 });
  });
});

describe("delivery history", () => {
  test("the newest 100 deliveries per endpoint are kept, newest first", async () => {
    const { endpointId } = await endpoint();
    for (let i = 0; i < 105; i++) {
      await admin.mutation(api.webhooks.sendTest, { workspaceId, endpointId });
      await settle();
    }
    const kept = await deliveries(endpointId);
    expect(kept).toHaveLength(100);
    expect(kept.map((delivery) => delivery.seq)).toEqual(Array.from({ length: 100 }, (_, i) => 105 - i));
    expect(network.received).toHaveLength(105);
  });

  test("deleting an endpoint deletes its deliveries", async () => {
    const { endpointId } = await endpoint();
    await admin.mutation(api.webhooks.sendTest, { workspaceId, endpointId });
    await settle();
    await admin.mutation(api.webhooks.remove, { workspaceId, endpointId });
    await settle();
    const left = await t.run((ctx) =>
      ctx.db
        .query("webhookDeliveries")
        .withIndex("by_endpoint_seq", (q) => q.eq("endpointId", endpointId))
        .take(10),
    );
    expect(left).toEqual([]);
  });
});
