/**
 * What a worker keeps on disk for a job until the control plane has it, in the worker's state
 * directory (`<state>/jobs/<jobId>-g<claimGeneration>/`):
 *   lease.json    the claim (who holds it, and until when the lease is known to last)
 *   log/          the output lines not yet acknowledged (log-spool.ts)
 *   outcome.json  the completion, once the command ended, until it is acknowledged
 * A worker that restarts finds these and delivers them while the lease lasts (delivery.ts).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LogSpool } from "./log-spool";

export type LeaseRecord = {
  siteUrl: string;
  workspaceId: string;
  jobId: string;
  workerId: string;
  claimGeneration: number;
  /** Local epoch ms until which the lease is known to hold (the last granted lease, measured from our send). */
  leaseDeadline: number;
};

/** The `complete` call to make (its body includes the lease fields). */
export type OutcomeRecord = { route: string; body: Record<string, unknown> };

const LEASE_FILE = "lease.json";
const OUTCOME_FILE = "outcome.json";

export class JobState {
  readonly spool: LogSpool;

  private constructor(
    readonly dir: string,
    private leaseRecord: LeaseRecord,
    spoolMaxBytes: number,
    onWriteError?: (error: Error) => void,
  ) {
    this.spool = new LogSpool(join(dir, "log"), spoolMaxBytes, onWriteError);
  }

  static create(stateDir: string, lease: LeaseRecord, spoolMaxBytes: number, onWriteError?: (error: Error) => void) {
    const dir = join(stateDir, "jobs", `${safeName(lease.jobId)}-g${lease.claimGeneration}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeAtomically(join(dir, LEASE_FILE), lease);
    return new JobState(dir, lease, spoolMaxBytes, onWriteError);
  }

  /** The jobs an earlier worker process left in `stateDir`, oldest claim first. */
  static leftovers(stateDir: string, spoolMaxBytes: number): JobState[] {
    const root = join(stateDir, "jobs");
    if (!existsSync(root)) return [];
    const states: JobState[] = [];
    for (const name of readdirSync(root)) {
      const dir = join(root, name);
      const lease = readJson<LeaseRecord>(join(dir, LEASE_FILE));
      if (lease === undefined)
        rmSync(dir, { recursive: true, force: true }); // a crash before the claim was written
      else states.push(new JobState(dir, lease, spoolMaxBytes));
    }
    return states.sort((a, b) => a.lease.leaseDeadline - b.lease.leaseDeadline);
  }

  get lease(): LeaseRecord {
    return this.leaseRecord;
  }

  /** A heartbeat was granted: the lease holds until `deadline` (local epoch ms). */
  extendLease(deadline: number) {
    if (deadline <= this.leaseRecord.leaseDeadline) return;
    this.leaseRecord = { ...this.leaseRecord, leaseDeadline: deadline };
    writeAtomically(join(this.dir, LEASE_FILE), this.leaseRecord);
  }

  saveOutcome(outcome: OutcomeRecord) {
    writeAtomically(join(this.dir, OUTCOME_FILE), outcome);
  }

  outcome(): OutcomeRecord | undefined {
    return readJson<OutcomeRecord>(join(this.dir, OUTCOME_FILE));
  }

  /** Everything is delivered, or can never be. */
  remove() {
    this.spool.remove();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Ids are `[A-Za-z0-9]` today; anything else must not reach the path. */
function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9_-]/g, "_");
}

function writeAtomically(path: string, value: unknown) {
  writeFileSync(`${path}.tmp`, JSON.stringify(value), { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch {
    return undefined;
  }
}
