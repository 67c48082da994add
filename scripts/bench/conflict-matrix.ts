/**
 * Which hot calls would conflict on Convex (SPEC §6 "Concurrency on Convex"): each call of a pair
 * runs the very handler its route runs, from the same committed state, in a transaction that is
 * rolled back; its reads and writes are recorded (scripts/local/convexTestInternals.ts) and the
 * pair is judged by Convex's OCC rule (occ.ts). Shared by `npm run bench` and
 * test/queue-conflicts.test.ts.
 */
import type { Id } from "../../convex/_generated/dataModel";
import type { MutationCtx } from "../../convex/_generated/server";
import { rollup } from "../../convex/jobCounters";
import { enqueue, enqueueJob } from "../../convex/jobs";
import { claimNext, complete, extendLeaseIfHeld } from "../../convex/leases";
import {
  handlerOf,
  openInternals,
  recordDatabaseAccess,
  schemaIndexes,
  type Internals,
  type TestConvex,
} from "../local/convexTestInternals";
import { pairConflict, readSetOf, type IndexFields, type Transaction } from "./occ";
import { seedWorkload, type Runner, type Workload } from "./queue-workload";

/** A hot call: its registered function, arguments, and what its result must show (it did its work). */
type Call = { name: string; fn: object; args: Record<string, unknown>; did: (result: any) => boolean };

/** One pair of the matrix: its calls, whether they share a repo or a concurrency key (or run beside the counters' rollup), and the verdict. */
export type PairResult = {
  pair: string;
  scope: "different repos" | "same repo" | "same concurrency key" | "beside the rollup";
  conflict: string | null;
};

const ROLLBACK = "conflict-matrix: rolled back";

function indexFieldsOf(internals: Internals): IndexFields {
  return (table, index) => {
    if (index === "by_creation_time") return ["_creationTime", "_id"];
    if (index === "by_id") return ["_id"];
    const declared = schemaIndexes(internals, table).find((each) => each.name === index);
    if (declared === undefined) throw new Error(`No index ${table}.${index} in the schema.`);
    return [...declared.fields, "_creationTime", "_id"];
  };
}

/**
 * The calls run this long after the fleet was seeded (the clock is shifted while they run), so
 * the seed's counter deltas have settled (ROLLUP_SETTLE_MS) and the rollup has some to fold, as
 * on a live deployment; leases (600 s by default) are still held.
 */
const CALLS_AFTER_SEED_MS = 6_000;

/** Runs `call` in a transaction that is rolled back, and returns what it read and wrote. */
async function recorded(t: TestConvex, internals: Internals, call: Call): Promise<Transaction> {
  const handler = handlerOf<MutationCtx, Record<string, unknown>, unknown>(call.fn);
  const access = recordDatabaseAccess(internals);
  let writes: Transaction["writes"] = [];
  let result: any;
  const realNow = Date.now;
  Date.now = () => realNow() + CALLS_AFTER_SEED_MS;
  try {
    await t.run(async (ctx) => {
      result = await handler(ctx, call.args);
      writes = access.writes();
      throw new Error(ROLLBACK);
    });
  } catch (error) {
    if (!(error instanceof Error) || !error.message.includes(ROLLBACK)) throw error;
  } finally {
    Date.now = realNow;
    access.stop();
  }
  if (!call.did(result)) {
    throw new Error(`${call.name} did not do what the matrix measures: ${JSON.stringify(result)}`);
  }
  return { reads: readSetOf(access.reads, indexFieldsOf(internals)), writes };
}

type Fleet = Workload & {
  repoA: Id<"repos">;
  repoB: Id<"repos">;
  /** Two workers allowed only on repo A, one only on repo B; one on A offering the `gpu` model. */
  claimerA1: Id<"workers">;
  claimerA2: Id<"workers">;
  claimerAGpu: Id<"workers">;
  claimerB: Id<"workers">;
  /** Running jobs, each held by its own worker: two in repo A, one in repo B. */
  heldA: Held;
  heldA2: Held;
  heldB: Held;
  /** A running job in repo A with concurrency key `held` (SPEC §6 Concurrency), held by its worker. */
  heldKeyedA: Held;
};
type Held = { jobId: Id<"jobs">; workerId: Id<"workers">; claimGeneration: number };

/** Claims the best job for `workerId` (seeding). */
async function seedClaim(t: Runner, workload: Workload, workerId: Id<"workers">) {
  return await t.run(async (ctx) =>
    handlerOf<MutationCtx, Record<string, unknown>, any>(claimNext)(ctx, {
      caller: workload.caller,
      workspaceId: workload.workspaceId,
      workerId,
      lane: "worker",
    }),
  );
}

