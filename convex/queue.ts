/**
 * How claim-next finds the right job: straight from the jobs' own `by_queue` index, with no queue
 * document at all (SPEC §6 "Cost budget" and "Concurrency on Convex").
 *
 * Pending jobs fall into streams, one per (repo, requirements signature): every job of a stream
 * matches exactly the same workers, so only a stream's first job in claim order (its head: the
 * first entry of the stream's `by_queue` range, lowest priority, then oldest) can be anyone's
 * best choice. claim-next walks, for each repo the worker allows, that repo's streams one head at
 * a time (a skip scan: the first pending job of the repo, then the first whose requirements key
 * is greater, ...), one document per stream, and claims the best head it may take. Nothing else
 * is read and nothing but the claimed job is written, so:
 *  - calls of different repos read and write disjoint index ranges and documents (nothing shared
 *    by a workspace's claimers exists); within a repo a claim's read set ends at each stream's
 *    head, so an enqueue behind a head or a heartbeat of a running job never conflicts with it;
 *  - a claim writes the claimed job, its event and its metrics counter delta (an insert nobody on a
 *    hot path reads, jobCounters.ts), whatever the queue holds; an idle poll writes nothing.
 * Jobs of a full concurrency key are `waiting`, not `pending` (concurrency.ts): outside every
 * range read here, they neither sit at a stream's head nor cost a read, however many keys are full.
 * Bounded reads: at most MAX_HEADS_READ heads per claim (fewer by the running jobs a worker with
 * `capabilities.maxConcurrentJobs` had read for its capacity check, leases.ts). A worker whose allowed repos hold more
 * non-empty streams than that sees a window of them that rotates from poll to poll (`windowStart`).
 */
import { internal } from "./_generated/api";
import type { Doc, Id } from "./_generated/dataModel";
import { internalMutation, type MutationCtx } from "./_generated/server";
import type { Capabilities } from "./model/capabilities";
import { JOB_STATUSES, type JobStatus, type Lane } from "./model/jobs";
import { isQueued } from "./model/jobStates";
import { meetsRequirements, requirementsKey } from "./model/matching";
import { compareClaimOrder, rotated } from "./model/queueHeads";

/**
 * Stream heads one claim reads at most. With the workspace, the worker, the lane's pause document
 * and the claimed job's patch, a claim reads ≤ 62 documents (its metrics counter delta is an
 * insert and reads nothing); a job stored before `runRef` existed reads its run once more, at its
 * first claim after the upgrade: ≤ 63, within SPEC §6's 64.
 */
export const MAX_HEADS_READ = 58;

/** The one status whose jobs claim-next picks among (model/jobStates.ts `queued`): `pending`. */
const CANDIDATES: JobStatus = (() => {
  const queued = JOB_STATUSES.filter(isQueued);
  if (queued.length !== 1) throw new Error(`claim-next walks one status's range, not ${queued.join(", ")}.`);
  return queued[0]!;
})();

const claimOrder = (job: Doc<"jobs">) => ({ priority: job.priority, createdAt: job._creationTime, jobId: job._id });

/** The head of the next stream of `repoId` after the stream keyed `after` (the first one without). */
async function nextStreamHead(
  ctx: MutationCtx,
  stream: { workspaceId: Id<"workspaces">; lane: Lane; repoId: Id<"repos"> },
  after: string | undefined,
) {
  return await ctx.db
    .query("jobs")
    .withIndex("by_queue", (q) => {
      const repo = q
        .eq("workspaceId", stream.workspaceId)
        .eq("lane", stream.lane)
        .eq("status", CANDIDATES)
        .eq("repoId", stream.repoId);
      return after === undefined ? repo : repo.gt("requirementsKey", after);
    })
    .first();
}

/**
 * The best pending job of `lane` a worker may claim now (allowed repo, requirements met, first in
 * claim order among the heads read), or null. `pollKey` turns the window when the worker's repos
 * hold more streams than one claim reads.
 */
export async function nextClaimableJob(
  ctx: MutationCtx,
  workspaceId: Id<"workspaces">,
  lane: Lane,
  capabilities: Capabilities,
  pollKey: number,
  maxHeads: number = MAX_HEADS_READ,
): Promise<Doc<"jobs"> | null> {
  const repoIds: Id<"repos">[] = [];
  for (const raw of new Set(capabilities.reposAllowed ?? [])) {
    const repoId = ctx.db.normalizeId("repos", raw);
    if (repoId !== null) repoIds.push(repoId);
  }
  let best: Doc<"jobs"> | null = null;
  let headsRead = 0;
  for (const repoId of rotated(repoIds, pollKey)) {
    let after: string | undefined;
    while (headsRead < maxHeads) {
      const head = await nextStreamHead(ctx, { workspaceId, lane, repoId }, after);
      if (head === null) break;
      headsRead++;
      requireInStep(head);
      if (
        meetsRequirements(head.requirements, capabilities) &&
        (best === null || compareClaimOrder(claimOrder(head), claimOrder(best)) < 0)
      )
        best = head;
      after = head.requirementsKey;
    }
    if (headsRead >= maxHeads) break;
  }
  return best;
}

/**
 * A stream is only sound if every job in it has the requirements its key stands for; a job edited
 * by hand in the dashboard could break that and quietly hide the jobs behind it, so it stops here.
 */
function requireInStep(head: Doc<"jobs">) {
  if (requirementsKey(head.requirements) !== head.requirementsKey) {
    throw new Error(
      `Job ${head._id} is out of step with its claim stream: requirementsKey does not match requirements.`,
    );
  }
}

/**
 * Deletes the retired claim directories (schema.ts `jobQueues`), 100 per run, rescheduling itself
 * until none is left: `npx convex run queue:dropRetiredClaimDirectories` once after upgrading.
 */
export const dropRetiredClaimDirectories = internalMutation({
  args: {},
  handler: async (ctx) => {
    const retired = await ctx.db.query("jobQueues").withIndex("by_workspace_lane").take(100);
    for (const directory of retired) await ctx.db.delete("jobQueues", directory._id);
    if (retired.length === 100) await ctx.scheduler.runAfter(0, internal.queue.dropRetiredClaimDirectories, {});
    return { deleted: retired.length };
  },
});
