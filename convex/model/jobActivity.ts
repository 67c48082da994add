/**
 * What the Console's queue overview shows without a counter table: counts by status and the
 * jobs of the last hour per time bucket, both read from index ranges within fixed budgets.
 * Pure: the reads are in jobsConsole.ts, the arithmetic here.
 */
import { JOB_STATUSES, type JobStatus } from "./jobs";

/** A count stops here and says "at least": finished jobs pile up forever. */
export const STATUS_COUNT_CAP = 1_000;
/** Bytes one status's count may read (six of them stay far below Convex's 16 MiB). */
export const STATUS_COUNT_BYTES = 2 * 1024 * 1024;
/** The chart: 12 buckets of 5 minutes. */
export const ACTIVITY_BUCKET_MS = 5 * 60_000;
export const ACTIVITY_BUCKETS = 12;
export const ACTIVITY_MAX_JOBS = 2_000;
export const ACTIVITY_MAX_BYTES = 4 * 1024 * 1024;

export type StatusCounts = Record<JobStatus, number>;

export function emptyCounts(): StatusCounts {
  return Object.fromEntries(JOB_STATUSES.map((status) => [status, 0])) as StatusCounts;
}

/**
 * Reads items of `range` until `maxItems` are taken or `maxBytes` (as measured by `sizeOf`) are
 * read; `complete` says the range ended first. The range's reads stop there, so the cost is
 * bounded whatever the range holds.
 */
export async function takeWithinBudget<T>(
  range: AsyncIterable<T>,
  limits: { maxItems: number; maxBytes: number },
  sizeOf: (item: T) => number,
): Promise<{ items: T[]; complete: boolean }> {
  const items: T[] = [];
  let bytes = 0;
  for await (const item of range) {
    if (items.length >= limits.maxItems || bytes >= limits.maxBytes) return { items, complete: false };
    items.push(item);
    bytes += sizeOf(item);
  }
  return { items, complete: true };
}

export type ActivityBucket = { start: number; counts: StatusCounts };

/**
 * Jobs created in [since, since + buckets × bucketMs), grouped by the bucket of their creation
 * and counted by their status now. Jobs outside the window are ignored.
 */
export function bucketJobsByStatus(
  jobs: ReadonlyArray<{ createdAt: number; status: JobStatus }>,
  since: number,
  bucketMs = ACTIVITY_BUCKET_MS,
  bucketCount = ACTIVITY_BUCKETS,
): ActivityBucket[] {
  const buckets = Array.from({ length: bucketCount }, (_, index) => ({
    start: since + index * bucketMs,
    counts: emptyCounts(),
  }));
  for (const job of jobs) {
    const index = Math.floor((job.createdAt - since) / bucketMs);
    if (index >= 0 && index < bucketCount) buckets[index]!.counts[job.status] += 1;
  }
  return buckets;
}
