/**
 * Claim order and the claim window, as pure functions (convex/queue.ts walks the streams).
 *
 * Pending jobs of one workspace lane fall into streams: one per (repo, requirements signature).
 * Within a stream every job matches exactly the same workers, so only its first job in claim
 * order (lowest priority, then oldest) — the stream's head — can ever be the best choice for
 * anyone; claim-next compares heads with `compareClaimOrder`.
 */

type Ranked = { priority: number; createdAt: number; jobId: string };

/** Claim order: lower priority first, then older, then (for exact ties) the smaller id. */
export function compareClaimOrder(a: Ranked, b: Ranked): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  if (a.createdAt !== b.createdAt) return a.createdAt - b.createdAt;
  return a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0;
}

/**
 * `items` starting at position `key` (mod their number), wrapping around: the order in which one
 * claim visits a worker's repos, so that when they hold more streams than a claim reads, polls
 * with successive keys start from successive repos and none is left out for good.
 */
export function rotated<T>(items: readonly T[], key: number): T[] {
  if (items.length === 0) return [];
  const start = ((Math.floor(key) % items.length) + items.length) % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
}
