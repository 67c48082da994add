/** Test helpers for runs, uncertainties and the Inbox, all through the HTTP API. */
import { workspaceWithMember } from "./fixtures";
import type { Json, TestConvex } from "./harness";
import { caller, createRepo, ok, type Call } from "./api";

export async function createRun(call: Call, workspaceId: string, repoId: string, runRef = "20260214-user-settings") {
  const body = await ok(call, "/v1/runs/upsert", {
    workspaceId,
    repoId,
    runRef,
    status: "in_progress",
    goal: "Add user settings",
  });
  return body.runId as string;
}

/** An uncertainty body that the rule promotes with `tier` (or, for `null`, records as assumed). */
export function uncertaintyBody(
  workspaceId: string,
  runId: string,
  tier: "blocker" | "checkpoint" | "audit" | null,
  extra: Json = {},
) {
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

/** A workspace with a member (device token and Console identity), a repo and a run. */
export async function workspaceWithRun(t: TestConvex, slug = "acme") {
  const member = await workspaceWithMember(t, slug);
  const call = caller(t, member.token);
  const repoId = await createRepo(call, member.workspaceId);
  const runId = await createRun(call, member.workspaceId, repoId);
  return { ...member, call, repoId, runId, console: t.withIdentity(member.member.identity) };
}
