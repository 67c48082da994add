// @vitest-environment node
/**
 * Compaction while running, under `kill -9` at random moments: the real server compacts its
 * journal every few writes (a tiny threshold) while writers enqueue jobs; after each kill every
 * acknowledged job must be in what the next start reads.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { openJournalStore } from "../../scripts/local/store";
import { apiClient } from "../../scripts/bench/socket-workers";
import { localServerPool, makeTempDir, removeTempDirs } from "../support/local-process";

const servers = localServerPool();
afterAll(async () => {
  await servers.killAll();
  removeTempDirs();
}, 300_000);

const CYCLES = 8;
const WRITERS = 8;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A compaction is under way (or was cut short): its temporary file, or segments it has not removed. */
function compacting(dataDir: string): boolean {
  const files = readdirSync(dataDir);
  return files.includes("snapshot.jsonl.tmp") || files.filter((name) => name.startsWith("journal-")).length > 1;
}

test("kill -9 at random moments of running compactions loses no acknowledged write", async () => {
  const cwd = makeTempDir();
  const dataDir = join(makeTempDir(), "data");
  const env = { IAS_LOCAL_COMPACT_ABOVE_BYTES: "4096" };
  const acknowledged = new Set<string>();
  let interrupted = 0;
  let compactions = 0;
  let token: string | undefined;
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const server = await servers.start({ cwd, dataDir, env, ...(token ? { serviceToken: token } : {}) });
    token = server.serviceToken;
    const api = apiClient(server.apiUrl, server.serviceToken);
    const workspaceId = (await api("/v1/workspaces/resolve", { slug: "local" })).workspaceId;
    const repoId = (await api("/v1/repos/upsert", { workspaceId, remoteUrlHash: "crash", status: "active" })).repoId;
    let stop = false;
    const writers = Array.from({ length: WRITERS }, async (_, writer) => {
      for (let i = 0; !stop; i++) {
        try {
          const body = { workspaceId, repoId, kind: "work", prompt: `cycle ${cycle} writer ${writer} job ${i}` };
          acknowledged.add((await api("/v1/jobs/enqueue", body)).jobId);
        } catch {
          return; // the connection died with the server: this one was never acknowledged
        }
      }
    });
    // Kill soon after a compaction shows on disk (a temporary snapshot, or a second segment):
    // a random moment inside it or just after. Odd cycles kill at a plain random moment.
    const until = Date.now() + 2_500 + Math.random() * 2_500;
    while (Date.now() < until && (cycle % 2 === 1 || !compacting(dataDir))) await sleep(1);
    await sleep(Math.random() * 30);
    await server.kill("SIGKILL");
    stop = true;
    await Promise.all(writers);
    compactions += (server.output().match(/Compacted the journal/g) ?? []).length;
    if (compacting(dataDir)) interrupted += 1;

    const store = openJournalStore(dataDir);
    const missing = [...acknowledged].filter((id) => !store.state.documents.has(id));
    await store.close();
    expect(missing).toEqual([]);
  }
  expect(compactions).toBeGreaterThan(0); // compactions finished while writes went on
  expect(interrupted).toBeGreaterThan(0); // and some kills landed in the middle of one
  expect(existsSync(join(dataDir, "snapshot.jsonl"))).toBe(true);

  // The real server starts on what is left and serves an acknowledged job.
  const server = await servers.start({ cwd, dataDir, env, serviceToken: token! });
  const api = apiClient(server.apiUrl, server.serviceToken);
  const workspaceId = (await api("/v1/workspaces/resolve", { slug: "local" })).workspaceId;
  const last = [...acknowledged].at(-1)!;
  expect((await api("/v1/jobs/get", { workspaceId, jobId: last })).job._id).toBe(last);
  expect(await server.stop()).toBe(0);
}, 300_000);
