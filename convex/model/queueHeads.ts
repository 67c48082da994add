/**
 * The claim directory's pure logic (see convex/queue.ts for why it exists).
 *
 * Pending jobs of one workspace lane fall into streams: one per (repo, requirements signature).
 * Within a stream every job matches exactly the same workers, so only its first job in claim
 * order (lowest priority, then oldest) can ever be the best choice for anyone. The directory
 * keeps that first job — the stream's head — for every non-empty stream, and claim-next picks
 * the best head among the streams a worker may take.
 */
import type { Capabilities } from "./capabilities";
import { meetsRequirements, requirementsOfKey } from "./matching";

export type QueueHead = {
  repoId: string;
  /** The stream's canonical requirements (model/matching.ts); parsed back when matching. */
  requirementsKey: string;
  priority: number;
  /** The job's `_creationTime`: "oldest first" among equal priorities. */
  createdAt: number;
  jobId: string;
};

type Ranked = Pick<QueueHead, "priority" | "createdAt" | "jobId">;

/** Claim order: lower priority first, then older, then (for exact ties) the smaller id. */
export function compareClaimOrder(a: Ranked, b: Ranked): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  if (a.createdAt !== b.createdAt) return a.createdAt - b.createdAt;
  return a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0;
}

export function sameStream(
  a: Pick<QueueHead, "repoId" | "requirementsKey">,
  b: Pick<QueueHead, "repoId" | "requirementsKey">,
) {
  return a.repoId === b.repoId && a.requirementsKey === b.requirementsKey;
}

/** The head a worker should claim: in an allowed repo, requirements met, first in claim order. */
export function bestHeadFor(
  heads: readonly QueueHead[],
  reposAllowed: ReadonlySet<string>,
  capabilities: Capabilities,
): QueueHead | null {
  let best: QueueHead | null = null;
  for (const head of heads) {
    if (best !== null && compareClaimOrder(head, best) >= 0) continue;
    if (reposAllowed.has(head.repoId) && meetsRequirements(requirementsOfKey(head.requirementsKey), capabilities))
      best = head;
  }
  return best;
}

/**
 * A job just became pending: it heads its stream when the stream was empty or it comes first.
 * Returns the new list, or null when the directory does not change.
 */
export function offerHead(heads: readonly QueueHead[], candidate: QueueHead): QueueHead[] | null {
  const index = heads.findIndex((head) => sameStream(head, candidate));
  if (index === -1) return [...heads, candidate];
  if (compareClaimOrder(candidate, heads[index]!) >= 0) return null;
  return heads.map((head, i) => (i === index ? candidate : head));
}

/** Replaces the head of `stream` by its next job, or drops the stream when it has none. */
export function replaceHead(
  heads: readonly QueueHead[],
  stream: Pick<QueueHead, "repoId" | "requirementsKey">,
  next: QueueHead | null,
): QueueHead[] {
  if (next === null) return heads.filter((head) => !sameStream(head, stream));
  return heads.map((head) => (sameStream(head, stream) ? next : head));
}
