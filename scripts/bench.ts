/**
 * `npm run bench`: what the project measures instead of timing tests.
 *
 * 1. Documents and bytes read and written per call (SPEC §6 budget), on a small workspace and on
 *    one with 10,000 pending + 10,000 finished jobs, 200 workers and 50 repos.
 * 2. Local-server throughput over real sockets: 1 / 8 / 32 concurrent workers doing full
 *    claim → heartbeat → complete cycles (per second, claim and cycle p50/p99, server CPU per
 *    cycle), and the same cycle through BullMQ on Redis and pg-boss on PostgreSQL when those are
 *    installed (started here on loopback, never in CI), interleaved in the same run, as ratios.
 * 3. Restart: time from spawn to `/health` and resident memory with 0 / 10k / 100k stored jobs.
 * 4. One stream (bench/single-stream.ts): claim-next p50/p99 with 0, 10,000 and 100,000 jobs
 *    waiting in one stream against an empty stream on the same server, and list-for-job's first
 *    page on a 10,000-event job against a 60-event one. Targets: both ratios ≤ 2.
 * 5. `ias --help` startup, bundled and through tsx, against bare Node (target ≤ 300 ms).
 * 6. Live subscriptions (the Convex sync protocol): enqueue rate and commit-to-update latency
 *    with 100 subscriptions to the Console's job list (bench/sync-subscriptions.ts).
 * 7. Storage: the bytes a short and an hour-long job occupy with their timeline (bench/storage.ts).
 * 8. The conflict matrix: which pairs of hot calls would conflict under Convex's OCC, on
 *    different repos and on the same repo (bench/conflict-matrix.ts). Target: none across repos.
 *
 *   npm run bench                               all eight
 *   npm run bench -- costs cycles               some, by name (costs, cycles, restart, single-stream,
 *                                               cli-startup, subscriptions, storage, conflicts)
 *   npm run bench -- restart --quick            the restart without the 100k case
 *   BENCH_SIZES=0,10000 BENCH_SAMPLES=50 npm run bench -- single-stream   smaller or quicker
 */
import { readFileSync } from "node:fs";
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
import { conflictMatrix } from "./bench/conflict-matrix";
import { bullmqCycles, driveCycles, localWorkers, pgBossCycles, type CycleResult } from "./bench/cycles";
import { measureRestart } from "./bench/restart";
import { startPostgres, startRedis } from "./bench/services";
import { measureSingleStream, BIG_JOB_EVENTS, SMALL_JOB_EVENTS, type Percentiles } from "./bench/single-stream";
import { measureCliStartup, STARTUP_TARGET_MS } from "./bench/cli-startup";
import { apiClient, enqueueMany, healthRate } from "./bench/socket-workers";
import { measureJobStorage } from "./bench/storage";
import { measureSubscriptions, SUBSCRIPTIONS } from "./bench/sync-subscriptions";
import { convexModuleMap } from "./local/modules";

const WORKER_COUNTS = [1, 8, 32];
/** Jobs per run: enough cycles for a stable rate and a meaningful p99. */
const jobsFor = (workers: number) => Math.max(150, workers * 25);
const HEALTH_SECONDS = 3;
const RESTART_JOBS = process.argv.includes("--quick") ? [0, 10_000] : [0, 10_000, 100_000];

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

const STREAM_SIZES = (process.env.BENCH_SIZES ?? "0,10000,100000").split(",").map(Number);
const STREAM_SAMPLES = Number(process.env.BENCH_SAMPLES ?? 200);

const percentiles = ({ p50, p99 }: Percentiles) => `${p50.toFixed(1)} / ${p99.toFixed(1)} ms`;

