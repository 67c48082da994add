/**
 * Runs one claimed job: the configured command in the mapped checkout, the job as JSON on stdin
 * and as `IAS_JOB_*` variables, output streamed to the job's timeline, the lease kept alive at a
 * third of its length, and the outcome reported with git evidence.
 *
 * The lease is kept (job heartbeats) from the claim until the outcome is reported, including
 * while waiting for the checkout's lock (checkout-lock.ts) and while sending the last output.
 * The command's process group is ended with the job (job-process.ts). Output lines and the
 * outcome wait on disk until the server has them (job-state.ts, delivery.ts), so an outage
 * within the lease loses neither, and a worker restarted within it delivers them.
 */
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { clampLeaseMs } from "../../convex/model/leases";
import { lockCheckout, type CheckoutLock } from "./checkout-lock";
import type { ApiClient } from "./client";
import { deliverJob, describe, isLeaseLost, LogShipper, type DeliveryOptions } from "./delivery";
import { changedFiles, headSha, MAX_CHANGED_FILES } from "./git";
import { endGroup, exited, signalGroup, spawnGroup, started, type Exit } from "./job-process";
import { JobState } from "./job-state";
import { describeExit, exitReason, jobEnvironment } from "./job-env";
import type { Output } from "./output";

export type Job = {
  _id: string;
  kind: string;
  role: string;
  prompt: string;
  repoId: string;
  runId?: string;
  requirements: Record<string, unknown>;
  attempts: number;
  [field: string]: unknown;
};

/** `jobToken`: for the job's command only (IAS_JOB_TOKEN); never written to the state directory or printed. */
export type Claim = { jobId: string; job: Job; claimGeneration: number; leaseExpiresAt: number; jobToken?: string };

export type JobRunOptions = {
  client: ApiClient;
  out: Output;
  workspaceId: string;
  workerId: string;
  claim: Claim;
  checkout: string;
  command: string[];
  leaseMs: number;
  cancelGraceMs: number;
  /** Echo the command's output lines locally too. */
  verbose: boolean;
  /** Aborted on a second Ctrl-C: stop the command and leave the job to lease recovery. */
  interrupt: AbortSignal;
  /** The worker's state directory (job-state.ts). */
  stateDir: string;
  spoolMaxBytes: number;
};

/**
 * `blocked`: the command reported it (`ias job block`) and the server recorded it over the exit.
 * `abandoned`: the lease was lost; `interrupted`: the worker was stopped hard. Neither completes.
 */
export type JobRunResult = {
  outcome: "done" | "failed" | "blocked" | "canceled" | "abandoned" | "interrupted";
  message: string;
};

type StopReason = "canceled" | "abandoned" | "interrupted";

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** A third of the lease the server will actually grant (it clamps what is asked). */
export function heartbeatIntervalMs(leaseMs: number): number {
  return Math.floor(clampLeaseMs(leaseMs) / 3);
}

