/**
 * The job command as a process group. It starts detached (its own group), so a terminal's
 * Ctrl-C reaches only the worker, and stopping a job signals everything the command started.
 * When the job ends, however it ended, whatever is left of the group is killed: background
 * children of a finished job must not keep running (and writing) in the checkout.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { sleep } from "./backoff";

export type Exit = { code: number | null; signal: NodeJS.Signals | null };

/** How long to wait for output pipes after the command exited (a daemonised grandchild may hold them). */
const PIPE_CLOSE_GRACE_MS = 2_000;
const GROUP_POLL_MS = 50;

/** Groups that may still have processes; killed synchronously if the worker process exits. */
const liveGroups = new Set<number>();

/** Starts `command` as the leader of a new process group. Throws on argv or env it cannot pass. */
export function spawnGroup(command: string[], cwd: string, env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(command[0]!, command.slice(1), { cwd, env, stdio: ["pipe", "pipe", "pipe"], detached: true });
  if (child.pid !== undefined) liveGroups.add(child.pid);
  child.stdin!.on("error", () => {}); // a command that never reads stdin closes it early
  child.on("error", () => {}); // `started` reports a failure to start; later errors change nothing
  return child;
}

/** Null once the command runs; the error when it could not start (no such binary or cwd). */
export function started(child: ChildProcess): Promise<Error | null> {
  return new Promise((resolve) => {
    child.once("spawn", () => resolve(null));
    child.once("error", (error) => resolve(error));
  });
}

/** Resolves on exit, after the output pipes closed (or a short grace for pipes held elsewhere). */
export function exited(child: ChildProcess): Promise<Exit> {
  return new Promise((resolve) => {
    let exit: Exit | undefined;
    child.once("close", (code, signal) => resolve(exit ?? { code, signal }));
    child.once("exit", (code, signal) => {
      exit = { code, signal };
      setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        resolve(exit!);
      }, PIPE_CLOSE_GRACE_MS).unref();
    });
  });
}

export function signalGroup(group: number, signal: NodeJS.Signals) {
  try {
    process.kill(-group, signal);
  } catch {
    /* ESRCH: the group is empty */
  }
}

/**
 * After the leader exited: lets the rest of the group exit on its own until `graceUntil` (a
 * stop already sent SIGTERM; 0 = no grace), then SIGKILLs whatever is left.
 */
export async function endGroup(group: number, graceUntil: number) {
  while (Date.now() < graceUntil && groupExists(group)) await sleep(GROUP_POLL_MS);
  signalGroup(group, "SIGKILL");
  liveGroups.delete(group);
}

/** For `process.on("exit")`: no job process outlives the worker. Synchronous by necessity. */
export function killJobProcessesNow() {
  for (const group of liveGroups) signalGroup(group, "SIGKILL");
  liveGroups.clear();
}

function groupExists(group: number): boolean {
  try {
    process.kill(-group, 0);
    return true;
  } catch {
    return false;
  }
}
