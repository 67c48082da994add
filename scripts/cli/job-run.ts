/**
 * Runs one claimed job: the configured command in the mapped checkout, the job as JSON on stdin
 * and as `IAS_JOB_*` variables, output streamed to the job's timeline, the lease kept alive at a
 * third of its length, and the outcome reported with git evidence.
 *
 * The command runs in its own process group (detached), so a terminal's Ctrl-C reaches only the
 * worker (which drains) and stopping a job signals the command and everything it started.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { ApiError, type ApiClient } from "./client";
import { changedFiles, headSha, MAX_CHANGED_FILES } from "./git";
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
/** How long to wait for output pipes after the command exited (a daemonised grandchild may hold them). */
const PIPE_CLOSE_GRACE_MS = 2_000;

export async function runJob(options: JobRunOptions): Promise<JobRunResult> {
  const { client, out, claim, workspaceId, workerId } = options;
  const lease = { workspaceId, jobId: claim.jobId, workerId, claimGeneration: claim.claimGeneration };
  const baseSha = await headSha(options.checkout);
  let stopReason: StopReason | undefined;
  let lastStderr = "";

  const batcher = new LogBatcher({
    send: async (lines) => {
      await client.call("/v1/jobs/log", { ...lease, lines });
    },
    onError: (error) => (lostLease(error) ? stop("abandoned") : out.warn(`log lines not sent: ${(error as Error).message}`)),
  });

  const child = spawn(options.command[0]!, options.command.slice(1), {
    cwd: options.checkout,
    env: jobEnvironment(options),
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
  });
  const started = new Promise<Error | null>((resolve) => {
    child.once("spawn", () => resolve(null));
    child.once("error", (error) => resolve(error));
  });
  child.stdin!.on("error", () => {}); // a command that never reads stdin closes it early
  child.stdin!.end(`${JSON.stringify(claim.job)}\n`);
  for (const [stream, prefix] of [[child.stdout!, ""], [child.stderr!, "[stderr] "]] as const) {
    createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => {
      if (prefix) lastStderr = line;
      batcher.push(prefix + line);
      if (options.verbose) out.note(`  ${prefix}${line}`);
    });
  }

  let killTimer: NodeJS.Timeout | undefined;
  const stoppedBecause = () => stopReason; // read after awaits, where TypeScript's narrowing is stale
  let commandEnded = false;
  function stop(reason: StopReason) {
    // After the exit a late heartbeat answer changes nothing (and the pid may be reused).
    if (stopReason !== undefined || commandEnded) return;
    stopReason = reason;
    signalGroup(child, "SIGTERM");
    killTimer = setTimeout(() => signalGroup(child, "SIGKILL"), reason === "canceled" ? options.cancelGraceMs : Math.min(options.cancelGraceMs, 5_000));
  }
  const onInterrupt = () => stop("interrupted");
  options.interrupt.addEventListener("abort", onInterrupt);

  let heartbeatInFlight = false;
  const heartbeat = setInterval(async () => {
    if (heartbeatInFlight) return; // a slow, retrying heartbeat must not pile up behind itself
    heartbeatInFlight = true;
    try {
      const answer = await client.call<{ cancelRequested: boolean }>("/v1/jobs/heartbeat", { ...lease, leaseMs: options.leaseMs });
      if (answer.cancelRequested) stop("canceled");
    } catch (error) {
      if (lostLease(error)) stop("abandoned");
      else out.warn(`job heartbeat failed: ${(error as Error).message}`);
    } finally {
      heartbeatInFlight = false;
    }
  }, Math.max(1_000, Math.floor(options.leaseMs / 3)));

  const startError = await started;
  const exit = startError ? null : await exited(child);
  commandEnded = true;
  clearInterval(heartbeat);
  clearTimeout(killTimer);
  options.interrupt.removeEventListener("abort", onInterrupt);

  if (stopReason === "abandoned" || stopReason === "interrupted") {
    const message = stopReason === "abandoned" ? "The lease was lost; the command was stopped and the job left to the server." : "Worker stopped; the job returns to the queue when its lease expires.";
    return { outcome: stopReason, message };
  }
  await batcher.flush();
  if (stoppedBecause() === "abandoned") return { outcome: "abandoned", message: "The lease was lost while sending the last output." };

  const outcome = stopReason === "canceled" ? "canceled" : exit?.code === 0 ? "done" : "failed";
  const message = startError
    ? `Cannot start ${options.command[0]}: ${startError.message}`
    : describeExit(outcome, exit!, lastStderr);
  const outcomeReason = startError ? "command_not_started" : outcome === "canceled" ? "cancel_requested" : outcome === "failed" ? exitReason(exit!) : undefined;
  const { files, truncated } = await changedFiles(options.checkout, baseSha);
  const evidence = {
    headSha: await headSha(options.checkout),
    baseSha,
    changedFiles: files,
    ...(truncated ? { changedFilesTruncated: true, changedFilesLimit: MAX_CHANGED_FILES } : {}),
    exitCode: exit?.code ?? null,
    signal: exit?.signal ?? null,
  };
  try {
    // Completion is idempotent on the server, so it gets a longer retry budget than other calls.
    await client.call("/v1/jobs/complete", { ...lease, outcome, message, outcomeReason, evidence }, { attempts: 10 });
  } catch (error) {
    if (lostLease(error)) return { outcome: "abandoned", message: `Completion refused: ${(error as Error).message}` };
    throw error;
  }
  return { outcome, message };
}

function jobEnvironment({ claim, workspaceId, workerId, client }: JobRunOptions): NodeJS.ProcessEnv {
  const { job } = claim;
  return {
    ...process.env,
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
}

type Exit = { code: number | null; signal: NodeJS.Signals | null };

/** Resolves on exit, after the output pipes closed (or a short grace for pipes held elsewhere). */
function exited(child: ChildProcess): Promise<Exit> {
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

/** Signals the command's whole process group; falls back to the process if the group is gone. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals) {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
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
