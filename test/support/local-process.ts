/**
 * Runs the local-mode server (`npm start`) as a real child process for socket-level tests and
 * benchmarks. Each spawn gets its own temporary working directory (so `.env.local` never lands
 * in the repo) and, unless given, its own data directory and a free port.
 *
 *   const server = await spawnLocalServer();
 *   await fetch(`${server.apiUrl}/health`);
 *   await server.stop();                       // SIGTERM, graceful
 *   const again = await spawnLocalServer({ dataDir: server.dataDir, serviceToken: server.serviceToken });
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseDotEnv, SERVICE_TOKEN_VAR } from "../../scripts/local/env";

/** What `npm start` runs: the server bundled (scripts/local/mainBundle.mjs), or through tsx. */
const SCRIPT = fileURLToPath(new URL("../../scripts/start.mjs", import.meta.url));
const SOURCES = fileURLToPath(new URL("../../scripts/local-server.ts", import.meta.url));
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const LISTENING = /IAS local control plane listening on (http:\/\/127\.0\.0\.1:(\d+))/;
const PRINTED_TOKEN = /Service token: (ias_[A-Za-z0-9_-]+)/;

export type SpawnOptions = {
  /** Default: a fresh temporary directory. Reuse one to test restarts. */
  dataDir?: string;
  /** Default: 0, a free port chosen by the server (read back from its output). null: no flag. */
  port?: number | null;
  /**
   * Default: a random token passed in the environment. null: the server uses `.env.local` in
   * `cwd`, or generates one there (read back from its output or that file).
   */
  serviceToken?: string | null;
  /** Extra environment for the child (on top of this process's). */
  env?: Record<string, string | undefined>;
  /** Working directory (where `.env.local` lives). Default: a fresh temporary directory. */
  cwd?: string;
  /** Extra command-line arguments. */
  args?: string[];
  /** Run scripts/local-server.ts through tsx, as `npm start` does when it cannot bundle it. */
  throughTsx?: boolean;
  startTimeoutMs?: number;
};

export type LocalProcess = {
  /** `http://127.0.0.1:<port>`: the origin (integration routes live outside /control-plane). */
  baseUrl: string;
  /** `${baseUrl}/control-plane` */
  apiUrl: string;
  port: number;
  dataDir: string;
  cwd: string;
  serviceToken: string;
  proc: ChildProcess;
  /** Everything printed so far (stdout and stderr interleaved). */
  output(): string;
  /** SIGTERM and wait for the exit (SIGKILL after the timeout). Resolves to the exit code. */
  stop(timeoutMs?: number): Promise<number | null>;
  /** Sends a signal and waits for the process to end. */
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

const tempDirs: string[] = [];

export function makeTempDir(prefix = "ias-local-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Removes every directory `makeTempDir` made in this test file (call from afterAll). */
export function removeTempDirs() {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Starts the server and resolves once it prints its listening line. */
export async function spawnLocalServer(options: SpawnOptions = {}): Promise<LocalProcess> {
  const started = startProcess(options);
  const { proc, output, exited } = started;
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`Local server did not start within ${timeoutMs} ms. Output:\n${output()}`));
    }, timeoutMs);
    const onData = () => {
      const match = LISTENING.exec(output());
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    proc.stdout!.on("data", onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`Local server exited (code ${code}, signal ${signal}) before listening. Output:\n${output()}`));
    });
  });
  const serviceToken =
    started.serviceToken ?? PRINTED_TOKEN.exec(output())?.[1] ?? tokenInEnvFile(join(started.cwd, ".env.local"));
  if (serviceToken === undefined) throw new Error(`No service token known or printed. Output:\n${output()}`);

  const kill = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    return exited;
  };
  return {
    baseUrl: url,
    apiUrl: `${url}/control-plane`,
    port: Number(new URL(url).port),
    dataDir: started.dataDir,
    cwd: started.cwd,
    serviceToken,
    proc,
    output,
    kill,
    async stop(timeoutMs = 10_000) {
      const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
      const { code } = await kill("SIGTERM");
      clearTimeout(timer);
      return code;
    },
  };
}

/** POSTs `body` to `route` of the server's API with its service token; the parsed answer, ok or not. */
export async function callAsService(server: LocalProcess, route: string, body: object): Promise<Record<string, any>> {
  const response = await fetch(`${server.apiUrl}${route}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${server.serviceToken}` },
    body: JSON.stringify(body),
  });
  return (await response.json()) as Record<string, any>;
}

/** Runs a server that is expected to refuse to start; resolves with its exit code and output. */
export async function runLocalServerToExit(options: SpawnOptions = {}, timeoutMs = 30_000) {
  const { proc, output, exited } = startProcess(options);
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const { code, signal } = await exited;
  clearTimeout(timer);
  return { code, signal, output: output() };
}

function tokenInEnvFile(path: string): string | undefined {
  return existsSync(path) ? parseDotEnv(readFileSync(path, "utf8"))[SERVICE_TOKEN_VAR] : undefined;
}

function startProcess(options: SpawnOptions) {
  const cwd = options.cwd ?? makeTempDir();
  const dataDir = options.dataDir ?? join(makeTempDir(), "data");
  const serviceToken =
    options.serviceToken === null
      ? undefined
      : (options.serviceToken ?? `ias_${randomBytes(32).toString("base64url")}`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    IAS_CONTROL_PLANE_SERVICE_TOKEN: serviceToken ?? "",
    ...options.env,
  };
  if (options.env?.PORT === undefined) delete env.PORT; // a developer's PORT must not leak in
  const portFlag = options.port === null ? [] : ["--port", String(options.port ?? 0)];
  const entry = options.throughTsx ? ["--import", TSX_LOADER, SOURCES] : [SCRIPT];
  const args = [...entry, ...portFlag, "--data-dir", dataDir, ...(options.args ?? [])];
  const proc = spawn(process.execPath, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let printed = "";
  proc.stdout!.setEncoding("utf8").on("data", (chunk: string) => (printed += chunk));
  proc.stderr!.setEncoding("utf8").on("data", (chunk: string) => (printed += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once("close", (code: number | null, signal: NodeJS.Signals | null) => resolve({ code, signal }));
  });
  return { proc, cwd, dataDir, serviceToken, output: () => printed, exited };
}

/**
 * Spawns servers and remembers them, so a suite's `afterAll` can end every one of them, even
 * those a failing test left running: `afterAll(() => servers.killAll())`.
 */
export function localServerPool() {
  const running: LocalProcess[] = [];
  return {
    async start(options: SpawnOptions = {}): Promise<LocalProcess> {
      const server = await spawnLocalServer(options);
      running.push(server);
      return server;
    },
    async killAll() {
      await Promise.all(running.map((server) => server.kill("SIGKILL")));
    },
  };
}
