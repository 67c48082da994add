/**
 * The single-stream case of `npm run bench` (issue 14): claim-next with 0, 10,000 and 100,000
 * jobs waiting in ONE stream (one repo, one requirement set) against an empty stream on the same
 * server, and list-for-job's first page on a 10,000-event job against a 60-event one (both
 * answer a full page of 50, so the ratio is what the 9,940 other events cost).
 *
 * Seeding 100,000 jobs over HTTP would take many minutes, so each data directory is seeded in
 * this process through the local engine itself (the very `enqueueJob` and `updateJob` the
 * routes run, a few hundred per transaction, journalled as the server would), then closed; the
 * real local server is started on it and measured over sockets, as a worker sees it.
 */
import { internal } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import type { MutationCtx } from "../../convex/_generated/server";
import { updateJob } from "../../convex/jobState";
import { enqueueJob } from "../../convex/jobs";
import { makeTempDir, spawnLocalServer } from "../../test/support/local-process";
import { createEngine } from "../local/engine";
import { convexModuleMap } from "../local/modules";
import { openJournalStore } from "../local/store";
import { apiClient } from "./socket-workers";

const ENQUEUE_BATCH = 250;
const EVENT_BATCH = 500;
export const BIG_JOB_EVENTS = 10_000;
/** More than list-for-job's first page (50), so both jobs answer a full page. */
export const SMALL_JOB_EVENTS = 60;

type Seeded = {
  workspaceId: string;
  bigRepoId: string;
  emptyRepoId: string;
  bigEventsJobId: string;
  smallJobId: string;
};

export type Percentiles = { p50: number; p99: number };
export type SingleStreamResult = {
  waiting: number;
  seedSeconds: number;
  startSeconds: number;
  big: Percentiles;
  empty: Percentiles;
  bigEvents: Percentiles;
  smallEvents: Percentiles;
};

/** Seeds a data directory: `waiting` jobs in one stream, an empty stream, a 10,000- and a 60-event job. */
async function seed(dataDir: string, waiting: number): Promise<Seeded> {
  const store = openJournalStore(dataDir);
  const engine = await createEngine({
    modules: convexModuleMap(),
    store,
    onFatal: (error) => {
      throw error;
    },
  });
  const run = <T>(fn: (ctx: MutationCtx) => Promise<T>) => engine.t.run(fn as never) as Promise<T>;
  try {
    const { workspaceId } = (await engine.t.mutation(internal.workspaces.ensureLocalWorkspace, {
      slug: "local",
    })) as { workspaceId: Id<"workspaces"> };
    const [bigRepoId, emptyRepoId, eventsRepoId] = await run(async (ctx) => {
      const ids: Id<"repos">[] = [];
      for (const name of ["big-stream", "empty-stream", "events"]) {
        ids.push(
          await ctx.db.insert("repos", { workspaceId, remoteUrlHash: name, status: "active", updatedAt: Date.now() }),
        );
      }
      return ids as [Id<"repos">, Id<"repos">, Id<"repos">];
    });
    const job = (repoId: Id<"repos">, prompt: string) => ({ workspaceId, repoId, kind: "work" as const, prompt });
    for (let start = 0; start < waiting; start += ENQUEUE_BATCH) {
      await run(async (ctx) => {
        for (let i = start; i < Math.min(start + ENQUEUE_BATCH, waiting); i++) {
          await enqueueJob(ctx, job(bigRepoId, `Waiting job ${i}`));
        }
      });
    }
    const [bigEventsJobId, smallJobId] = await run(async (ctx) => [
      (await enqueueJob(ctx, job(eventsRepoId, "A job with a long timeline"))).jobId,
      (await enqueueJob(ctx, job(eventsRepoId, "A job with a short timeline"))).jobId,
    ]);
    // Each job has its `enqueued` event; log events make up the rest.
    for (const [jobId, events] of [
      [bigEventsJobId, BIG_JOB_EVENTS],
      [smallJobId, SMALL_JOB_EVENTS],
    ] as const) {
      for (let start = 1; start < events; start += EVENT_BATCH) {
        await run(async (ctx) => {
          let current = (await ctx.db.get(jobId))!;
          for (let i = start; i < Math.min(start + EVENT_BATCH, events); i++) {
            current = await updateJob(ctx, current, {}, { type: "log", data: { lines: [`log line ${i}`] } });
          }
        });
      }
    }
    return { workspaceId, bigRepoId, emptyRepoId, bigEventsJobId, smallJobId };
  } finally {
    store.close();
  }
}

function percentiles(samples: number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { p50: at(0.5), p99: at(0.99) };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** One data size: seed, start the server on it, then time claims and timelines, interleaved. */
export async function measureSingleStream(waiting: number, samples: number): Promise<SingleStreamResult> {
  const dataDir = makeTempDir("ias-bench-stream-");
  const seeding = performance.now();
  const seeded = await seed(dataDir, waiting);
  const seedSeconds = (performance.now() - seeding) / 1000;
  const starting = performance.now();
  const server = await spawnLocalServer({ dataDir, startTimeoutMs: 900_000 });
  const startSeconds = (performance.now() - starting) / 1000;
  try {
    const api = apiClient(server.apiUrl, server.serviceToken);
    const { workspaceId } = seeded;
    const workerOn = async (repoId: string, name: string) =>
      (
        await api("/v1/workers/heartbeat", {
          workspaceId,
          displayName: name,
          machineFingerprint: name,
          status: "online",
          capabilities: { reposAllowed: [repoId] },
        })
      ).workerId as string;
    const streams = {
      big: { repoId: seeded.bigRepoId, workerId: await workerOn(seeded.bigRepoId, "big-stream-worker") },
      empty: { repoId: seeded.emptyRepoId, workerId: await workerOn(seeded.emptyRepoId, "empty-stream-worker") },
    };
    const claimTimes = { big: [] as number[], empty: [] as number[] };
    // Warm-up, then samples; each enqueues one job first, so the stream keeps its length.
    for (let sample = -5; sample < samples; sample++) {
      for (const name of ["big", "empty"] as const) {
        const { repoId, workerId } = streams[name];
        await api("/v1/jobs/enqueue", { workspaceId, repoId, kind: "work", prompt: `Sample ${sample}` });
        let claimed: Record<string, any> = {};
        const ms = await timed(async () => {
          claimed = await api("/v1/jobs/claim-next", { workspaceId, workerId });
        });
        if (claimed.jobId === null) throw new Error(`The ${name} stream had nothing to claim.`);
        await api("/v1/jobs/complete", {
          workspaceId,
          jobId: claimed.jobId,
          workerId,
          claimGeneration: claimed.claimGeneration,
          outcome: "done",
        });
        if (sample >= 0) claimTimes[name].push(ms);
      }
    }
    const eventTimes = { big: [] as number[], small: [] as number[] };
    for (let sample = -5; sample < samples; sample++) {
      for (const [name, jobId] of [
        ["big", seeded.bigEventsJobId],
        ["small", seeded.smallJobId],
      ] as const) {
        let events = 0;
        const ms = await timed(async () => {
          events = (await api("/v1/job-events/list-for-job", { workspaceId, jobId })).events.length;
        });
        if (events === 0) throw new Error("list-for-job answered no events.");
        if (sample >= 0) eventTimes[name].push(ms);
      }
    }
    return {
      waiting,
      seedSeconds,
      startSeconds,
      big: percentiles(claimTimes.big),
      empty: percentiles(claimTimes.empty),
      bigEvents: percentiles(eventTimes.big),
      smallEvents: percentiles(eventTimes.small),
    };
  } finally {
    await server.stop();
  }
}
