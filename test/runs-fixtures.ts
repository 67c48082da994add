/** Test helpers for runs, uncertainties and the Inbox, all through the HTTP API. */
import { expect } from "vitest";
import { workspaceWithMember } from "./fixtures";
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

export function expectError(response: { status: number; body: Json }, status: number, code: string) {
  expect(response.body).toMatchObject({ ok: false, error: code });
  expect(response.status).toBe(status);
}

export async function createRepo(call: Call, workspaceId: string, remoteUrlHash = "hash-of-origin"): Promise<string> {
  const body = await ok(call, "/v1/repos/upsert", { workspaceId, remoteUrlHash, label: "app", status: "active" });
  return body.repoId;
}

export async function createRun(call: Call, workspaceId: string, repoId: string, runRef = "20260214-user-settings") {
  const body = await ok(call, "/v1/runs/upsert", { workspaceId, repoId, runRef, status: "in_progress", goal: "Add user settings" });
  return body.runId as string;
}

/** An uncertainty body that the rule promotes with `tier` (or, for `null`, records as assumed). */
export function uncertaintyBody(workspaceId: string, runId: string, tier: "blocker" | "checkpoint" | "audit" | null, extra: Json = {}) {
  const impact = { blocker: "high", checkpoint: "medium", audit: "low" }[tier ?? "audit"];
  return {
    workspaceId,
    runId,
    prompt: `Which database engine should we use? (${tier ?? "assumed"})`,
    kind: "choice",
    context: "The project needs a relational database.",
    confidence: tier === null ? 0.95 : 0.5,
    impact,
    reversibility: "moderate",
    assumedValue: "PostgreSQL",
    assumedReasoning: "Most common choice for this stack",
    options: ["PostgreSQL", { value: "sqlite", label: "SQLite" }],
    ...extra,
  };
}

export async function raise(call: Call, body: Json) {
  return await ok(call, "/v1/uncertainties/create-with-auto-promotion", body);
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

/** A workspace with a member (device token and Console identity), a repo and a run. */
export async function workspaceWithRun(t: TestConvex, slug = "acme") {
  const member = await workspaceWithMember(t, slug);
  const call = caller(t, member.token);
  const repoId = await createRepo(call, member.workspaceId);
  const runId = await createRun(call, member.workspaceId, repoId);
  return { ...member, call, repoId, runId, console: t.withIdentity(member.member.identity) };
}
