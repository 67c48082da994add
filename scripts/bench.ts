/**
 * `npm run bench`: what the job queue's worker calls cost, and how fast local mode serves them.
 *
 * 1. Documents and bytes read and written per call (SPEC §6 budget), on a small workspace and on
 *    one with 10,000 pending + 10,000 finished jobs, 200 workers and 50 repos.
 * 2. Local-server throughput over real sockets: 32 concurrent workers doing full
 *    claim → heartbeat → complete cycles, next to the same server's `/control-plane/health`
 *    requests per second, and the ratio of the two.
 * 3. Live subscriptions (the Convex sync protocol): enqueue rate and commit-to-update latency
 *    with 100 subscriptions to the Console's job list (bench/sync-subscriptions.ts).
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
import { apiClient, enqueueMany, healthRate, runWorkerPool } from "./bench/socket-workers";
import { measureSubscriptions, SUBSCRIPTIONS } from "./bench/sync-subscriptions";
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

async function main() {
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

  const server = await spawnLocalServer();
  try {
    const api = apiClient(server.apiUrl, server.serviceToken);
    const workspaceId = (await api("/v1/workspaces/resolve", { slug: "local" })).workspaceId;
    const repoId = (await api("/v1/repos/upsert", { workspaceId, remoteUrlHash: "bench", status: "active" })).repoId;
    await enqueueMany(api, workspaceId, repoId, JOBS);
    const pool = await runWorkerPool({ api, workspaceId, repoId, workers: WORKERS });
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
    console.log(
      `\nLive subscriptions (ConvexClient over WebSockets, ${SUBSCRIPTIONS} subscriptions to jobsConsole:list)\n`,
    );
    console.log(table([["measure", "value"], ...(await measureSubscriptions(server))]));
  } finally {
    await server.stop();
    removeTempDirs();
  }
}

main().then(
  // Lease timers scheduled by convex-test keep the event loop alive: exit explicitly.
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
