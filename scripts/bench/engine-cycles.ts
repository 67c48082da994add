/**
 * Profiling aid: claim → heartbeat → complete cycles straight through the engine's `t.fetch`
 * (no sockets), `concurrency` at a time, printing CPU per cycle of this process. DIRECT=1 calls
 * the lease functions themselves instead, as the HTTP front thread's calls reach the engine.
 *
 *   npx tsx scripts/bench/engine-cycles.ts [cycles] [concurrency]
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { internal } from "../../convex/_generated/api";
import { inProcessEngine } from "./in-process-engine";
import { summarize, type Profile } from "./profile-summary";

const cycles = Number(process.argv[2] ?? 600);
const concurrency = Number(process.argv[3] ?? 32);

async function main() {
  const { engine, api, close } = await inProcessEngine("engine-cycles");
  const { workspaceId } = await engine.t.mutation(internal.workspaces.ensureLocalWorkspace, { slug: "local" });
  const { repoId } = await api("/v1/repos/upsert", { workspaceId, remoteUrlHash: "bench", status: "active" });
  const workers = await Promise.all(
    Array.from({ length: concurrency }, async (_, i) => {
      const name = `e-${i}`;
      const registered = await api("/v1/workers/heartbeat", {
        workspaceId,
        displayName: name,
        machineFingerprint: name,
        status: "online",
        capabilities: { reposAllowed: [repoId] },
      });
      return registered.workerId as string;
    }),
  );
  /** One lease step: its route, or (DIRECT=1) the function the route calls, answered once durable. */
  const step = async (route: string, path: string, args: Record<string, unknown>) => {
    if (process.env.DIRECT !== "1") return api(route, args);
    const result = (await engine.call(path, {
      caller: { kind: "service" },
      lane: "worker",
      ...args,
    } as never)) as Record<string, any>;
    await engine.durable();
    return result;
  };
  const enqueue = async (count: number) => {
    for (let i = 0; i < count; i++)
      await api("/v1/jobs/enqueue", { workspaceId, repoId, kind: "work", prompt: `Job ${i}` });
  };
  const round = async () => {
    const started = performance.now();
    const cpu = process.cpuUsage();
    let done = 0;
    await Promise.all(
      workers.map(async (workerId) => {
        for (;;) {
          const claimed = await step("/v1/jobs/claim-next", "leases:claimNext", { workspaceId, workerId });
          if (claimed.jobId === null) return;
          const lease = { workspaceId, workerId, jobId: claimed.jobId, claimGeneration: claimed.claimGeneration };
          await step("/v1/jobs/heartbeat", "leases:extendLeaseIfHeld", { ...lease, message: "working" });
          await step("/v1/jobs/complete", "leases:complete", { ...lease, outcome: "done" });
          done++;
        }
      }),
    );
    const used = process.cpuUsage(cpu);
    return { done, ms: performance.now() - started, cpuMs: (used.user + used.system) / 1000 };
  };
  await enqueue(Math.min(cycles, 200));
  await round(); // warm-up
  await enqueue(cycles);
  const profiler = process.env.PROFILE_OUT ? await startProfiler() : null;
  const result = await round();
  if (profiler) {
    const profile = await profiler.stop();
    writeFileSync(process.env.PROFILE_OUT!, JSON.stringify(profile));
    summarize(profile);
  }
  console.log(
    `${result.done} cycles, ${concurrency} at a time: ${((result.done * 1000) / result.ms).toFixed(0)}/s, ` +
      `CPU ${(result.cpuMs / result.done).toFixed(2)} ms/cycle`,
  );
  await close();
}

async function startProfiler() {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<any>((resolve, reject) =>
      session.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result))),
    );
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: 200 });
  await post("Profiler.start");
  return { stop: async () => ((await post("Profiler.stop")) as { profile: Profile }).profile };
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
