/**
 * The job queue's worker-facing calls, measured in documents and bytes (SPEC §6 cost budget).
 * Shared by `npm run bench` and test/queue-budget.test.ts.
 *
 * Each call runs the very handler its route runs, inside one convex-test transaction, and reads
 * `ctx.meta.getTransactionMetrics()` at its end. convex-test counts the documents a query returns
 * (and each patched document), not index entries it skips, so these figures are only meaningful
 * because every hot path reads index ranges (test/static-queries.test.ts checks the source); a
 * `.filter()` scan would look cheap here and not on Convex.
 */
import type { Doc, Id } from "../../convex/_generated/dataModel";
import type { MutationCtx } from "../../convex/_generated/server";
import type { Caller } from "../../convex/access";
import { enqueue, enqueueJob } from "../../convex/jobs";
import { appendLogIfLeaseHeld, claimNext, complete, extendLeaseIfHeld } from "../../convex/leases";
import { authenticate } from "../../convex/tokens";
import { heartbeat as workerHeartbeat } from "../../convex/workers";
import { requirementsKey } from "../../convex/model/matching";
import { mintToken, sha256Hex } from "../../convex/model/tokens";
import { handlerOf } from "../local/convexTestInternals";

/** What convex-test's `t.run` needs from a test instance (vitest's or a plain one). */
export type Runner = { run<T>(fn: (ctx: MutationCtx) => Promise<T>): Promise<T> };

export type Scale = {
  repos: number;
  workers: number;
  /** Pending jobs any worker may take, spread over the repos. */
  pendingJobs: number;
  /** Pending jobs in one extra repo that need a model no worker offers. */
  unclaimableJobs: number;
  finishedJobs: number;
};

export const SMALL: Scale = { repos: 2, workers: 2, pendingJobs: 10, unclaimableJobs: 0, finishedJobs: 10 };
/** The large workspace: 10,000 pending (1,000 of them unclaimable) + 10,000 finished. */
export const LARGE: Scale = {
  repos: 50,
  workers: 200,
  pendingJobs: 9_000,
  unclaimableJobs: 1_000,
  finishedJobs: 10_000,
};

/** SPEC §6: the most documents each call may read. */
export const BUDGET = {
  enqueue: 6,
  "worker heartbeat": 4,
  "claim-next (job available)": 64,
  "claim-next (nothing claimable)": 5,
  heartbeat: 8,
  log: 8,
  complete: 8,
  "enqueue (delayed)": 6,
  "complete (retry scheduled)": 8,
  "complete (repeated after a retry)": 8,
} as const;
export type Operation = keyof typeof BUDGET;

export type Metrics = { documentsRead: number; bytesRead: number; documentsWritten: number; bytesWritten: number };

/** Runs a registered function's handler in one transaction and returns its result and metrics. */
export async function metered(
  t: Runner,
  fn: object,
  args: Record<string, unknown>,
): Promise<{ result: any; metrics: Metrics }> {
  // Calling the handler itself skips only the argument validation, which the route already did.
  const handler = handlerOf<MutationCtx, Record<string, unknown>, unknown>(fn);
  return await t.run(async (ctx) => {
    const result = await handler(ctx, args);
    const used = await ctx.meta.getTransactionMetrics();
    return {
      result,
      metrics: {
        documentsRead: used.documentsRead.used,
        bytesRead: used.bytesRead.used,
        documentsWritten: used.documentsWritten.used,
        bytesWritten: used.bytesWritten.used,
      },
    };
  });
}

export type Workload = {
  workspaceId: Id<"workspaces">;
  caller: Caller;
  tokenHash: string;
  /** Online, allowed on every ordinary repo. */
  busyWorkerId: Id<"workers">;
  /** Online, allowed only on the repo whose jobs need a model it lacks (or an empty repo). */
  idleWorkerId: Id<"workers">;
  repoIds: Id<"repos">[];
};

