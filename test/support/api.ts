/** Calling the control-plane HTTP API from tests: a bearer caller, success and error assertions, common set-up calls. */
import { expect } from "vitest";
import { post, type Json, type TestConvex } from "./harness";

export type Call = (route: string, body: Json) => Promise<{ status: number; body: Json }>;

/** A caller of `/control-plane<route>` with one bearer token. */
export function caller(t: TestConvex, token: string): Call {
  return (route, body) => post(t, `/control-plane${route}`, body, { token });
}

/** Calls a route that must succeed and returns its body. */
export async function ok(call: Call, route: string, body: Json): Promise<Json> {
  const response = await call(route, body);
  expect(response.body, `${route} ${JSON.stringify(response.body)}`).toMatchObject({ ok: true });
  expect(response.status).toBe(200);
  return response.body;
}

/** An error answer: the envelope with this code and a message, and this status. */
export function expectError(response: { status: number; body: Json }, status: number, code: string) {
  expect(response.body, JSON.stringify(response.body)).toMatchObject({
    ok: false,
    error: code,
    message: expect.any(String),
  });
  expect(response.body.message.length).toBeGreaterThan(0);
  expect(response.status).toBe(status);
}

/** The `{code, message}` a Console call was refused with. */
export async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return (error as { data: { code: string; message: string } }).data;
  }
  throw new Error("expected the call to be refused");
}

export async function createRepo(call: Call, workspaceId: string, remoteUrlHash = "hash-of-origin"): Promise<string> {
  const body = await ok(call, "/v1/repos/upsert", { workspaceId, remoteUrlHash, label: "app", status: "active" });
  return body.repoId;
}

/** A worker allowed on `repoId`, online. */
export async function startWorker(call: Call, workspaceId: string, repoId: string, name = "laptop"): Promise<string> {
  const body = await ok(call, "/v1/workers/heartbeat", {
    workspaceId,
    displayName: name,
    machineFingerprint: `fp-${name}`,
    status: "online",
    capabilities: { reposAllowed: [repoId] },
  });
  return body.workerId;
}

/** Claims the next job as `workerId` and completes it with `outcome`; returns the job claimed. */
export async function claimAndComplete(
  call: Call,
  workspaceId: string,
  workerId: string,
  outcome: "done" | "failed" | "blocked",
  extra: Json = {},
): Promise<Json> {
  const claimed = await ok(call, "/v1/jobs/claim-next", { workspaceId, workerId });
  expect(claimed.jobId, `nothing to claim: ${claimed.reason}`).not.toBeNull();
  await ok(call, "/v1/jobs/complete", {
    workspaceId,
    jobId: claimed.jobId,
    workerId,
    claimGeneration: claimed.claimGeneration,
    outcome,
    ...extra,
  });
  return claimed.job;
}

export async function jobsOfKind(call: Call, workspaceId: string, kind: string): Promise<Json[]> {
  const body = await ok(call, "/v1/jobs/list", { workspaceId, limit: 200 });
  return (body.jobs as Json[]).filter((job) => job.kind === kind);
}
