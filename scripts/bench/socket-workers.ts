import { Agent, request } from "node:http";
/**
 * Workers that talk to a running control plane over real sockets, doing full
 * claim → heartbeat → complete cycles until the queue is empty. Used by the race test
 * (test/queue-race.test.ts) and by the throughput part of `npm run bench`.
 */

export type Api = (route: string, body: Record<string, unknown>) => Promise<Record<string, any>>;

/**
 * A JSON POST client for `${apiUrl}${route}`; an `{ok:false}` answer throws with its code. It is
 * node:http on kept-alive connections, the lightest client Node has, so that on this 2-core
 * machine the load generator takes as little as it can of the CPU the server is measured on.
 */
export function apiClient(apiUrl: string, token: string): Api {
  const base = new URL(apiUrl);
  const agent = new Agent({ keepAlive: true });
  return (route, body) =>
    new Promise((resolve, reject) => {
      const payload = Buffer.from(JSON.stringify(body));
      const outgoing = request(
        {
          host: base.hostname,
          port: base.port,
          path: `${base.pathname}${route}`,
          method: "POST",
          agent,
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/json",
            "content-length": payload.length,
          },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.once("error", reject);
          response.once("end", () => {
            try {
              const answer = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, any>;
              if (answer.ok !== true) {
                throw new Error(`${route} answered ${response.statusCode} ${answer.error}: ${answer.message}`);
              }
              resolve(answer);
            } catch (error) {
              reject(error);
            }
          });
        },
      );
      outgoing.once("error", reject);
      outgoing.end(payload);
    });
}

export type Claim = { jobId: string; claimGeneration: number; workerId: string };

export type PoolResult = { claims: Claim[]; requests: number; elapsedMs: number };

/**
 * Registers `workers` online workers allowed on `repoId`, then runs them concurrently: each claims,
 * heartbeats and completes jobs (`done`) until claim-next answers NO_JOBS.
 */
export async function runWorkerPool(options: {
  api: Api;
  workspaceId: string;
  repoId: string;
  workers: number;
  namePrefix?: string;
}): Promise<PoolResult> {
  const { api, workspaceId, repoId } = options;
  const workerIds = await Promise.all(
    Array.from({ length: options.workers }, async (_, i) => {
      const name = `${options.namePrefix ?? "worker"}-${i}`;
      const body = {
        workspaceId,
        displayName: name,
        machineFingerprint: name,
        status: "online",
        capabilities: { reposAllowed: [repoId] },
      };
      return (await api("/v1/workers/heartbeat", body)).workerId as string;
    }),
  );
  const claims: Claim[] = [];
  let requests = 0;
  const started = performance.now();
  await Promise.all(
    workerIds.map(async (workerId) => {
      for (;;) {
        requests++;
        const claimed = await api("/v1/jobs/claim-next", { workspaceId, workerId });
        if (claimed.jobId === null) return;
        const lease = { workspaceId, jobId: claimed.jobId, workerId, claimGeneration: claimed.claimGeneration };
        claims.push({ jobId: claimed.jobId, claimGeneration: claimed.claimGeneration, workerId });
        await api("/v1/jobs/heartbeat", { ...lease, message: "working" });
        await api("/v1/jobs/complete", { ...lease, outcome: "done" });
        requests += 2;
      }
    }),
  );
  return { claims, requests, elapsedMs: performance.now() - started };
}

/** Enqueues `count` jobs, `parallel` requests at a time; returns their ids in order. */
export async function enqueueMany(
  api: Api,
  workspaceId: string,
  repoId: string,
  count: number,
  parallel = 16,
): Promise<string[]> {
  const ids: string[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        const index = next++;
        ids[index] = (
          await api("/v1/jobs/enqueue", { workspaceId, repoId, kind: "work", prompt: `Job ${index}` })
        ).jobId;
      }
    }),
  );
  return ids;
}

/** GET `${apiUrl}/health` from `clients` concurrent loops for `durationMs`; returns requests per second. */
export async function healthRate(apiUrl: string, clients: number, durationMs: number): Promise<number> {
  let done = 0;
  const until = performance.now() + durationMs;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < until) {
        const response = await fetch(`${apiUrl}/health`);
        await response.arrayBuffer();
        done++;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}
