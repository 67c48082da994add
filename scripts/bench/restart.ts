/**
 * Restart cost of local mode: a data directory seeded with N pending jobs (compacted, as a
 * server leaves it), then a real `npm start` process timed from spawn to its first `/health`
 * answer, with its resident memory then and the data's JSON size on disk.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir, spawnLocalServer } from "../../test/support/local-process";
import { seedDataDir } from "./seed-data-dir";

export type RestartResult = { jobs: number; jsonBytes: number; seconds: number; rssMiB: number; peakMiB: number };

function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
}

export async function measureRestart(jobs: number): Promise<RestartResult> {
  const dataDir = join(makeTempDir(), "data");
  await seedDataDir(dataDir, { pending: jobs });
  const jsonBytes = statSync(join(dataDir, "snapshot.jsonl")).size;
  const started = performance.now();
  const server = await spawnLocalServer({ dataDir, startTimeoutMs: 600_000 });
  try {
    const health = await fetch(`${server.apiUrl}/health`);
    if (health.status !== 200) throw new Error(`/health answered ${health.status}`);
    const seconds = (performance.now() - started) / 1000;
    return { jobs, jsonBytes, seconds, ...memoryOf(server.proc.pid!) };
  } finally {
    await server.stop();
  }
}
