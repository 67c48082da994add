/**
 * Redis and PostgreSQL for the benchmark's comparison, started by the benchmark itself on
 * 127.0.0.1 in temporary directories and stopped at its end. Each is skipped (null) when its
 * Debian package is not installed, and always in CI. Both are made as durable as local mode:
 * Redis with `appendfsync always`, PostgreSQL with its defaults (fsync, synchronous_commit on).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export type Service = { name: string; port: number; stop(): Promise<void> };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

function onPath(command: string): string | null {
  const found = spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" });
  return found.status === 0 ? found.stdout.trim() : null;
}

async function waitForOutput(proc: ChildProcess, pattern: RegExp, what: string, timeoutMs = 30_000) {
  let seen = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start:\n${seen}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout?.on("data", onData);
    proc.stderr?.on("data", onData);
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}):\n${seen}`));
    });
  });
}

function stopper(proc: ChildProcess, dir: string) {
  return async () => {
    if (proc.exitCode === null) {
      const exited = new Promise((resolve) => proc.once("exit", resolve));
      proc.kill("SIGTERM");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
}

export async function startRedis(): Promise<Service | null> {
  const binary = process.env.CI ? null : onPath("redis-server");
  if (binary === null) return null;
  const dir = mkdtempSync(join(tmpdir(), "ias-bench-redis-"));
  const port = await freePort();
  const args = ["--bind", "127.0.0.1", "--port", String(port), "--dir", dir, "--save", ""];
  args.push("--appendonly", "yes", "--appendfsync", "always", "--maxmemory-policy", "noeviction");
  const proc = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
  await waitForOutput(proc, /Ready to accept connections/, "redis-server");
  return { name: "Redis (appendfsync always)", port, stop: stopper(proc, dir) };
}

/** The newest installed PostgreSQL's bin directory (Debian: /usr/lib/postgresql/<major>/bin). */
function postgresBin(): string | null {
  const root = "/usr/lib/postgresql";
  if (process.env.CI || !existsSync(root)) return null;
  const majors = readdirSync(root)
    .filter((name) => existsSync(join(root, name, "bin", "postgres")))
    .sort((a, b) => Number(b) - Number(a));
  return majors.length === 0 ? null : join(root, majors[0]!, "bin");
}

export async function startPostgres(): Promise<Service | null> {
  const bin = postgresBin();
  if (bin === null) return null;
  const dir = mkdtempSync(join(tmpdir(), "ias-bench-pg-"));
  // PostgreSQL refuses to run as root: run it as the package's `postgres` user then.
  let identity: { uid: number; gid: number } | object = {};
  if (process.getuid?.() === 0) {
    const uid = Number(spawnSync("id", ["-u", "postgres"], { encoding: "utf8" }).stdout.trim());
    const gid = Number(spawnSync("id", ["-g", "postgres"], { encoding: "utf8" }).stdout.trim());
    chmodSync(dir, 0o700);
    chownSync(dir, uid, gid);
    identity = { uid, gid };
  }
  const data = join(dir, "data");
  const init = spawnSync(join(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"], {
    ...identity,
    encoding: "utf8",
  });
  if (init.status !== 0) throw new Error(`initdb failed:\n${init.stdout}${init.stderr}`);
  const port = await freePort();
  const proc = spawn(join(bin, "postgres"), ["-D", data, "-h", "127.0.0.1", "-p", String(port), "-k", dir], {
    ...identity,
    stdio: ["ignore", "pipe", "pipe"],
  });
  await waitForOutput(proc, /database system is ready to accept connections/, "postgres");
  return { name: "PostgreSQL (fsync, synchronous_commit on)", port, stop: stopper(proc, dir) };
}
