/**
 * `npm run bench`: what the job queue's worker calls cost, and how fast local mode serves them.
 *
 * 1. Documents and bytes read and written per call (SPEC §6 budget), on a small workspace and on
 *    one with 10,000 pending + 10,000 finished jobs, 200 workers and 50 repos.
 * 2. Local-server throughput over real sockets: 32 concurrent workers doing full
 *    claim → heartbeat → complete cycles, next to the same server's `/control-plane/health`
 *    requests per second, and the ratio of the two.
 * 3. One stream (bench/single-stream.ts): claim-next p50/p99 with 0, 10,000 and 100,000 jobs
 *    waiting in one stream against an empty stream on the same server, and list-for-job's first
 *    page on a 10,000-event job against a 60-event one. Targets: both ratios ≤ 2.
 *
 *   npm run bench                       all three
 *   npm run bench -- costs throughput   some of them, by name ("single-stream" for 3)
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
import { measureSingleStream, BIG_JOB_EVENTS, SMALL_JOB_EVENTS, type Percentiles } from "./bench/single-stream";
import { apiClient, enqueueMany, healthRate, runWorkerPool } from "./bench/socket-workers";
import { convexModuleMap } from "./local/modules";

const WORKERS = 32;
const JOBS = 640;
const HEALTH_SECONDS = 3;

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

const ms = ({ p50, p99 }: Percentiles) => `${p50.toFixed(1)} / ${p99.toFixed(1)} ms`;

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
      ms(result.big),
      ms(result.empty),
      (result.big.p50 / result.empty.p50).toFixed(2),
      ms(result.bigEvents),
      ms(result.smallEvents),
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

async function throughput() {
  const server = await spawnLocalServer();
  try {
    const api = apiClient(server.apiUrl, server.serviceToken);
    const workspaceId = (await api("/v1/workspaces/resolve", { slug: "local" })).workspaceId;
    const repoId = (await api("/v1/repos/upsert", { workspaceId, remoteUrlHash: "bench", status: "active" })).repoId;
    await enqueueMany(api, workspaceId, repoId, JOBS);
    const cpuBefore = cpuMsOf(server.proc.pid);
    const pool = await runWorkerPool({ api, workspaceId, repoId, workers: WORKERS });
    const cpuPerCycle = (cpuMsOf(server.proc.pid) - cpuBefore) / pool.claims.length;
    const health = await healthRate(server.apiUrl, WORKERS, HEALTH_SECONDS * 1000);
    const seconds = pool.elapsedMs / 1000;
    const cycles = pool.claims.length / seconds;
    const requests = pool.requests / seconds;
    console.log(`\nLocal server over sockets, ${WORKERS} concurrent workers, ${pool.claims.length} jobs\n`);
    console.log(
      table([
        ["measure", "per second"],
        ["claim → heartbeat → complete cycles", cycles.toFixed(1)],
        ["worker requests (3 per cycle + final empty claims)", requests.toFixed(1)],
        ["GET /control-plane/health (same server, 32 clients)", health.toFixed(1)],
        ["worker requests / health requests", (requests / health).toFixed(2)],
      ]),
    );
    // CPU time barely depends on what else the machine runs; the rates above do.
    console.log(
      `\nServer CPU per cycle: ${Number.isNaN(cpuPerCycle) ? "— (no /proc here)" : `${cpuPerCycle.toFixed(1)} ms`}`,
    );
  } finally {
    await server.stop();
  }
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

const SECTIONS = { costs, throughput, "single-stream": singleStream };

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