/** Seeds one workspace at `scale` (members, device token, repos, workers, jobs). */
export async function seedWorkload(t: Runner, scale: Scale, slug = "bench"): Promise<Workload> {
  const { token } = mintToken();
  const tokenHash = await sha256Hex(token);
  const base = await t.run(async (ctx) => {
    const userId = await ctx.db.insert("users", { email: `owner@${slug}.test` });
    const workspaceId = await ctx.db.insert("workspaces", { slug, name: slug, dataPolicy: "full" });
    await ctx.db.insert("memberships", { workspaceId, userId, role: "owner" });
    const tokenId = await ctx.db.insert("apiTokens", {
      tokenHash,
      prefix: token.slice(0, 12),
      kind: "device",
      userId,
      workspaceId,
      label: "bench",
      expiresAt: Date.now() + 86_400_000,
    });
    const repoIds: Id<"repos">[] = [];
    for (let i = 0; i < scale.repos; i++) {
      repoIds.push(
        await ctx.db.insert("repos", {
          workspaceId,
          remoteUrlHash: `repo-${i}`,
          status: "active",
          updatedAt: Date.now(),
        }),
      );
    }
    const lockedRepoId = await ctx.db.insert("repos", {
      workspaceId,
      remoteUrlHash: "locked",
      status: "active",
      updatedAt: Date.now(),
    });
    // A paused repo (no jobs) so every claim reads the lane's pause document, as a paused workspace's would.
    const pausedRepoId = await ctx.db.insert("repos", {
      workspaceId,
      remoteUrlHash: "paused",
      status: "active",
      updatedAt: Date.now(),
    });
    await ctx.db.insert("queuePauses", {
      workspaceId,
      lane: "worker",
      lanePaused: false,
      pausedRepoIds: [pausedRepoId],
    });
    const workerIds: Id<"workers">[] = [];
    for (let i = 0; i < scale.workers; i++) {
      workerIds.push(
        await ctx.db.insert("workers", {
          workspaceId,
          displayName: `worker-${i}`,
          machineFingerprint: `fp-${i}`,
          status: "online",
          capabilities: { reposAllowed: repoIds },
          inventory: {},
          lastSeenAt: Date.now(),
        }),
      );
    }
    const idleWorkerId = await ctx.db.insert("workers", {
      workspaceId,
      displayName: "idle",
      machineFingerprint: "fp-idle",
      status: "online",
      capabilities: { reposAllowed: [lockedRepoId], models: ["small"] },
      inventory: {},
      lastSeenAt: Date.now(),
    });
    const caller: Caller = { kind: "token", tokenId, tokenKind: "device", workspaceId, userId };
    return { workspaceId, caller, repoIds, lockedRepoId, busyWorkerId: workerIds[0]!, idleWorkerId };
  });

  const jobs: Array<{ repoId: Id<"repos">; model?: string }> = [
    ...Array.from({ length: scale.pendingJobs }, (_, i) => ({ repoId: base.repoIds[i % base.repoIds.length]! })),
    ...Array.from({ length: scale.unclaimableJobs }, () => ({ repoId: base.lockedRepoId, model: "huge" })),
  ];
  for (let start = 0; start < jobs.length; start += 500) {
    await t.run(async (ctx) => {
      for (const [offset, job] of jobs.slice(start, start + 500).entries()) {
        await enqueueJob(ctx, {
          workspaceId: base.workspaceId,
          repoId: job.repoId,
          kind: "work",
          prompt: `Pending job ${start + offset}`,
          priority: (start + offset) % 3,
          requirements: job.model === undefined ? {} : { model: job.model },
        });
      }
    });
  }
  for (let start = 0; start < scale.finishedJobs; start += 1_000) {
    await t.run(async (ctx) => {
      for (let i = start; i < Math.min(start + 1_000, scale.finishedJobs); i++)
        await ctx.db.insert("jobs", finishedJob(base.workspaceId, base.repoIds[i % base.repoIds.length]!, i));
    });
  }
  return { ...base, tokenHash };
}

function finishedJob(
  workspaceId: Id<"workspaces">,
  repoId: Id<"repos">,
  i: number,
): Omit<Doc<"jobs">, "_id" | "_creationTime"> {
  const at = Date.now();
  return {
    workspaceId,
    repoId,
    kind: "work",
    role: "implementer",
    prompt: `Finished job ${i}`,
    requirements: {},
    requirementsKey: requirementsKey({}),
    priority: 0,
    lane: "worker",
    status: "done",
    outcome: "done",
    attempts: 1,
    maxAttempts: 3,
    claimGeneration: 1,
    cancelRequested: false,
    nextEventSeq: 4,
    finishedAt: at,
    updatedAt: at,
  };
}

