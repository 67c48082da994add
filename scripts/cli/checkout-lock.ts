/**
 * One job at a time per checkout, across every worker on the machine: a lock file in the
 * checkout's git directory, created exclusively and holding the owner's pid. Claims are per
 * worker, not per repo, so a worker can be handed a job whose checkout is busy; it waits for the
 * lock (its job heartbeat keeps the lease meanwhile). A stale lock (see `isStale`) is taken over.
 */
import { readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir, uptime } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { sleep } from "./backoff";
import { gitDir } from "./git";

const LOCK_FILE = "ias-job.lock";
const POLL_MS = 250;
const EMPTY_LOCK_STALE_MS = 10_000;

/** Lock files this process holds; removed synchronously if it exits. */
const heldLocks = new Set<string>();

export type CheckoutLock = { release(): void };

/**
 * Waits for the checkout's lock; null when `signal` aborts first. `onBusy` is told the holder's
 * pid once, when the first attempt finds the checkout busy.
 */
export async function lockCheckout(
  checkout: string,
  signal: AbortSignal,
  onBusy: (holderPid: number) => void,
): Promise<CheckoutLock | null> {
  const path = await lockPath(checkout);
  let toldBusy = false;
  for (;;) {
    if (signal.aborted) return null;
    const holder = tryTake(path);
    if (holder === null) {
      heldLocks.add(path);
      return { release: () => release(path) };
    }
    if (!toldBusy) onBusy(holder);
    toldBusy = true;
    await sleep(POLL_MS, signal);
  }
}

/** For `process.on("exit")`. */
export function releaseCheckoutLocksNow() {
  for (const path of heldLocks) release(path);
}

/** Null when taken; else the holder's pid (0 when its file is still being written). */
function tryTake(path: string): number | null {
  if (createExclusively(path)) return null;
  const holder = holderOf(path);
  if (!isStale(path, holder)) return holder ?? 0;
  // Take a stale lock over under a second exclusive file, so two workers that both saw it stale
  // cannot both take it (the second would delete the first one's fresh lock).
  const marker = `${path}.takeover`;
  if (!createExclusively(marker)) {
    removeIfOlderThan(marker, EMPTY_LOCK_STALE_MS); // a takeover that crashed half-way
    return holder ?? 0;
  }
  try {
    if (holderOf(path) === holder && isStale(path, holder)) removeFile(path);
    return createExclusively(path) ? null : (holderOf(path) ?? 0);
  } finally {
    removeFile(marker);
  }
}

function createExclusively(path: string): boolean {
  try {
    writeFileSync(path, `${process.pid}\n`, { flag: "wx" });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return false;
  }
}

/**
 * A lock is stale when its process is gone, when it names this very process without this process
 * holding it (left by an earlier process that had the same pid, as PID 1 in a restarted
 * container), or when it predates the last boot (its pid may have been reused since). An empty
 * one (a crash mid-write) is stale after a while.
 */
function isStale(path: string, holder: number | null): boolean {
  let modifiedAt: number;
  try {
    modifiedAt = statSync(path).mtimeMs;
  } catch {
    return false; // gone: the next attempt simply creates it
  }
  if (modifiedAt < Date.now() - uptime() * 1000) return true;
  if (holder === null) return Date.now() - modifiedAt > EMPTY_LOCK_STALE_MS;
  if (holder === process.pid) return !heldLocks.has(path);
  return !isRunning(holder);
}

function removeIfOlderThan(path: string, ageMs: number) {
  try {
    if (Date.now() - statSync(path).mtimeMs > ageMs) removeFile(path);
  } catch {
    /* already gone */
  }
}

function removeFile(path: string) {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}

function release(path: string) {
  heldLocks.delete(path);
  if (holderOf(path) === process.pid) removeFile(path);
}

function holderOf(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"; // alive, owned by another user
  }
}

/** In the git directory (worktrees have their own); outside any repository, a temp file per path. */
async function lockPath(checkout: string): Promise<string> {
  const dir = await gitDir(checkout);
  if (dir !== null) return join(dir, LOCK_FILE);
  return join(tmpdir(), `ias-job-${createHash("sha256").update(checkout).digest("hex").slice(0, 16)}.lock`);
}