async function insertWorker(t: Runner, workload: Workload, name: string, repoId: Id<"repos">, models?: string[]) {
  return await t.run(
    async (ctx) =>
      await ctx.db.insert("workers", {
        workspaceId: workload.workspaceId,
        displayName: name,
        machineFingerprint: `fp-${name}`,
        status: "online",
        capabilities: { reposAllowed: [repoId], ...(models === undefined ? {} : { models }) },
        inventory: {},
        lastSeenAt: Date.now(),
      }),
  );
}

/** Claims a job of `repoId` for a new worker of its own. */
async function holdJob(t: Runner, workload: Workload, name: string, repoId: Id<"repos">): Promise<Held> {
  const workerId = await insertWorker(t, workload, name, repoId);
  const claimed = await seedClaim(t, workload, workerId);
  return { jobId: claimed.jobId, workerId, claimGeneration: claimed.claimGeneration };
}

/**
 * Two repos with five jobs each (two running in repo A, one in repo B), a waiting `gpu` job in repo
 * A, and concurrency keys: `roomy` with room, `full` full, `held` with a job running in repo A.
 */
async function seedFleet(t: Runner): Promise<Fleet> {
  const workload = await seedWorkload(t, {
    repos: 2,
    workers: 0,
    pendingJobs: 10,
    unclaimableJobs: 0,
    finishedJobs: 0,
  });
  const [repoA, repoB] = workload.repoIds as [Id<"repos">, Id<"repos">];
  const heldA = await holdJob(t, workload, "holder-a", repoA);
  const heldA2 = await holdJob(t, workload, "holder-a2", repoA);
  const heldB = await holdJob(t, workload, "holder-b", repoB);
  // Concurrency keys: `roomy` has room (limit 10), `full` is full (its one admitted job runs elsewhere);
  // a keyed job of key `held` runs in repo A.
  const keyedHolder = await insertWorker(t, workload, "holder-keyed-a", repoA);
  await t.run(async (ctx) => {
    const { workspaceId } = workload;
    await ctx.db.insert("concurrencyKeys", {
      workspaceId,
      key: "roomy",
      admitted: 0,
      limit: 10,
      updatedAt: Date.now(),
    });
    await ctx.db.insert("concurrencyKeys", { workspaceId, key: "full", admitted: 1, updatedAt: Date.now() });
    const fields = { workspaceId, repoId: repoA, kind: "work" as const, prompt: "Keyed" };
    await enqueueJob(ctx, { ...fields, priority: -10, concurrencyKey: "held" });
    await enqueueJob(ctx, { ...fields, priority: -10, concurrencyKey: "held" });
  });
  const keyedClaim = await seedClaim(t, workload, keyedHolder);
  await t.run(async (ctx) => {
    const fields = { workspaceId: workload.workspaceId, repoId: repoA, kind: "work" as const, prompt: "Needs a GPU" };
    await enqueueJob(ctx, { ...fields, priority: -5, requirements: { model: "gpu" } });
  });
  return {
    ...workload,
    repoA,
    repoB,
    claimerA1: await insertWorker(t, workload, "claimer-a1", repoA),
    claimerA2: await insertWorker(t, workload, "claimer-a2", repoA),
    claimerB: await insertWorker(t, workload, "claimer-b", repoB),
    claimerAGpu: await insertWorker(t, workload, "claimer-a-gpu", repoA, ["gpu"]),
    heldA,
    heldA2,
    heldB,
    heldKeyedA: { jobId: keyedClaim.jobId, workerId: keyedHolder, claimGeneration: keyedClaim.claimGeneration },
  };
}

function calls(fleet: Fleet) {
  const ws = { caller: fleet.caller, workspaceId: fleet.workspaceId };
  const claim = (workerId: Id<"workers">): Call => ({
    name: "claim",
    fn: claimNext,
    args: { ...ws, workerId, lane: "worker" },
    did: (result) => typeof result?.jobId === "string",
  });
  // The seeded jobs have priorities 0-2: 5 queues behind them, -1 ahead.
  const enqueueIn = (repoId: Id<"repos">, priority = 5, concurrencyKey?: string): Call => ({
    name: "enqueue",
    fn: enqueue,
    args: { ...ws, repoId, kind: "work", prompt: "Matrix job", priority, concurrencyKey },
    did: (result) => typeof result?.jobId === "string",
  });
  const completeOf = (held: Held): Call => ({
    name: "complete",
    fn: complete,
    args: { ...ws, ...held, outcome: "done" },
    did: (result: any) => result?.result?.status === "done",
  });
  const held = { ...ws, ...fleet.heldA };
  return {
    claimA1: claim(fleet.claimerA1),
    claimA2: claim(fleet.claimerA2),
    claimB: claim(fleet.claimerB),
    claimAGpu: claim(fleet.claimerAGpu),
    enqueueA: enqueueIn(fleet.repoA),
    enqueueA2: enqueueIn(fleet.repoA),
    enqueueAheadA: enqueueIn(fleet.repoA, -1),
    enqueueB: enqueueIn(fleet.repoB),
    heartbeatA: {
      name: "heartbeat",
      fn: extendLeaseIfHeld,
      args: held,
      did: (result: any) => typeof result?.leaseExpiresAt === "number",
    },
    completeA: completeOf(fleet.heldA),
    completeA2: completeOf(fleet.heldA2),
    completeB: completeOf(fleet.heldB),
    // The counters' rollup (jobCounters.ts), folding the seed's settled deltas.
    rollup: { name: "rollup", fn: rollup, args: {}, did: (result: any) => result?.folded > 0 },
    enqueueRoomyA: enqueueIn(fleet.repoA, 5, "roomy"),
    enqueueRoomyB: enqueueIn(fleet.repoB, 5, "roomy"),
    enqueueFullA: enqueueIn(fleet.repoA, -20, "full"),
    enqueueFullB: enqueueIn(fleet.repoB, -20, "full"),
    enqueueHeldB: enqueueIn(fleet.repoB, 5, "held"),
    completeKeyedA: {
      name: "complete (keyed)",
      fn: complete,
      args: { ...ws, ...fleet.heldKeyedA, outcome: "done" },
      did: (result: any) => result?.result?.status === "done",
    },
  };
}

