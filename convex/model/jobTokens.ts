/**
 * Job tokens (`IAS_JOB_TOKEN`): what claim-next mints for the claimed job's command, and how the
 * outcome the command reported is merged into its worker's completion. Pure functions.
 *
 * A job token is `ias_job_<jobId>.<secret>`: the job id says which job's stored hash to compare
 * with (minted tokens never hold a `.`, so the two kinds cannot be confused), the secret is 32
 * random bytes. Only its SHA-256 is stored, on the job, replaced at every claim: so a token is
 * good for one claim generation only.
 */
import type { JobOutcome } from "./jobs";
import { systemReason, type OutcomeReason } from "./outcomeReasons";
import { randomSecret, sha256Hex } from "./tokens";

export const JOB_TOKEN_PREFIX = "ias_job_";

export async function mintJobToken(jobId: string): Promise<{ token: string; tokenHash: string }> {
  const secret = randomSecret(32);
  return { token: `${JOB_TOKEN_PREFIX}${jobId}.${secret}`, tokenHash: await sha256Hex(secret) };
}

/** The job id and secret of a job token, or null when `token` is not one (any other bearer token). */
export function parseJobToken(token: string): { jobId: string; secret: string } | null {
  if (!token.startsWith(JOB_TOKEN_PREFIX)) return null;
  const rest = token.slice(JOB_TOKEN_PREFIX.length);
  const dot = rest.indexOf(".");
  if (dot <= 0 || dot === rest.length - 1) return null;
  return { jobId: rest.slice(0, dot), secret: rest.slice(dot + 1) };
}

/**
 * Why a job token of claim `claimGeneration` no longer works on `job` (EXPIRED_TOKEN, 401), or
 * null while it does: the job is running under that very claim and its lease has not run out.
 */
export function jobTokenProblem(
  job: { status: string; claimGeneration: number; leaseExpiresAt?: number },
  claimGeneration: number,
  now: number,
): string | null {
  if (job.status !== "running") return `This job token has expired: its job is ${job.status}.`;
  if (job.claimGeneration !== claimGeneration) return "This job token has expired: its job was claimed again.";
  if ((job.leaseExpiresAt ?? 0) <= now) return "This job token has expired: its job's lease ran out.";
  return null;
}

/** What a job's command reported during one claim (the `jobReports` row). */
export type JobReport = {
  blockedReason?: string;
  evidence?: Record<string, unknown>;
};

/** The reason code a completion turned `blocked` by its job's report carries. */
export const REPORTED_BLOCKED_CODE = "blocked_by_job";

export type WorkerCompletion = {
  outcome: JobOutcome;
  message?: string;
  outcomeReason?: OutcomeReason;
  evidence?: Record<string, unknown>;
};

/**
 * The completion as recorded: a reported `blocked` wins over `done` and `failed` (a command
 * that blocks and then exits non-zero is blocked, not failed), never over `canceled` (a person or
 * a timeout stopped it). Reported evidence is laid over the worker's, key by key.
 */
export function mergeReport(completion: WorkerCompletion, report: JobReport | null): WorkerCompletion {
  if (report === null) return completion;
  const evidence =
    report.evidence === undefined ? completion.evidence : { ...(completion.evidence ?? {}), ...report.evidence };
  const reason = report.blockedReason;
  if (reason === undefined || completion.outcome === "blocked" || completion.outcome === "canceled") {
    return { ...completion, evidence };
  }
  return {
    outcome: "blocked",
    message: reason,
    outcomeReason: {
      ...systemReason("blocked", REPORTED_BLOCKED_CODE, reason),
      details: { workerOutcome: completion.outcome },
    },
    evidence,
  };
}

/** Children a job proposed are spawned with its completion when it ends `done` or `blocked`; not when it failed or was canceled (a retry would propose them again). */
export function spawnsProposedChildren(outcome: JobOutcome): boolean {
  return outcome === "done" || outcome === "blocked";
}