export async function runJob(options: JobRunOptions): Promise<JobRunResult> {
  const { client, out, claim, workspaceId, workerId } = options;
  const lease = { workspaceId, jobId: claim.jobId, workerId, claimGeneration: claim.claimGeneration };
  let stopReason: StopReason | undefined;
  /** Set whenever the server says the lease is gone: nothing more is sent for this job. */
  let leaseLost = false;
  let commandEnded = false;
  let settled = false; // the job's outcome is decided: a late heartbeat failure is not worth a warning
  let child: ChildProcess | undefined;
  let killDeadline = 0;
  let killTimer: NodeJS.Timeout | undefined;
  const stopWaiting = new AbortController();

  function stop(reason: StopReason) {
    if (reason === "abandoned") leaseLost = true;
    // After the exit a late heartbeat answer changes nothing (the group is being ended anyway).
    if (stopReason !== undefined || commandEnded) return;
    stopReason = reason;
    stopWaiting.abort();
    const group = child?.pid;
    if (group === undefined) return; // not started yet: it will not be
    const graceMs = reason === "canceled" ? options.cancelGraceMs : Math.min(options.cancelGraceMs, 5_000);
    killDeadline = Date.now() + graceMs;
    signalGroup(group, "SIGTERM");
    killTimer = setTimeout(() => signalGroup(group, "SIGKILL"), graceMs);
  }
  const onInterrupt = () => stop("interrupted");
  // A second Ctrl-C while this job was being claimed: do not start it (lease recovery re-queues it).
  if (options.interrupt.aborted) onInterrupt();
  else options.interrupt.addEventListener("abort", onInterrupt);

  const state = JobState.create(
    options.stateDir,
    // The server granted the lease a moment ago: measured on our clock, it ends about a lease from now.
    { siteUrl: client.siteUrl, ...lease, leaseDeadline: Date.now() + clampLeaseMs(options.leaseMs) },
    options.spoolMaxBytes,
    (error) => out.warn(`cannot spool output lines, they are dropped: ${errorText(error)}`),
  );
  // After the command ended, retrying goes on while the lease is known to hold (heartbeats extend
  // it), and the server took something within the last lease length (a server that answers
  // heartbeats but refuses the rest with 5xx must not pin the job to this worker for ever).
  let afterCommand = false;
  let lastProgressAt = 0;
  /** Whether a restart within the lease may still deliver something: the worker was stopped hard. */
  let keepState = false;
  const delivery: DeliveryOptions = {
    client,
    out,
    state,
    keepTrying: () =>
      !options.interrupt.aborted &&
      (!afterCommand ||
        (Date.now() < state.lease.leaseDeadline && Date.now() - lastProgressAt < clampLeaseMs(options.leaseMs))),
    signal: options.interrupt,
    onLeaseLost: () => stop("abandoned"),
    onProgress: () => (lastProgressAt = Date.now()),
  };
  const shipper = new LogShipper(delivery);

  // Runs until the outcome is reported, so a slow last flush or a retried complete keeps the lease.
  let heartbeatInFlight = false;
  const heartbeat = setInterval(async () => {
    if (heartbeatInFlight) return; // a slow, retrying heartbeat must not pile up behind itself
    heartbeatInFlight = true;
    const sentAt = Date.now();
    try {
      const answer = await client.call<{ cancelRequested: boolean; leaseExpiresAt?: number }>("/v1/jobs/heartbeat", {
        ...lease,
        leaseMs: options.leaseMs,
      });
      // Measured from our send, on our clock: the server's may differ from this machine's.
      state.extendLease(sentAt + clampLeaseMs(options.leaseMs));
      if (answer.cancelRequested) stop("canceled");
    } catch (error) {
      if (isLeaseLost(error)) stop("abandoned");
      else if (!settled) out.warn(`job heartbeat failed: ${errorText(error)}`);
    } finally {
      heartbeatInFlight = false;
    }
  }, heartbeatIntervalMs(options.leaseMs));

  /** Completes the job unless the lease is gone; the outcome waits on disk until it is delivered. */
  async function report(
    outcome: "done" | "failed" | "canceled",
    message: string,
    outcomeReason: string | undefined,
    exit: Exit | null,
    baseSha: string | null,
  ): Promise<JobRunResult> {
    // A command that never ran changed nothing; the checkout may even be another job's right now.
    const { files, truncated } =
      child === undefined ? { files: [], truncated: false } : await changedFiles(options.checkout, baseSha);
    const evidence = {
      headSha: child === undefined ? null : await headSha(options.checkout),
      baseSha,
      changedFiles: files,
      ...(truncated ? { changedFilesTruncated: true, changedFilesLimit: MAX_CHANGED_FILES } : {}),
      exitCode: exit?.code ?? null,
      signal: exit?.signal ?? null,
    };
    if (leaseLost) return { outcome: "abandoned", message: "The lease was lost before the outcome could be reported." };
    state.saveOutcome({ route: "/v1/jobs/complete", body: { ...lease, outcome, message, outcomeReason, evidence } });
    const result = await deliverJob(delivery, shipper);
    if (result.status === "delivered" && result.recorded === "blocked")
      return { outcome: "blocked", message: `${message} The job reported itself blocked (ias job block).` };
    if (result.status === "delivered") return { outcome, message };
    const why = describe(result);
    if (result.status === "gave_up" && options.interrupt.aborted) {
      keepState = true;
      return {
        outcome: "interrupted",
        message: `The outcome (${outcome}) is kept in ${state.dir} for the next start.`,
      };
    }
    return { outcome: "abandoned", message: `The outcome (${outcome}) was not reported: ${why}.` };
  }

  async function runLocked(): Promise<JobRunResult> {
    const baseSha = await headSha(options.checkout);
    let lastStderr = "";
    let startError: Error | null = null;
    if (stopReason === undefined) {
      try {
        child = spawnGroup(options.command, options.checkout, jobEnvironment(options));
      } catch (error) {
        startError = error as Error; // argv or environment the OS cannot take
      }
    }
    if (child !== undefined) {
      child.stdin!.end(`${JSON.stringify(claim.job)}\n`);
      for (const [stream, prefix] of [
        [child.stdout!, ""],
        [child.stderr!, "[stderr] "],
      ] as const) {
        createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => {
          if (prefix) lastStderr = line;
          shipper.push(prefix + line);
          if (options.verbose) out.line(`  ${prefix}${line}`);
        });
      }
      startError = await started(child);
    }
    const exit = child !== undefined && startError === null ? await exited(child) : null;
    commandEnded = true;
    clearTimeout(killTimer);
    if (child?.pid !== undefined) await endGroup(child.pid, stopReason === undefined ? 0 : killDeadline);

    afterCommand = true;
    lastProgressAt = Date.now();
    const stoppedBecause = stopReason as StopReason | undefined; // TypeScript's narrowing is stale after awaits
    if (stoppedBecause === "abandoned") {
      return {
        outcome: "abandoned",
        message: "The lease was lost; the command was stopped and the job left to the server.",
      };
    }
    if (stoppedBecause === "interrupted") {
      state.spool.close();
      keepState = !state.spool.isEmpty(); // unsent lines stay for the next start, while the lease lasts
      return {
        outcome: "interrupted",
        message: "Worker stopped; the job returns to the queue when its lease expires.",
      };
    }
    if (startError)
      return report(
        "failed",
        `Cannot start ${options.command[0]}: ${startError.message}`,
        "command_not_started",
        null,
        baseSha,
      );
    if (exit === null)
      return report("canceled", "Canceled on request before the command started.", "cancel_requested", null, baseSha);
    const outcome = stoppedBecause === "canceled" ? "canceled" : exit.code === 0 ? "done" : "failed";
    const outcomeReason =
      outcome === "canceled" ? "cancel_requested" : outcome === "failed" ? exitReason(exit) : undefined;
    return report(outcome, describeExit(outcome, exit, lastStderr), outcomeReason, exit, baseSha);
  }

  try {
    let lock: CheckoutLock | null = null;
    try {
      lock = await lockCheckout(options.checkout, stopWaiting.signal, (holder) =>
        out.warn(
          `checkout ${options.checkout} is busy with another job${holder ? ` (pid ${holder})` : ""}; waiting for it.`,
        ),
      );
    } catch (error) {
      out.warn(`cannot lock checkout ${options.checkout}, running without the lock: ${errorText(error)}`);
    }
    try {
      return await runLocked();
    } finally {
      lock?.release();
    }
  } finally {
    settled = true;
    clearInterval(heartbeat);
    clearTimeout(killTimer);
    options.interrupt.removeEventListener("abort", onInterrupt);
    // Kept only when a restart may still deliver it: the worker was stopped hard within the lease.
    if (!keepState) state.remove();
  }
}
