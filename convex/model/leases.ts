/** Lease arithmetic (SPEC §6 "Lease"): pure, so the rules are unit-tested without Convex. */

export const DEFAULT_LEASE_MS = 600_000;
export const MIN_LEASE_MS = 10_000;
export const MAX_LEASE_MS = 3_600_000;

/** The lease a claim or heartbeat grants: the request's, else the default, within the bounds. */
export function clampLeaseMs(requested: number | undefined, fallback = DEFAULT_LEASE_MS): number {
  const wanted = requested === undefined || !Number.isFinite(requested) ? fallback : Math.round(requested);
  return Math.min(MAX_LEASE_MS, Math.max(MIN_LEASE_MS, wanted));
}

/** A lease is lost once its expiry time is reached (an expiry equal to now is lost). */
export function isLeaseExpired(leaseExpiresAt: number | undefined, now: number): boolean {
  return leaseExpiresAt === undefined || leaseExpiresAt <= now;
}

/**
 * Where a job goes when its lease is lost: `canceled` when a cancel was requested, back to
 * `pending` while attempts remain, else `failed` (`outcomeReason` code `lease_expired`).
 */
export function afterLeaseLoss(job: { attempts: number; maxAttempts: number; cancelRequested: boolean }) {
  if (job.cancelRequested) return "canceled" as const;
  return job.attempts < job.maxAttempts ? ("pending" as const) : ("failed" as const);
}

/** Workers count as online while their status is `online` and they were seen this recently. */
export const WORKER_ONLINE_WINDOW_MS = 60_000;

export type LeaseHolder = { workerId: string; claimGeneration?: number };
export type LeaseCheck =
  | { held: true }
  | { held: false; expired: true }
  | { held: false; expired: false; code: "LEASE_MISMATCH" | "CLAIM_GENERATION_MISMATCH"; message: string };

/**
 * Whether `holder` still holds the job's lease (heartbeat, log and complete fence on this).
 * `expired` means the holder was right but too late: the caller recovers the job.
 */
export function checkLease(
  job: { status: string; claimedBy?: string; claimGeneration: number; leaseExpiresAt?: number },
  holder: LeaseHolder,
  now: number,
): LeaseCheck {
  if (job.status !== "running") {
    return {
      held: false,
      expired: false,
      code: "LEASE_MISMATCH",
      message: `The job is not running (it is ${job.status}).`,
    };
  }
  if (job.claimedBy !== holder.workerId) {
    return { held: false, expired: false, code: "LEASE_MISMATCH", message: "The job is claimed by another worker." };
  }
  if (holder.claimGeneration !== undefined && holder.claimGeneration !== job.claimGeneration) {
    return {
      held: false,
      expired: false,
      code: "CLAIM_GENERATION_MISMATCH",
      message: `claimGeneration ${holder.claimGeneration} is stale; the job's current claim is ${job.claimGeneration}.`,
    };
  }
  if (isLeaseExpired(job.leaseExpiresAt, now)) return { held: false, expired: true };
  return { held: true };
}

/** Why claim-next handed nothing out. */
export const NO_CLAIM_REASONS = [
  "WORKER_NOT_ONLINE",
  "WORKER_DRAINING",
  "WORKER_AT_CAPACITY",
  "NO_REPOS_ALLOWED",
  "QUEUE_PAUSED",
  "NO_JOBS",
] as const;
export type NoClaimReason = (typeof NO_CLAIM_REASONS)[number];
