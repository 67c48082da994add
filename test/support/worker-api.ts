/**
 * The worker HTTP API of a spawned local server (test/support/local-process.ts), called with
 * its service token the way the IAS runner calls it: for end-to-end tests that act as a
 * worker while a browser watches.
 */
import type { LocalProcess } from "./local-process";

export type Json = Record<string, any>;

export function workerApi(server: LocalProcess) {
  async function call(route: string, body: Json): Promise<{ status: number; body: Json }> {
    const response = await fetch(`${server.apiUrl}${route}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${server.serviceToken}` },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Json };
  }
  /** Calls a route that must succeed; throws with the answer otherwise. */
  async function ok(route: string, body: Json): Promise<Json> {
    const answer = await call(route, body);
    if (answer.status !== 200 || answer.body.ok !== true) {
      throw new Error(`${route} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    }
    return answer.body;
  }
  /** A worker's heartbeat (online, allowing `repoId`); the whole answer. */
  async function workerHeartbeat(workspaceId: string, repoId: string, name = "box"): Promise<Json> {
    return await ok("/v1/workers/heartbeat", {
      workspaceId,
      displayName: name,
      machineFingerprint: `fp-${name}`,
      status: "online",
      capabilities: { reposAllowed: [repoId], canWrite: true },
    });
  }
  return {
    call,
    ok,
    workerHeartbeat,
    async workspaceId(slug: string): Promise<string> {
      const { workspaceId } = await ok("/v1/workspaces/resolve", { slug });
      if (workspaceId === null) throw new Error(`No workspace ${slug}.`);
      return workspaceId;
    },
    async repo(workspaceId: string, label = "app"): Promise<string> {
      const body = await ok("/v1/repos/upsert", {
        workspaceId,
        remoteUrlHash: `hash-${label}`,
        label,
        status: "active",
      });
      return body.repoId;
    },
    async enqueue(workspaceId: string, repoId: string, fields: Json = {}): Promise<string> {
      const body = await ok("/v1/jobs/enqueue", {
        workspaceId,
        repoId,
        kind: "work",
        prompt: "Do the thing",
        ...fields,
      });
      return body.jobId;
    },
    async worker(workspaceId: string, repoId: string, name = "box"): Promise<string> {
      return (await workerHeartbeat(workspaceId, repoId, name)).workerId;
    },
    /** Claims the next job; resolves to what the lease calls need. */
    async claim(workspaceId: string, workerId: string) {
      const body = await ok("/v1/jobs/claim-next", { workspaceId, workerId });
      if (body.jobId === null) throw new Error(`Nothing claimed: ${body.reason}`);
      const lease = { workspaceId, workerId, jobId: body.jobId as string, claimGeneration: body.claimGeneration };
      return {
        ...lease,
        log: (lines: string[]) => ok("/v1/jobs/log", { ...lease, lines }),
        heartbeat: () => ok("/v1/jobs/heartbeat", lease),
        complete: (outcome: "done" | "failed" | "blocked" | "canceled", fields: Json = {}) =>
          ok("/v1/jobs/complete", { ...lease, outcome, ...fields }),
      };
    },
    async jobsOfKind(workspaceId: string, kind: string): Promise<Json[]> {
      const { jobs } = await ok("/v1/jobs/list", { workspaceId, limit: 100 });
      return (jobs as Json[]).filter((job) => job.kind === kind);
    },
  };
}
