/**
 * Runs one claimed job: the configured command in the mapped checkout, the job as JSON on stdin
 * and as `IAS_JOB_*` variables, output streamed to the job's timeline, the lease kept alive at a
 * third of its length, and the outcome reported with git evidence.
 *
 * The lease is kept (job heartbeats) from the claim until the outcome is reported, including
 * while waiting for the checkout's lock (checkout-lock.ts) and while sending the last output.
 * The command's process group is ended with the job (job-process.ts).
 */
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { clampLeaseMs } from "../../convex/model/leases";
import { lockCheckout, type CheckoutLock } from "./checkout-lock";
import { ApiError, type ApiClient } from "./client";
import { changedFiles, headSha, MAX_CHANGED_FILES } from "./git";
import { endGroup, exited, signalGroup, spawnGroup, started, type Exit } from "./job-process";
import { LogBatcher } from "./log-batcher";
import type { Output } from "./output";
import { apiBaseUrl } from "./url";

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

export type Claim = { jobId: string; job: Job; claimGeneration: number; leaseExpiresAt: number };

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
};

/** `abandoned`: the lease was lost; `interrupted`: the worker was stopped hard. Neither completes. */
export type JobRunResult = { outcome: "done" | "failed" | "canceled" | "abandoned" | "interrupted"; message: string };

type StopReason = "canceled" | "abandoned" | "interrupted";

const LOST_LEASE = new Set(["LEASE_MISMATCH", "CLAIM_GENERATION_MISMATCH", "JOB_NOT_FOUND"]);
const lostLease = (error: unknown) => error instanceof ApiError && LOST_LEASE.has(error.code);
const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));
/** Variables never passed to the job command: the worker's own credentials. */
const WITHHELD_ENV = new Set(["IAS_TOKEN"]);

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

  // Runs until the outcome is reported, so a slow last flush or a retried complete keeps the lease.
  let heartbeatInFlight = false;
  const heartbeat = setInterval(async () => {
    if (heartbeatInFlight) return; // a slow, retrying heartbeat must not pile up behind itself
    heartbeatInFlight = true;
    try {
      const answer = await client.call<{ cancelRequested: boolean }>("/v1/jobs/heartbeat", {
        ...lease,
        leaseMs: options.leaseMs,
      });
      if (answer.cancelRequested) stop("canceled");
    } catch (error) {
      if (lostLease(error)) stop("abandoned");
      else if (!settled) out.warn(`job heartbeat failed: ${errorText(error)}`);
    } finally {
      heartbeatInFlight = false;
    }
  }, heartbeatIntervalMs(options.leaseMs));

  const batcher = new LogBatcher({
    send: async (lines) => {
      if (!leaseLost) await client.call("/v1/jobs/log", { ...lease, lines });
    },
    onError: (error) => (lostLease(error) ? stop("abandoned") : out.warn(`log lines not sent: ${errorText(error)}`)),
  });

  /** Completes the job unless the lease is gone; a completion that cannot be sent abandons it. */
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
    try {
      // Completion is idempotent on the server, so it gets a longer retry budget than other calls.
      // A second Ctrl-C cuts the retries short: the job then returns to the queue on lease expiry.
      await client.call(
        "/v1/jobs/complete",
        { ...lease, outcome, message, outcomeReason, evidence },
        { attempts: 10, signal: options.interrupt },
      );
    } catch (error) {
      if (lostLease(error)) return { outcome: "abandoned", message: `Completion refused: ${errorText(error)}` };
      return {
        outcome: "abandoned",
        message: `The outcome (${outcome}) could not be reported: ${errorText(error)}. The job returns to the queue when its lease expires.`,
      };
    }
    return { outcome, message };
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
          batcher.push(prefix + line);
          if (options.verbose) out.note(`  ${prefix}${line}`);
        });
      }
      startError = await started(child);
    }
    const exit = child !== undefined && startError === null ? await exited(child) : null;
    commandEnded = true;
    clearTimeout(killTimer);
    if (child?.pid !== undefined) await endGroup(child.pid, stopReason === undefined ? 0 : killDeadline);

    const stoppedBecause = stopReason as StopReason | undefined; // TypeScript's narrowing is stale after awaits
    if (stoppedBecause === "abandoned" || stoppedBecause === "interrupted") {
      const message =
        stoppedBecause === "abandoned"
          ? "The lease was lost; the command was stopped and the job left to the server."
          : "Worker stopped; the job returns to the queue when its lease expires.";
      return { outcome: stoppedBecause, message };
    }
    await batcher.flush();
    if (leaseLost) return { outcome: "abandoned", message: "The lease was lost while sending the last output." };
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
  }
}

function jobEnvironment({ claim, workspaceId, workerId, client }: JobRunOptions): NodeJS.ProcessEnv {
  const { job } = claim;
  const inherited = Object.entries(process.env).filter(
    ([name, value]) => !WITHHELD_ENV.has(name) && !(value && client.revealsToken(value)),
  );
  const forJob = {
    IAS_JOB_ID: job._id,
    IAS_JOB_KIND: job.kind,
    IAS_JOB_ROLE: job.role,
    IAS_JOB_PROMPT: job.prompt,
    IAS_JOB_REPO_ID: job.repoId,
    IAS_JOB_RUN_ID: job.runId ?? "",
    IAS_JOB_ATTEMPT: String(job.attempts),
    IAS_JOB_REQUIREMENTS: JSON.stringify(job.requirements ?? {}),
    IAS_CLAIM_GENERATION: String(claim.claimGeneration),
    IAS_WORKSPACE_ID: workspaceId,
    IAS_WORKER_ID: workerId,
    IAS_CONTROL_PLANE_URL: apiBaseUrl(client.siteUrl),
  };
  // The OS refuses NUL in environment values; the exact prompt is on stdin.
  return Object.fromEntries([
    ...inherited,
    ...Object.entries(forJob).map(([name, value]) => [name, String(value ?? "").replaceAll("\0", "")]),
  ]);
}

function describeExit(outcome: string, exit: Exit, lastStderr: string): string {
  const how = exit.signal ? `was stopped by ${exit.signal}` : `exited with code ${exit.code}`;
  if (outcome === "canceled") return `Canceled on request; the command ${how}.`;
  const tail = outcome === "failed" && lastStderr ? `: ${lastStderr.slice(0, 1_000)}` : ".";
  return `The command ${how}${tail}`;
}

function exitReason(exit: Exit): string {
  return exit.signal ? `signal_${exit.signal}` : `exit_code_${exit.code}`;
}
