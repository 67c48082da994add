// @vitest-environment node
/**
 * The `ias` worker honours a drain an admin requested (SPEC §6 "Drain from the Console"): a
 * heartbeat answer `drainRequested: true` or a claim answer `WORKER_DRAINING` stops its claims,
 * it reports `offline` and exits 0. Against a scripted API client (scripts/cli/worker.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import type { ApiClient } from "../scripts/cli/client";
import { EXIT, Output } from "../scripts/cli/output";
import { Worker, type WorkerOptions } from "../scripts/cli/worker";

const roots: string[] = [];
afterAll(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })));

function scripted(script: Record<string, unknown[]>) {
  const calls: Array<{ route: string; body: Record<string, any> }> = [];
  const client = {
    siteUrl: "http://127.0.0.1:1",
    async call(route: string, body: Record<string, any>) {
      calls.push({ route, body });
      const answers = script[route] ?? [{}];
      return answers.length > 1 ? answers.shift() : answers[0];
    },
  } as unknown as ApiClient;
  return { client, calls };
}

function workerWith(client: ApiClient) {
  const lines: string[] = [];
  const sink = { write: (text: string) => lines.push(text) > 0, isTTY: false } as unknown as NodeJS.WriteStream;
  const stateDir = mkdtempSync(join(tmpdir(), "ias-drain-"));
  roots.push(stateDir);
  const options: WorkerOptions = {
    client,
    out: new Output({ json: true, stdout: sink, stderr: sink, env: {} }),
    workspaceId: "ws",
    displayName: "laptop",
    machineFingerprint: "fp",
    capabilities: {},
    checkouts: new Map([["repo1", "/nowhere"]]),
    command: ["/bin/true"],
    leaseMs: 60_000,
    cancelGraceMs: 1_000,
    heartbeatIntervalMs: 60_000,
    idleBackoff: { baseMs: 1, maxMs: 2, jitter: 0 },
    once: false,
    verbose: false,
    agentVersion: "test",
    stateDir,
    spoolMaxBytes: 1_000_000,
  };
  const events = () =>
    lines.flatMap((line) => line.split("\n").filter(Boolean)).map((line) => JSON.parse(line) as Record<string, any>);
  return { worker: new Worker(options), events };
}

const statuses = (calls: Array<{ route: string; body: Record<string, any> }>) =>
  calls.filter((call) => call.route === "/v1/workers/heartbeat").map((call) => call.body.status);

describe("a drain requested by the server", () => {
  test("claim answer WORKER_DRAINING: no more claims, offline, exit 0", async () => {
    const { client, calls } = scripted({
      "/v1/workers/heartbeat": [{ workerId: "w1", drainRequested: false }],
      "/v1/jobs/claim-next": [
        { jobId: null, job: null, reason: "NO_JOBS" },
        { jobId: null, job: null, reason: "WORKER_DRAINING" },
      ],
    });
    const { worker, events } = workerWith(client);
    expect(await worker.run()).toBe(EXIT.OK);
    expect(calls.filter((call) => call.route === "/v1/jobs/claim-next")).toHaveLength(2);
    expect(statuses(calls).at(-1)).toBe("offline");
    expect(events().map((event) => event.event)).toEqual(["online", "draining", "offline"]);
    expect(events().find((event) => event.event === "draining")).toMatchObject({ requestedBy: "server" });
  });

  test("heartbeat answer drainRequested: true: the worker never claims and goes offline", async () => {
    const { client, calls } = scripted({
      "/v1/workers/heartbeat": [{ workerId: "w1", drainRequested: true }],
      "/v1/jobs/claim-next": [{ jobId: null, job: null, reason: "NO_JOBS" }],
    });
    const { worker } = workerWith(client);
    expect(await worker.run()).toBe(EXIT.OK);
    expect(calls.some((call) => call.route === "/v1/jobs/claim-next")).toBe(false);
    expect(statuses(calls)).toContain("draining");
    expect(statuses(calls).at(-1)).toBe("offline");
  });

  test("without a drain the worker keeps claiming", async () => {
    const { client, calls } = scripted({
      "/v1/workers/heartbeat": [{ workerId: "w1", drainRequested: false }],
      "/v1/jobs/claim-next": [{ jobId: null, job: null, reason: "NO_JOBS" }],
    });
    const { worker } = workerWith(client);
    const running = worker.run();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(calls.filter((call) => call.route === "/v1/jobs/claim-next").length).toBeGreaterThan(3);
    worker.stop();
    expect(await running).toBe(EXIT.OK);
  });
});
