/**
 * `npm run bench`: what the job queue's worker calls cost, and how fast local mode serves them.
 *
 * 1. Documents and bytes read and written per call (SPEC §6 budget), on a small workspace and on
 *    one with 10,000 pending + 10,000 finished jobs, 200 workers and 50 repos.
 * 2. Local-server throughput over real sockets: 1 / 8 / 32 concurrent workers doing full
 *    claim → heartbeat → complete cycles (per second, claim and cycle p50/p99), and the same
 *    cycle through BullMQ on Redis and pg-boss on PostgreSQL when those are installed (started
 *    here on loopback, never in CI), interleaved in the same run and printed as ratios.
 * 3. Restart: time from spawn to `/health` and resident memory with 0 / 10k / 100k stored jobs.
 *
 * `npm run bench -- --quick` skips the 100k restart; `--only=costs|cycles|restart` runs one part.
 */
import { convexTest } from "convex-test";
import schema from "../convex/schema";
import { removeTempDirs, spawnLocalServer } from "../test/support/local-process";
import {
  BUDGET,
  LARGE,
  SMALL,
  measureCalls,
  seedWorkload,
  type Metrics,
  type Runner,
  type Scale,
} from "./bench/queue-workload";
import { bullmqCycles, driveCycles, localWorkers, pgBossCycles, type CycleResult } from "./bench/cycles";
import { measureRestart } from "./bench/restart";
import { startPostgres, startRedis } from "./bench/services";
import { apiClient, enqueueMany, healthRate } from "./bench/socket-workers";
import { convexModuleMap } from "./local/modules";

const WORKER_COUNTS = [1, 8, 32];
/** Jobs per run: enough cycles for a stable rate and a meaningful p99. */
const jobsFor = (workers: number) => Math.max(150, workers * 25);
const HEALTH_SECONDS = 3;
const RESTART_JOBS = process.argv.includes("--quick") ? [0, 10_000] : [0, 10_000, 100_000];
const ONLY = process.argv.find((arg) => arg.startsWith("--only="))?.slice("--only=".length);
const runs = (part: string) => ONLY === undefined || ONLY === part;

async function documentCosts(scale: Scale) {
  const t = convexTest(schema, convexModuleMap()) as unknown as Runner;
  return await measureCalls(t, await seedWorkload(t, scale));
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i]!)).join(" | ")} |`;
  return [
    line(rows[0]!),
    `|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`,
    ...rows.slice(1).map(line),
  ].join("\n");
}

const cell = (metrics: Metrics) => `${metrics.documentsRead} / ${metrics.bytesRead} B`;
const writes = (metrics: Metrics) => `${metrics.documentsWritten} / ${metrics.bytesWritten} B`;

async function main() {
  if (runs("costs")) await costs();
  if (runs("cycles")) await throughput();
  if (runs("restart")) await restarts();
}

async function costs() {
  console.log("Seeding the small and the large workspace (the large one takes a little while)...");
  const small = await documentCosts(SMALL);
  const large = await documentCosts(LARGE);
  const rows = [["call", "budget (docs read)", "small: read", "small: written", "large: read", "large: written"]];
  for (const operation of Object.keys(large) as Array<keyof typeof large>) {
    const budget = operation in BUDGET ? `≤ ${BUDGET[operation as keyof typeof BUDGET]}` : "—";
    rows.push([
      operation,
      budget,
      cell(small[operation]),
      writes(small[operation]),
      cell(large[operation]),
      writes(large[operation]),
    ]);
  }
  console.log(
    `\nDocuments / bytes per call (large: ${LARGE.pendingJobs + LARGE.unclaimableJobs} pending, ${LARGE.finishedJobs} finished, ${LARGE.workers} workers, ${LARGE.repos} repos)\n`,
  );
  console.log(table(rows));
  console.log("\n`bearer auth` is the token lookup every request with a minted token makes in its own query.");
}

const ms = (value: number) => value.toFixed(1);

async function throughput() {
  const redis = await startRedis().catch((error) => skipped("Redis", error));
  const postgres = await startPostgres().catch((error) => skipped("PostgreSQL", error));
  const server = await spawnLocalServer();
  try {
    const api = apiClient(server.apiUrl, server.serviceToken);
    const workspaceId = (await api("/v1/workspaces/resolve", { slug: "local" })).workspaceId;
    const repoId = (await api("/v1/repos/upsert", { workspaceId, remoteUrlHash: "bench", status: "active" })).repoId;
    const rows = [["workers", "system", "cycles/s", "claim p50 / p99 ms", "cycle p50 / p99 ms", "local ÷ this"]];
    for (const workers of WORKER_COUNTS) {
      const jobs = jobsFor(workers);
      // Interleaved: each system runs at this worker count before the next count.
      await enqueueMany(api, workspaceId, repoId, jobs);
      const local = await driveCycles(await localWorkers(api, workspaceId, repoId, workers, `w${workers}`));
      const results: Array<[string, CycleResult]> = [["local mode", local]];
      if (redis) results.push(["BullMQ / Redis", await bullmqCycles(redis.port, workers, jobs)]);
      if (postgres) results.push(["pg-boss / PostgreSQL", await pgBossCycles(postgres.port, workers, jobs)]);
      for (const [system, result] of results) {
        rows.push([
          String(workers),
          system,
          result.perSecond.toFixed(1),
          `${ms(result.claimP50)} / ${ms(result.claimP99)}`,
          `${ms(result.cycleP50)} / ${ms(result.cycleP99)}`,
          system === "local mode" ? "—" : (local.perSecond / result.perSecond).toFixed(2),
        ]);
      }
    }
    const health = await healthRate(server.apiUrl, 32, HEALTH_SECONDS * 1000);
    console.log(
      `\nWorker cycles (claim → heartbeat → complete) over real sockets; ${jobsFor(1)}–${jobsFor(32)} jobs per run\n`,
    );
    console.log(table(rows));
    console.log(`\nGET /control-plane/health on the same server, 32 clients: ${health.toFixed(1)} per second.`);
    if (!redis) console.log("Redis not installed (apt-get install redis-server): BullMQ skipped.");
    if (!postgres) console.log("PostgreSQL not installed (apt-get install postgresql): pg-boss skipped.");
    console.log("Targets: cycles/s at 32 workers ≥ 0.5 × pg-boss's; claim p99 at 32 workers ≤ 50 ms.");
  } finally {
    await server.stop();
    await redis?.stop();
    await postgres?.stop();
    removeTempDirs();
  }
}

function skipped(name: string, error: unknown): null {
  console.log(`${name} is installed but did not start (${error instanceof Error ? error.message : error}); skipped.`);
  return null;
}

async function restarts() {
  const rows = [["stored jobs", "data (JSON on disk)", "spawn → /health", "RSS after start", "peak RSS"]];
  for (const jobs of RESTART_JOBS) {
    console.log(`Seeding ${jobs} pending jobs for the restart measurement...`);
    const result = await measureRestart(jobs);
    rows.push([
      String(jobs),
      `${(result.jsonBytes / 1048576).toFixed(1)} MiB`,
      `${result.seconds.toFixed(1)} s`,
      `${result.rssMiB.toFixed(0)} MiB`,
      `${result.peakMiB.toFixed(0)} MiB`,
    ]);
    removeTempDirs();
  }
  console.log("\nRestart of local mode (one repo, one stream of pending jobs; target: 100k ≤ 10 s)\n");
  console.log(table(rows));
}

main().then(
  // Lease timers scheduled by convex-test keep the event loop alive: exit explicitly.
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
