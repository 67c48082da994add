/**
 * Runs the `ias` CLI (scripts/cli/bin.mjs, as `npx ias` does) as a child process for end-to-end
 * tests, with `IAS_HOME` in a temporary directory. Every process started here is tracked, and
 * `killCliProcesses()` (afterAll/afterEach) ends whatever is still running.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import type { LocalProcess } from "./local-process";

const BIN = fileURLToPath(new URL("../../scripts/cli/bin.mjs", import.meta.url));

export type CliOptions = { home: string; cwd?: string; env?: Record<string, string>; input?: string };

export type CliProcess = {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** stdout parsed as JSON lines (--json output); lines that are not JSON are skipped. */
  events(): Array<Record<string, any>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves once `predicate` holds for the output so far (polled on every chunk). */
  waitFor(predicate: (process: CliProcess) => boolean, what: string, timeoutMs?: number): Promise<void>;
};

const running = new Set<ChildProcess>();

export function startCli(args: string[], options: CliOptions): CliProcess {
  const proc = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? options.home,
    env: { ...process.env, IAS_HOME: options.home, IAS_URL: "", IAS_WORKSPACE: "", ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  running.add(proc);
  let out = "";
  let err = "";
  const listeners = new Set<() => void>();
  const notify = () => listeners.forEach((listener) => listener());
  proc.stdout!.setEncoding("utf8").on("data", (chunk: string) => ((out += chunk), notify()));
  proc.stderr!.setEncoding("utf8").on("data", (chunk: string) => ((err += chunk), notify()));
  proc.stdin!.end(options.input ?? "");
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once("close", (code: number | null, signal: NodeJS.Signals | null) => {
      running.delete(proc);
      resolve({ code, signal });
      notify();
    }),
  );
  const cli: CliProcess = {
    proc,
    stdout: () => out,
    stderr: () => err,
    events: () =>
      out
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .flatMap((line) => {
          try {
            return [JSON.parse(line)];
          } catch {
            return [];
          }
        }),
    exited,
    waitFor(predicate, what, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (predicate(cli)) return finish(resolve);
          if (proc.exitCode !== null || proc.signalCode !== null)
            finish(() => reject(new Error(`CLI exited before ${what}.\nstdout:\n${out}\nstderr:\n${err}`)));
        };
        const timer = setTimeout(
          () => finish(() => reject(new Error(`Timed out waiting for ${what}.\nstdout:\n${out}\nstderr:\n${err}`))),
          timeoutMs,
        );
        const finish = (then: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          then();
        };
        listeners.add(check);
        check();
      });
    },
  };
  return cli;
}

/** Runs a CLI command to completion. */
export async function runCli(args: string[], options: CliOptions, timeoutMs = 30_000) {
  const cli = startCli(args, options);
  const timer = setTimeout(() => cli.proc.kill("SIGKILL"), timeoutMs);
  const { code } = await cli.exited;
  clearTimeout(timer);
  return {
    code,
    stdout: cli.stdout(),
    stderr: cli.stderr(),
    json: () => JSON.parse(cli.stdout()) as Record<string, any>,
  };
}

export async function killCliProcesses() {
  const exits = [...running].map(
    (proc) => new Promise((resolve) => (proc.once("close", resolve), proc.kill("SIGKILL"))),
  );
  await Promise.all(exits);
}

/** SIGKILLs the process groups led by `pids` (job commands a test left behind); gone ones are skipped. */
export function killProcessGroups(pids: number[]) {
  for (const pid of pids) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }
}

/** Polls `probe` until it returns a value other than undefined (no fixed sleeps in tests). */
export async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Whether a process runs; a zombie (exited, not yet reaped by whoever inherited it) counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = `/proc/${pid}/stat`;
  return !existsSync(stat) || !/^\d+ \(.*\) Z/.test(readFileSync(stat, "utf8"));
}

/** `ias auth login --token-stdin` with the server's service token; the workspace id of "local". */
export async function loginAsService(server: LocalProcess, options: CliOptions): Promise<string> {
  const login = await runCli(
    ["auth", "login", "--url", server.baseUrl, "--workspace", "local", "--token-stdin", "--json"],
    { ...options, input: server.serviceToken },
  );
  expect(login.code, login.stderr).toBe(0);
  return login.json().workspaceId;
}

/** `ias auth login` (device flow) to workspace `workspace`, started; resolves once it printed its approval URL and code. */
export async function startDeviceLogin(
  server: LocalProcess,
  options: CliOptions & { workspace?: string; machineName?: string },
): Promise<{ login: CliProcess; approvalUrl: string; deviceId: string; userCode: string }> {
  const { workspace = "local", machineName = "ci", ...cli } = options;
  const login = startCli(
    ["auth", "login", "--url", server.baseUrl, "--workspace", workspace, "--machine-name", machineName],
    cli,
  );
  await login.waitFor((process) => /code:\s+\S+/.test(process.stdout()), "the approval URL and code");
  const approvalUrl = /(http:\/\/127\.0\.0\.1:\d+\/local\/device\?id=\S+)/.exec(login.stdout())?.[1];
  const userCode = /code:\s+(\S+)/.exec(login.stdout())?.[1];
  if (approvalUrl === undefined || userCode === undefined) throw new Error(`No URL or code in:\n${login.stdout()}`);
  return { login, approvalUrl, deviceId: new URL(approvalUrl).searchParams.get("id")!, userCode };
}

/** Sets the `ias` settings of `home`'s worker.json (written by `ias repo link`): the job command, lease, polling. */
export function setWorkerSettings(home: string, settings: Record<string, unknown>) {
  const path = join(home, "worker.json");
  const config = JSON.parse(readFileSync(path, "utf8"));
  config.ias = settings;
  writeFileSync(path, JSON.stringify(config));
  return config;
}

/** A git checkout at `dir` (created) with `origin` and one empty commit. */
export function makeCheckout(dir: string, origin: string): string {
  mkdirSync(dir, { recursive: true });
  for (const args of [
    ["init", "-q"],
    ["remote", "add", "origin", origin],
    ["-c", "user.email=d@example.com", "-c", "user.name=d", "commit", "-q", "--allow-empty", "-m", "init"],
  ])
    execFileSync("git", args, { cwd: dir });
  return dir;
}
