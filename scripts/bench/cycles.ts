/**
 * Worker cycles (claim → heartbeat → complete) per second, with claim and cycle latencies, for
 * the local server over sockets and, side by side, the same cycle through BullMQ (Redis) and
 * pg-boss (PostgreSQL) when those servers are installed (services.ts starts them on loopback).
 * One driver runs every system, so the figures differ only in what is behind `claim`,
 * `heartbeat` and `complete`.
 */
import { randomUUID } from "node:crypto";
import type { Api } from "./socket-workers";

export type CycleWorker<T> = {
  /** The next job, or null when the queue is empty. */
  claim(): Promise<T | null>;
  heartbeat(job: T): Promise<void>;
  complete(job: T): Promise<void>;
};

export type CycleResult = {
  cycles: number;
  perSecond: number;
  claimP50: number;
  claimP99: number;
  cycleP50: number;
  cycleP99: number;
};

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Runs `workers.length` loops until every one's claim comes back empty. */
export async function driveCycles<T>(workers: Array<CycleWorker<T>>): Promise<CycleResult> {
  const claimMs: number[] = [];
  const cycleMs: number[] = [];
  const started = performance.now();
  await Promise.all(
    workers.map(async (worker) => {
      for (;;) {
        const begin = performance.now();
        const job = await worker.claim();
        const claimed = performance.now();
        if (job === null) return;
        await worker.heartbeat(job);
        await worker.complete(job);
        claimMs.push(claimed - begin);
        cycleMs.push(performance.now() - begin);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  claimMs.sort((a, b) => a - b);
  cycleMs.sort((a, b) => a - b);
  return {
    cycles: cycleMs.length,
    perSecond: cycleMs.length / seconds,
    claimP50: percentile(claimMs, 50),
    claimP99: percentile(claimMs, 99),
    cycleP50: percentile(cycleMs, 50),
    cycleP99: percentile(cycleMs, 99),
  };
}

type LocalJob = { jobId: string; claimGeneration: number };

/** `count` workers of the local server, registered on `repoId` (names carry `prefix`). */
export async function localWorkers(
  api: Api,
  workspaceId: string,
  repoId: string,
  count: number,
  prefix: string,
): Promise<Array<CycleWorker<LocalJob>>> {
  return await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const name = `${prefix}-${i}`;
      const { workerId } = await api("/v1/workers/heartbeat", {
        workspaceId,
        displayName: name,
        machineFingerprint: name,
        status: "online",
        capabilities: { reposAllowed: [repoId] },
      });
      const lease = (job: LocalJob) => ({ workspaceId, workerId, ...job });
      return {
        async claim() {
          const claimed = await api("/v1/jobs/claim-next", { workspaceId, workerId });
          return claimed.jobId === null ? null : { jobId: claimed.jobId, claimGeneration: claimed.claimGeneration };
        },
        async heartbeat(job) {
          await api("/v1/jobs/heartbeat", { ...lease(job), message: "working" });
        },
        async complete(job) {
          await api("/v1/jobs/complete", { ...lease(job), outcome: "done" });
        },
      };
    }),
  );
}

const LOCK_MS = 60_000;

/** BullMQ's manual-processing API: getNextJob (claim), extendLock (heartbeat), moveToCompleted. */
export async function bullmqCycles(redisPort: number, workers: number, jobs: number): Promise<CycleResult> {
  const { Queue, Worker } = await import("bullmq");
  const connection = { host: "127.0.0.1", port: redisPort, maxRetriesPerRequest: null };
  const name = `bench-${randomUUID()}`;
  const queue = new Queue(name, { connection });
  for (let start = 0; start < jobs; start += 500) {
    const batch = Array.from({ length: Math.min(500, jobs - start) }, (_, i) => ({
      name: "work",
      data: { prompt: `Job ${start + i}` },
      opts: { removeOnComplete: true },
    }));
    await queue.addBulk(batch);
  }
  const instances = Array.from(
    { length: workers },
    () => new Worker(name, null, { connection, autorun: false, lockDuration: LOCK_MS }),
  );
  try {
    type BullJob = { job: Awaited<ReturnType<(typeof instances)[number]["getNextJob"]>>; token: string };
    return await driveCycles<BullJob>(
      instances.map((worker) => ({
        async claim() {
          const token = randomUUID();
          const job = await worker.getNextJob(token, { block: false });
          return job ? { job, token } : null;
        },
        async heartbeat({ job, token }) {
          await job.extendLock(token, LOCK_MS);
        },
        async complete({ job, token }) {
          await job.moveToCompleted("done", token, false);
        },
      })),
    );
  } finally {
    await Promise.all(instances.map((worker) => worker.close()));
    await queue.obliterate({ force: true });
    await queue.close();
  }
}

/** pg-boss: fetch (claim), touch (heartbeat), complete. */
export async function pgBossCycles(postgresPort: number, workers: number, jobs: number): Promise<CycleResult> {
  const { PgBoss } = await import("pg-boss");
  const boss = new PgBoss({
    host: "127.0.0.1",
    port: postgresPort,
    user: "postgres",
    database: "postgres",
    max: workers + 4,
    supervise: false,
    schedule: false,
  });
  boss.on("error", (error: unknown) => console.error("pg-boss:", error));
  await boss.start();
  const name = `bench_${randomUUID().replaceAll("-", "")}`;
  await boss.createQueue(name);
  try {
    for (let start = 0; start < jobs; start += 500) {
      await boss.insert(
        name,
        Array.from({ length: Math.min(500, jobs - start) }, (_, i) => ({ data: { prompt: `Job ${start + i}` } })),
      );
    }
    return await driveCycles<string>(
      Array.from({ length: workers }, () => ({
        async claim() {
          const [job] = await boss.fetch(name);
          return job ? job.id : null;
        },
        async heartbeat(id) {
          await boss.touch(name, id);
        },
        async complete(id) {
          await boss.complete(name, id);
        },
      })),
    );
  } finally {
    await boss.deleteQueue(name);
    await boss.stop({ graceful: false, close: true });
  }
}