async function singleStream() {
  console.log(`\nOne stream: ${STREAM_SAMPLES} samples per cell, seeded in process (see bench/single-stream.ts)...`);
  const rows = [
    [
      "jobs waiting in the stream",
      "seed / server start",
      "claim-next p50 / p99",
      "empty stream p50 / p99",
      "p50 ratio",
      `list-for-job, ${BIG_JOB_EVENTS} events`,
      `${SMALL_JOB_EVENTS} events`,
      "p50 ratio",
    ],
  ];
  for (const waiting of STREAM_SIZES) {
    const result = await measureSingleStream(waiting, STREAM_SAMPLES);
    rows.push([
      waiting.toLocaleString("en"),
      `${result.seedSeconds.toFixed(1)} s / ${result.startSeconds.toFixed(1)} s`,
      percentiles(result.big),
      percentiles(result.empty),
      (result.big.p50 / result.empty.p50).toFixed(2),
      percentiles(result.bigEvents),
      percentiles(result.smallEvents),
      (result.bigEvents.p50 / result.smallEvents.p50).toFixed(2),
    ]);
  }
  console.log("\nclaim-next in one stream (one repo, one requirement set), over sockets; targets: ratios ≤ 2\n");
  console.log(table(rows));
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
    const cpuPerCycle: string[] = [];
    const rows = [["workers", "system", "cycles/s", "claim p50 / p99 ms", "cycle p50 / p99 ms", "local ÷ this"]];
    for (const workers of WORKER_COUNTS) {
      const jobs = jobsFor(workers);
      // Interleaved: each system runs at this worker count before the next count.
      await enqueueMany(api, workspaceId, repoId, jobs);
      const cpuBefore = cpuMsOf(server.proc.pid);
      const local = await driveCycles(await localWorkers(api, workspaceId, repoId, workers, `w${workers}`));
      cpuPerCycle.push(`${workers}: ${((cpuMsOf(server.proc.pid) - cpuBefore) / jobs).toFixed(1)} ms`);
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
    // CPU time barely depends on what else the machine runs; the rates above do.
    console.log(`Server CPU per cycle (by worker count): ${cpuPerCycle.join(", ")}.`);
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
  const rows = [
    [
      "stored jobs",
      "data (JSON on disk)",
      "spawn → /health",
      "RSS after start",
      "peak RSS",
      "RSS / JSON",
      "(RSS − empty) / JSON",
    ],
  ];
  let emptyMiB: number | undefined;
  for (const jobs of RESTART_JOBS) {
    console.log(`Seeding ${jobs} pending jobs for the restart measurement...`);
    const result = await measureRestart(jobs);
    const jsonMiB = result.jsonBytes / 1048576;
    if (jobs === 0) emptyMiB = result.rssMiB;
    // An empty directory's snapshot is a header line: no ratio.
    const ratio = (mib: number) => (jobs > 0 ? `${(mib / jsonMiB).toFixed(2)} ×` : "—");
    rows.push([
      String(jobs),
      `${jsonMiB.toFixed(1)} MiB`,
      `${result.seconds.toFixed(1)} s`,
      `${result.rssMiB.toFixed(0)} MiB`,
      `${result.peakMiB.toFixed(0)} MiB`,
      ratio(result.rssMiB),
      emptyMiB === undefined ? "—" : ratio(result.rssMiB - emptyMiB),
    ]);
    removeTempDirs();
  }
  console.log(
    "\nRestart of local mode (one repo, one stream of pending jobs; targets: 100k ≤ 10 s, RSS ≤ 2 × the JSON)\n",
  );
  console.log(table(rows));
  console.log("\nRSS / JSON is the whole process; (RSS − empty) / JSON what the data adds to the empty server's RSS.");
}

/** User + system CPU milliseconds a process has used (Linux /proc; NaN elsewhere). */
function cpuMsOf(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    // utime and stime are fields 14 and 15 of the line, in clock ticks (100 per second on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

function cliStartup() {
  const startup = measureCliStartup();
  console.log(`\nCLI startup, whole process, 15 runs each (target for the bundle: ≤ ${STARTUP_TARGET_MS} ms)\n`);
  console.log(
    table([
      ["command", "median ms", "min ms", "max ms"],
      ...startup.map((figure) => [
        figure.name,
        figure.medianMs.toFixed(0),
        figure.minMs.toFixed(0),
        figure.maxMs.toFixed(0),
      ]),
    ]),
  );
}

async function subscriptions() {
  const server = await spawnLocalServer();
  try {
    console.log(
      `\nLive subscriptions (ConvexClient over WebSockets, ${SUBSCRIPTIONS} subscriptions to jobsConsole:list)\n`,
    );
    console.log(table([["measure", "value"], ...(await measureSubscriptions(server))]));
  } finally {
    await server.stop();
    removeTempDirs();
  }
}

async function storage() {
  console.log("\nStorage per job, as Convex counts document bytes (index entries come on top)\n");
  const figures = await measureJobStorage();
  console.log(
    table([
      ["job", "job document", "events", "event bytes", "total"],
      ...figures.map((figure) => [
        figure.name,
        `${figure.jobBytes} B`,
        String(figure.events),
        `${figure.eventBytes} B`,
        `${figure.jobBytes + figure.eventBytes} B`,
      ]),
    ]),
  );
}

async function conflicts() {
  const matrix = await conflictMatrix(convexTest(schema, convexModuleMap()));
  console.log(
    "\nConflicts under Convex's OCC (a write of one call inside the other's read set); target: none across repos\n",
  );
  console.log(
    table([["pair", "scope", "conflict"], ...matrix.map((row) => [row.pair, row.scope, row.conflict ?? "—"])]),
  );
}

const SECTIONS = {
  costs,
  conflicts,
  cycles: throughput,
  restart: restarts,
  "single-stream": singleStream,
  "cli-startup": cliStartup,
  subscriptions,
  storage,
};

async function main() {
  const chosen = process.argv.slice(2).filter((name): name is keyof typeof SECTIONS => name in SECTIONS);
  for (const name of chosen.length > 0 ? chosen : (Object.keys(SECTIONS) as Array<keyof typeof SECTIONS>)) {
    await SECTIONS[name]();
  }
  removeTempDirs();
}

main().then(
  // Lease timers scheduled by convex-test keep the event loop alive: exit explicitly.
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
