/**
 * Profiling aid (not part of `npm run bench`): CPU per call of the engine's layers, in process,
 * one call at a time, so a change to one layer can be weighed without sockets or the disk: a plain
 * HTTP action (/health), a routed call with the service token, an inline query and mutation, a
 * registered mutation by path, and durable() with nothing to wait for.
 *
 *   npx tsx scripts/bench/micro-costs.ts
 */
import { internal } from "../../convex/_generated/api";
import { inProcessEngine } from "./in-process-engine";

async function main() {
  const { engine, post, close } = await inProcessEngine("micro-costs");
  await engine.t.mutation(internal.workspaces.ensureLocalWorkspace, { slug: "local" });
  const cases: Array<[string, () => Promise<unknown>]> = [
    ["GET /health (HTTP action, no transaction)", async () => (await engine.t.fetch("/control-plane/health")).text()],
    [
      "POST workspaces/resolve (route + query)",
      async () => (await post("/v1/workspaces/resolve", { slug: "local" })).text(),
    ],
    ["inline query", () => engine.t.query(async () => null)],
    ["inline mutation (no writes)", () => engine.t.mutation(async () => null)],
    [
      "mutation by path ensureLocalWorkspace",
      () => engine.t.mutation(internal.workspaces.ensureLocalWorkspace, { slug: "local" }),
    ],
    ["durable()", () => engine.durable()],
  ];
  for (const [name, run] of cases) {
    for (let i = 0; i < 200; i++) await run();
    const cpu = process.cpuUsage();
    const n = 2000;
    for (let i = 0; i < n; i++) await run();
    const used = process.cpuUsage(cpu);
    console.log(`${(((used.user + used.system) / n) | 0).toString().padStart(6)} µs  ${name}`);
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
