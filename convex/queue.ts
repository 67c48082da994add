/**
 * The claim directory: how claim-next finds the right job in O(1) documents. Owns `jobQueues`.
 *
 * Why: claim-next must hand out, among pending jobs of a lane, the first (priority, then age)
 * whose repo the worker allows and whose requirements it meets, reading ≤ 64 documents in the
 * worst case and ≤ 5 when nothing is claimable (SPEC §6), however many jobs wait. Walking jobs
 * in claim order and skipping the ones a worker cannot take is unbounded (1,000 jobs needing a
 * capability it lacks = 1,000 reads). Walking one index range per allowed repo is bounded by the
 * number of repos, but still reads a document per repo whose waiting jobs the worker cannot
 * take, and a repo's jobs with different requirements interleave in that range.
 *
 * So pending jobs are grouped into streams, one per (repo, requirements signature): every job of
 * a stream matches exactly the same workers, so only a stream's first job in claim order (its
 * head, the first entry of the `by_queue` index range) can be anyone's best choice. One directory
 * document per (workspace, lane) lists the head of every non-empty stream. claim-next reads the
 * directory, picks the best head the worker may take (model/queueHeads.ts), reads and claims that
 * job, and reads the stream's next job to become its new head: 3 documents here, whatever the
 * queue holds; jobs a worker cannot take are never read. Nothing claimable costs 1.
 *
 * Trade-offs: every claim (and each enqueue that starts a stream or jumps its head) writes the
 * directory, so claims and enqueues of one workspace lane serialize on it; claims of the same
 * head conflict anyway, and agent jobs run for minutes, so this is far from the limit. The
 * directory grows with the number of non-empty streams; enqueue refuses a new stream once it
 * passes MAX_DIRECTORY_BYTES (repos × distinct requirement sets waiting at once).
 */
import type { Doc, Id } from "./_generated/dataModel";
import type { MutationCtx, QueryCtx } from "./_generated/server";
import { apiError } from "./model/errors";
import { utf8Bytes, type Lane } from "./model/jobs";
import type { Capabilities } from "./model/capabilities";
import { bestHeadFor, offerHead, replaceHead, sameStream } from "./model/queueHeads";

/**
 * New streams are refused once the directory is this large (a document may hold 1 MiB). Heads
 * are small (requirement values are capped at 200 bytes), so this is thousands of streams, and
 * recovery and retry, which may re-add a stream whatever the size, keep far from the limit.
 */
export const MAX_DIRECTORY_BYTES = 512 * 1024;

type StoredHead = Doc<"jobQueues">["heads"][number];

function headOf(job: Doc<"jobs">): StoredHead {
  return {
    repoId: job.repoId,
    requirementsKey: job.requirementsKey,
    priority: job.priority,
    createdAt: job._creationTime,
    jobId: job._id,
  };
}

async function directoryOf(ctx: QueryCtx, workspaceId: Id<"workspaces">, lane: Lane) {
  return await ctx.db
    .query("jobQueues")
    .withIndex("by_workspace_lane", (q) => q.eq("workspaceId", workspaceId).eq("lane", lane))
    .unique();
}

/** The first pending job of a stream in claim order (the `by_queue` range is sorted that way). */
async function streamHead(
  ctx: QueryCtx,
  stream: Pick<Doc<"jobs">, "workspaceId" | "lane" | "repoId" | "requirementsKey">,
) {
  const next = await ctx.db
    .query("jobs")
    .withIndex("by_queue", (q) =>
      q
        .eq("workspaceId", stream.workspaceId)
        .eq("lane", stream.lane)
        .eq("status", "pending")
        .eq("repoId", stream.repoId)
        .eq("requirementsKey", stream.requirementsKey),
    )
    .first();
  return next === null ? null : headOf(next);
}

type OpenDirectory = {
  /** null until the first head of a (workspace, lane) that has no directory yet is written. */
  id: Id<"jobQueues"> | null;
  workspaceId: Id<"workspaces">;
  lane: Lane;
  heads: StoredHead[];
  /** Size of `heads` as JSON, kept up to date as heads change (the budget MAX_DIRECTORY_BYTES counts this). */
  bytes: number;
  changed: boolean;
};

const headBytes = (head: StoredHead) => utf8Bytes(JSON.stringify(head));

/**
 * The claim-directory changes of one transaction: each (workspace, lane) directory is read the
 * first time a job of it moves and written once by `write()`, however many jobs move. Convex
 * counts every read and every write against the transaction's 16 MiB, and a directory may hold
 * hundreds of KB, so the lease sweep and complete-and-enqueue-children (100 jobs each) must not
 * read or write it per job.
 */
class DirectoryChanges {
  private readonly open = new Map<string, OpenDirectory>();

  constructor(private readonly ctx: MutationCtx) {}

  /** Starts from a directory the caller already read (claim-next), unless this batch has it open. */
  adopt(directory: Doc<"jobQueues">) {
    const key = `${directory.workspaceId}/${directory.lane}`;
    if (this.open.has(key)) return;
    this.open.set(key, {
      id: directory._id,
      workspaceId: directory.workspaceId,
      lane: directory.lane,
      heads: directory.heads,
      bytes: utf8Bytes(JSON.stringify(directory.heads)),
      changed: false,
    });
  }

  private async directoryFor(workspaceId: Id<"workspaces">, lane: Lane): Promise<OpenDirectory> {
    const key = `${workspaceId}/${lane}`;
    let open = this.open.get(key);
    if (open === undefined) {
      const stored = await directoryOf(this.ctx, workspaceId, lane);
      open = {
        id: stored?._id ?? null,
        workspaceId,
        lane,
        heads: stored?.heads ?? [],
        bytes: utf8Bytes(JSON.stringify(stored?.heads ?? [])),
        changed: false,
      };
      this.open.set(key, open);
    }
    return open;
  }

