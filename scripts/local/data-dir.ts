/**
 * The state directory of local mode: checked before anything is read from it, and locked so two
 * servers never append to one journal (their in-memory copies would diverge and each would
 * overwrite the other's history on the next compaction).
 */
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { messageOf } from "./messageOf";

/** A problem with the data directory, worded for the person running `npm start`. */
export class LocalDataError extends Error {
  override name = "LocalDataError";
}

export function prepareDataDir(dir: string): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new LocalDataError(`The data directory ${dir} exists but is not a directory.`);
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new LocalDataError(`Cannot create the data directory ${dir}: ${reason(error)}.`);
  }
  try {
    accessSync(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new LocalDataError(`The data directory ${dir} is not readable and writable: ${reason(error)}.`);
  }
}

/**
 * Takes `DIR/LOCK` (exclusive create, holding our pid). A lock left by a process that no longer
 * exists (after `kill -9`) is taken over; one held by a live process refuses the start. A pid
 * reused by an unrelated process would also refuse: delete LOCK by hand in that case.
 * Returns the release function.
 */
export function lockDataDir(dir: string): () => void {
  const lockPath = join(dir, "LOCK");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, "wx", 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(lockPath, "utf8").trim() === String(process.pid)) unlinkSync(lockPath);
        } catch {
          // Already gone: nothing to release.
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new LocalDataError(`Cannot create ${lockPath}: ${reason(error)}.`);
      }
    }
    const holder = Number.parseInt(readFileSync(lockPath, "utf8").trim(), 10);
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
      throw new LocalDataError(
        `The data directory ${dir} is in use by another local server (pid ${holder}). ` +
          `Stop it, or pass --data-dir to use another directory.`,
      );
    }
    unlinkSync(lockPath); // stale: its owner is gone
  }
  throw new LocalDataError(`Cannot take the lock ${lockPath}; another server may be starting.`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const message = messageOf(error);
  return code ? `${code} (${message})` : message;
}
