/**
 * Profiling aid: what one counter rollup costs in the local engine after `cycles` worker cycles
 * (each leaves deltas behind), batch by batch: deltas folded and milliseconds.
 *
 *   npx tsx scripts/bench/rollup-cost.ts [cycles]
 */
import { internal } from "../../convex/_generated/api";
import { inProcessEngine } from "./in-process-engine";

const cycles = Number(process.argv[2] ?? 1000);

async function main() {
  const { engine, api, close } = await inProcessEngine("rollup-cost");
  const { workspaceId } = await engine.t.mutation(internal.workspaces.ensureLocalWorkspace, { slug: "local" });
  const { repoId } = await api("/v1/repos/upsert", { workspaceId, remoteUrlHash: "bench", status: "active" });
  const { workerId } = await api("/v1/workers/heartbeat", {
    workspaceId,
    displayName: "w",
    machineFingerprint: "w",
    status: "online",
    capabilities: { reposAllowed: [repoId] },
  });
  for (let i = 0; i < cycles; i++)
    await api("/v1/jobs/enqueue", { workspaceId, repoId, kind: "work", prompt: `Job ${i}` });
  for (;;) {
    const claimed = await api("/v1/jobs/claim-next", { workspaceId, workerId });
    if (claimed.jobId === null) break;
    await api("/v1/jobs/complete", {
      workspaceId,
      workerId,
      jobId: claimed.jobId,
      claimGeneration: claimed.claimGeneration,
      outcome: "done",
    });
  }
  await new Promise((resolve) => setTimeout(resolve, 5_200));
  for (;;) {
    const started = performance.now();
    const result = (await engine.call("jobCounters:rollup", {})) as { folded: number; more: boolean };
    console.log(`rollup: ${result.folded} deltas in ${(performance.now() - started).toFixed(1)} ms`);
    if (!result.more) break;
  }
  await close();
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
