/**
 * Profiling aid (not part of `npm run bench`): starts the local server with `--cpu-prof`, runs
 * 32 workers' claim → heartbeat → complete cycles against it, stops it, and prints the server's
 * CPU per cycle and where the profile says the time went (self time by function and by file).
 *
 *   npx tsx scripts/bench/profile-cycles.ts [workers] [jobs] [profile dir]
 *
 * PROFILE=0 skips the profiler (rates and CPU only); QUIET=1 starts the server without its
 * request log; SERVER_FLAGS="--flag ..." gives the server's Node extra flags (say --trace-gc, or
 * --cpu-prof --cpu-prof-dir=D, which profiles the worker threads too); SERVER_LOG=FILE appends
 * the server's standard output (its log, --trace-gc lines) to FILE. The profiler is started
 * and stopped by SIGUSR2 through profile-hook.mjs (PROFILE_HOOK names another), so only the
 * measured round counts.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { driveCycles, localWorkers } from "./cycles";
import { summarize, type Profile } from "./profile-summary";
import { apiClient, enqueueMany } from "./socket-workers";

const workers = Number(process.argv[2] ?? 32);
const jobs = Number(process.argv[3] ?? 800);
const dir = process.argv[4] ?? "/tmp/prof";

/** User and system CPU milliseconds of a process so far (Linux /proc, 100 ticks a second). */
function cpuOf(pid: number): { user: number; system: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return { user: Number(fields[11]) * 10, system: Number(fields[12]) * 10 };
}

/** The local server with extra Node flags (NODE_OPTIONS refuses --cpu-prof). */
async function startServer(nodeFlags: string[], extraEnv: Record<string, string>) {
  const cwd = mkdtempSync(join(tmpdir(), "ias-prof-"));
  const serviceToken = `ias_${randomBytes(32).toString("base64url")}`;
  // What `npm start` runs (the server bundled, or through tsx).
  const script = fileURLToPath(new URL("../start.mjs", import.meta.url));
  const proc = spawn(
    process.execPath,
    [
      ...nodeFlags,
      script,
      "--port",
      "0",
      "--data-dir",
      join(cwd, "data"),
      ...(process.env.QUIET === "1" ? ["--quiet"] : []),
    ],
    {
      cwd,
      env: { ...process.env, ...extraEnv, IAS_CONTROL_PLANE_SERVICE_TOKEN: serviceToken },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let printed = "";
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      printed += chunk;
      if (process.env.SERVER_LOG) appendFileSync(process.env.SERVER_LOG, chunk);
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(printed);
      if (match) resolve(match[1]!);
    });
    proc.once("exit", (code) => reject(new Error(`server exited ${code}: ${printed}`)));
  });
  const exited = new Promise((resolve) => proc.once("exit", resolve));
  return {
    /** Sends SIGUSR2 to the profiling hook and waits for its line. */
    signal(line: string) {
      const seen = printed.length;
      proc.kill("SIGUSR2");
      return new Promise<void>((resolve) => {
        const check = () => (printed.indexOf(line, seen) >= 0 ? resolve() : setTimeout(check, 20));
        check();
      });
    },
    apiUrl: `${url}/control-plane`,
    serviceToken,
    proc,
    async stop() {
      proc.kill("SIGTERM");
      await exited;
      rmSync(cwd, { recursive: true, force: true });
    },
  };
}

async function main() {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const profiling = process.env.PROFILE !== "0";
  const hook = process.env.PROFILE_HOOK ?? fileURLToPath(new URL("./profile-hook.mjs", import.meta.url));
  const extraFlags = (process.env.SERVER_FLAGS ?? "").split(" ").filter(Boolean);
  const server = await startServer([...extraFlags, ...(profiling && hook ? ["--import", hook] : [])], {
    PROFILE_OUT: join(dir, "window.cpuprofile"),
  });
  const api = apiClient(server.apiUrl, server.serviceToken);
  const workspaceId = (await api("/v1/workspaces/resolve", { slug: "local" })).workspaceId;
  const repoId = (await api("/v1/repos/upsert", { workspaceId, remoteUrlHash: "bench", status: "active" })).repoId;
  await enqueueMany(api, workspaceId, repoId, jobs);
  const pool = await localWorkers(api, workspaceId, repoId, workers, "p");
  // Warm-up round (JIT, lazy module paths), then the measured round.
  await driveCycles(pool);
  await enqueueMany(api, workspaceId, repoId, jobs);
  if (profiling) await server.signal("PROFILING");
  const before = cpuOf(server.proc.pid!);
  const client = process.cpuUsage();
  const result = await driveCycles(pool);
  const after = cpuOf(server.proc.pid!);
  const user = after.user - before.user;
  const system = after.system - before.system;
  const cpu = user + system;
  const clientUsed = process.cpuUsage(client);
  const clientMs = (clientUsed.user + clientUsed.system) / 1000;
  if (profiling) await server.signal("PROFILED");
  console.log(
    `${workers} workers, ${result.cycles} cycles: ${result.perSecond.toFixed(1)}/s, claim p50/p99 ` +
      `${result.claimP50.toFixed(1)}/${result.claimP99.toFixed(1)} ms, server CPU ${(cpu / result.cycles).toFixed(2)} ms/cycle ` +
      `(user ${(user / result.cycles).toFixed(2)}, system ${(system / result.cycles).toFixed(2)}), ` +
      `client CPU ${(clientMs / result.cycles).toFixed(2)} ms/cycle`,
  );
  await server.stop();
  if (!profiling) return;
  const file = "window.cpuprofile";
  summarize(JSON.parse(readFileSync(join(dir, file), "utf8")) as Profile);
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
