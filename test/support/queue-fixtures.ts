/** A workspace ready for job-queue tests: member token, repo, and short-hands for the queue routes. */
import { expect, vi } from "vitest";
import { caller, createRepo, ok } from "./api";
import { workspaceWithMember } from "./fixtures";
import type { Json, TestConvex } from "./harness";

export async function queueWorkspace(t: TestConvex, slug = "acme") {
  const member = await workspaceWithMember(t, slug);
  const call = caller(t, member.token);
  const { workspaceId } = member;
  const repoId = await createRepo(call, workspaceId, `${slug}-origin`);

  return {
    ...member,
    call,
    repoId,
    /** Enqueues a job in `repoId` (override any field) and returns its id. */
    async enqueue(fields: Json = {}): Promise<string> {
      const body = await ok(call, "/v1/jobs/enqueue", {
        workspaceId,
        repoId,
        kind: "work",
        prompt: "Do the thing",
        ...fields,
      });
      return body.jobId;
    },
    /** Registers (or refreshes) an online worker allowed on `repoId`; capabilities and status overridable. */
    async worker(name: string, capabilities: Json = {}, status = "online"): Promise<string> {
      const body = await ok(call, "/v1/workers/heartbeat", {
        workspaceId,
        displayName: name,
        machineFingerprint: `fp-${name}`,
        status,
        capabilities: { reposAllowed: [repoId], ...capabilities },
      });
      return body.workerId;
    },
    async claim(workerId: string, fields: Json = {}, lane: "jobs" | "cloud-ai-jobs" = "jobs"): Promise<Json> {
      return await ok(call, `/v1/${lane}/claim-next`, { workspaceId, workerId, ...fields });
    },
    /** Claims and expects a job; returns `{jobId, claimGeneration, leaseExpiresAt, job}`. */
    async claimJob(workerId: string, fields: Json = {}): Promise<Json> {
      const claimed = await ok(call, "/v1/jobs/claim-next", { workspaceId, workerId, ...fields });
      expect(claimed.jobId, `nothing claimed: ${claimed.reason}`).not.toBeNull();
      return claimed;
    },
    async job(jobId: string): Promise<Json> {
      return (await ok(call, "/v1/jobs/get", { workspaceId, jobId })).job;
    },
    async events(jobId: string, fields: Json = {}): Promise<Json[]> {
      return (await ok(call, "/v1/job-events/list-for-job", { workspaceId, jobId, limit: 500, ...fields })).events;
    },
    /** A lease call (`heartbeat`, `log`, `complete`, ...) for `jobId` held by `workerId`, unchecked. */
    lease(route: string, jobId: string, workerId: string, fields: Json = {}) {
      return call(`/v1/jobs/${route}`, { workspaceId, jobId, workerId, ...fields });
    },
  };
}
export type QueueWorkspace = Awaited<ReturnType<typeof queueWorkspace>>;

export async function eventTypes(queue: QueueWorkspace, jobId: string): Promise<string[]> {
  return (await queue.events(jobId)).map((event) => event.type);
}

/** Moves the (fake) clock by `ms` and runs the scheduled functions that became due (lease, release, timeout timers). */
export async function elapse(t: TestConvex, ms: number) {
  vi.advanceTimersByTime(ms);
  await t.finishInProgressScheduledFunctions();
}