/** The pairs of the matrix: [label, scope, first call, second call]. */
function pairsOf(c: ReturnType<typeof calls>): Array<[string, PairResult["scope"], Call, Call]> {
  return [
    ["claim / claim", "different repos", c.claimA1, c.claimB],
    ["claim / enqueue", "different repos", c.claimA1, c.enqueueB],
    ["enqueue / enqueue", "different repos", c.enqueueA, c.enqueueB],
    ["heartbeat / claim", "different repos", c.heartbeatA, c.claimB],
    ["complete / claim", "different repos", c.completeA, c.claimB],
    ["claim / claim (the same head job)", "same repo", c.claimA1, c.claimA2],
    ["claim / claim (heads of two streams)", "same repo", c.claimA1, c.claimAGpu],
    ["claim / enqueue (behind the head)", "same repo", c.claimA1, c.enqueueA],
    ["claim / enqueue (ahead of the head)", "same repo", c.claimA1, c.enqueueAheadA],
    ["enqueue / enqueue", "same repo", c.enqueueA, c.enqueueA2],
    ["heartbeat / claim", "same repo", c.heartbeatA, c.claimA1],
    ["complete / claim", "same repo", c.completeA, c.claimA1],
    // Moves of different jobs: before the counter deltas, 1 pair in 16 met on a counter shard.
    ["complete / complete", "different repos", c.completeA, c.completeB],
    ["complete / enqueue", "different repos", c.completeA, c.enqueueB],
    ["complete / complete (different jobs)", "same repo", c.completeA, c.completeA2],
    ["complete / enqueue", "same repo", c.completeA, c.enqueueA],
    ["claim / complete (different jobs)", "same repo", c.claimA1, c.completeA2],
    ["rollup / enqueue", "beside the rollup", c.rollup, c.enqueueA],
    ["rollup / claim", "beside the rollup", c.rollup, c.claimB],
    ["rollup / complete", "beside the rollup", c.rollup, c.completeA],
    ["rollup / heartbeat", "beside the rollup", c.rollup, c.heartbeatA],
    // Concurrency keys: keys are per workspace, so only calls of the same key share its document.
    ["enqueue (key with room) / enqueue (another key)", "different repos", c.enqueueRoomyA, c.enqueueFullB],
    ["enqueue (key with room) / claim", "different repos", c.enqueueRoomyA, c.claimB],
    ["enqueue (full key) / claim", "different repos", c.enqueueFullA, c.claimB],
    ["complete (keyed) / claim", "different repos", c.completeKeyedA, c.claimB],
    ["complete (keyed) / enqueue (another key)", "different repos", c.completeKeyedA, c.enqueueRoomyB],
    ["enqueue (full key) / claim", "same repo", c.enqueueFullA, c.claimA1],
    ["complete (keyed) / claim", "same repo", c.completeKeyedA, c.claimA1],
    ["enqueue / enqueue (key with room)", "same concurrency key", c.enqueueRoomyA, c.enqueueRoomyB],
    ["enqueue / enqueue (full key)", "same concurrency key", c.enqueueFullA, c.enqueueFullB],
    ["complete (keyed) / enqueue", "same concurrency key", c.completeKeyedA, c.enqueueHeldB],
  ];
}

/** Seeds a fresh convex-test instance and judges every pair of the matrix. */
export async function conflictMatrix(t: TestConvex): Promise<PairResult[]> {
  const internals = await openInternals(t, { hasSchema: true });
  const fleet = await seedFleet(t as unknown as Runner);
  const results: PairResult[] = [];
  for (const [pair, scope, first, second] of pairsOf(calls(fleet))) {
    const a = await recorded(t, internals, first);
    const b = await recorded(t, internals, second);
    results.push({ pair, scope, conflict: pairConflict(a, b) });
  }
  return results;
}