  /**
   * A job was inserted or patched into `pending`. With `refuseNewStream` (enqueue), a job that
   * would start a new stream in a full directory (MAX_DIRECTORY_BYTES) is refused; recovery and
   * retry always fit back in.
   */
  async jobBecamePending(job: Doc<"jobs">, options: { refuseNewStream?: boolean } = {}) {
    const directory = await this.directoryFor(job.workspaceId, job.lane);
    const candidate = headOf(job);
    const heads = offerHead(directory.heads, candidate) as StoredHead[] | null;
    if (heads === null) return;
    const added = heads.length > directory.heads.length;
    const replaced = added ? undefined : directory.heads.find((head) => sameStream(head, candidate));
    const bytes =
      directory.bytes + headBytes(candidate) + (added ? 1 : -(replaced === undefined ? 0 : headBytes(replaced)));
    if (options.refuseNewStream && added && bytes > MAX_DIRECTORY_BYTES) {
      throw apiError(
        "INVALID_REQUEST",
        `This workspace has too many distinct (repo, requirements) combinations waiting (${directory.heads.length}); ` +
          "enqueue with the requirements of existing jobs or wait for the queue to drain.",
      );
    }
    Object.assign(directory, { heads, bytes, changed: true });
  }

  /** A job left `pending` (claimed, canceled). When it headed its stream, the stream's next job takes its place (one read). */
  async jobLeftPending(job: Doc<"jobs">) {
    const directory = await this.directoryFor(job.workspaceId, job.lane);
    const head = directory.heads.find((entry) => entry.jobId === job._id);
    if (head === undefined) return;
    const next = await streamHead(this.ctx, job);
    const heads = replaceHead(directory.heads, head, next) as StoredHead[];
    const bytes = directory.bytes - headBytes(head) + (next === null ? -1 : headBytes(next));
    Object.assign(directory, { heads, bytes, changed: true });
  }

  /** Writes each changed directory once. */
  async write() {
    for (const directory of this.open.values()) {
      if (!directory.changed) continue;
      if (directory.id === null) {
        const { workspaceId, lane, heads } = directory;
        directory.id = await this.ctx.db.insert("jobQueues", { workspaceId, lane, heads });
      } else {
        await this.ctx.db.patch("jobQueues", directory.id, { heads: directory.heads });
      }
      directory.changed = false;
    }
  }
}

/** The batch open in a transaction, by its `ctx.db` (the same object however `ctx` is wrapped). */
const openBatches = new WeakMap<object, DirectoryChanges>();

/**
 * Runs `work` with one DirectoryChanges for the transaction: every job that enters or leaves
 * `pending` inside it (jobState.ts calls the functions below) changes the directory in memory,
 * and each directory is written once when `work` is done. Callers use `withJobBatch`.
 */
export async function withDirectoryBatch<T>(ctx: MutationCtx, work: () => Promise<T>): Promise<T> {
  if (openBatches.has(ctx.db)) return await work();
  const batch = new DirectoryChanges(ctx);
  openBatches.set(ctx.db, batch);
  try {
    const result = await work();
    await batch.write();
    return result;
  } finally {
    openBatches.delete(ctx.db);
  }
}

/** A job was inserted or patched into `pending` (see DirectoryChanges.jobBecamePending). */
export async function jobBecamePending(
  ctx: MutationCtx,
  job: Doc<"jobs">,
  options: { refuseNewStream?: boolean } = {},
) {
  await withDirectoryBatch(ctx, () => openBatches.get(ctx.db)!.jobBecamePending(job, options));
}

/** A job left `pending`. Pass the directory when the caller already read it (claim-next). */
export async function jobLeftPending(ctx: MutationCtx, job: Doc<"jobs">, directory?: Doc<"jobQueues"> | null) {
  await withDirectoryBatch(ctx, async () => {
    const batch = openBatches.get(ctx.db)!;
    if (directory) batch.adopt(directory);
    await batch.jobLeftPending(job);
  });
}

/** Stale directory entries claim-next repairs in one call before it gives up. */
const MAX_REPAIRS = 3;

/**
 * The best pending job a worker may claim now (or null), with the directory read. Every change of
 * a job's status goes through `moveJob`, which calls this file's hooks, so a head is always a
 * pending job; should one not be (a job edited by hand in the dashboard), its stream's entry is
 * repaired and the pick repeated.
 */
export async function nextClaimableJob(
  ctx: MutationCtx,
  workspaceId: Id<"workspaces">,
  lane: Lane,
  capabilities: Capabilities,
): Promise<{ directory: Doc<"jobQueues">; job: Doc<"jobs"> } | null> {
  let directory = await directoryOf(ctx, workspaceId, lane);
  if (directory === null) return null;
  const allowed = new Set(capabilities.reposAllowed ?? []);
  for (let repairs = 0; repairs <= MAX_REPAIRS; repairs++) {
    const head = bestHeadFor(directory.heads, allowed, capabilities);
    if (head === null) return null;
    const job = await ctx.db.get("jobs", head.jobId as Id<"jobs">);
    if (job !== null && job.status === "pending") return { directory, job };
    const next = await streamHead(ctx, {
      workspaceId,
      lane,
      repoId: head.repoId as Id<"repos">,
      requirementsKey: head.requirementsKey,
    });
    directory = { ...directory, heads: replaceHead(directory.heads, head, next) as StoredHead[] };
    await ctx.db.patch("jobQueues", directory._id, { heads: directory.heads });
  }
  throw new Error(
    `Claim directory of workspace ${workspaceId} lane ${lane} is out of step after ${MAX_REPAIRS} repairs.`,
  );
}