/** Measures every budgeted call once against a seeded workload, in the order a worker makes them. */
export async function measureCalls(t: Runner, workload: Workload): Promise<Record<Operation | "bearer auth", Metrics>> {
  const { caller, workspaceId, busyWorkerId, idleWorkerId, repoIds } = workload;
  const ws = { caller, workspaceId };
  const auth = await metered(t, authenticate, { tokenHash: workload.tokenHash, now: Date.now() });
  const enqueued = await metered(t, enqueue, { ...ws, repoId: repoIds[0]!, kind: "work", prompt: "Measured job" });
  const heartbeat = await metered(t, workerHeartbeat, {
    ...ws,
    displayName: "worker-0",
    machineFingerprint: "fp-0",
    status: "online",
    capabilities: { reposAllowed: repoIds },
    inventory: {},
  });
  const claimed = await metered(t, claimNext, { ...ws, workerId: busyWorkerId, lane: "worker" });
  const nothing = await metered(t, claimNext, { ...ws, workerId: idleWorkerId, lane: "worker" });
  if (claimed.result.jobId === null || nothing.result.jobId !== null)
    throw new Error("The workload did not set up the claims it measures.");
  const lease = {
    ...ws,
    jobId: claimed.result.jobId,
    workerId: busyWorkerId,
    claimGeneration: claimed.result.claimGeneration,
  };
  const beat = await metered(t, extendLeaseIfHeld, lease);
  const log = await metered(t, appendLogIfLeaseHeld, {
    ...lease,
    lines: Array.from({ length: 20 }, (_, i) => `line ${i}`),
  });
  const done = await metered(t, complete, { ...lease, outcome: "done" });
  if (done.result.result?.status !== "done") throw new Error("The measured completion did not complete the job.");
  const delayed = await metered(t, enqueue, {
    ...ws,
    repoId: repoIds[0]!,
    kind: "work",
    prompt: "Measured delayed job",
    delayMs: 60_000,
  });
  const { failed: retried, repeated } = await retryableFailure(t, workload);
  return {
    "bearer auth": auth.metrics,
    enqueue: enqueued.metrics,
    "worker heartbeat": heartbeat.metrics,
    "claim-next (job available)": claimed.metrics,
    "claim-next (nothing claimable)": nothing.metrics,
    heartbeat: beat.metrics,
    log: log.metrics,
    complete: done.metrics,
    "enqueue (delayed)": delayed.metrics,
    "complete (retry scheduled)": retried.metrics,
    "complete (repeated after a retry)": repeated.metrics,
  };
}

/**
 * A job with a retry policy, claimed, then failed with a retryable reason (it goes `scheduled`);
 * then the same completion again (a network retry: `idempotent: true`).
 */
async function retryableFailure(t: Runner, { caller, workspaceId, busyWorkerId, repoIds }: Workload) {
  const ws = { caller, workspaceId };
  await metered(t, enqueue, {
    ...ws,
    repoId: repoIds[0]!,
    kind: "work",
    prompt: "Measured retried job",
    priority: -1_000,
    retry: { backoff: "exponential" },
  });
  const claimed = await metered(t, claimNext, { ...ws, workerId: busyWorkerId, lane: "worker" });
  const completion = {
    ...ws,
    jobId: claimed.result.jobId,
    workerId: busyWorkerId,
    claimGeneration: claimed.result.claimGeneration,
    outcome: "failed",
    outcomeReason: { version: 1, category: "failed", code: "flaky", retryable: true },
  } as const;
  const failed = await metered(t, complete, completion);
  if (failed.result.result?.status !== "scheduled") throw new Error("The measured failure was not retried.");
  const repeated = await metered(t, complete, completion);
  if (repeated.result.result?.idempotent !== true) throw new Error("The repeated completion was not idempotent.");
  return { failed, repeated };
}
