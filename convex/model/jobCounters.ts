/**
 * The job counters behind `/control-plane/metrics` and the Console `stats` query (SPEC §9b), as
 * pure functions: what each birth, move and deletion adds, and how the totals and pending deltas
 * of a (workspace, lane) sum into the numbers shown. jobCounters.ts stores them.
 *
 * Each delta and each total holds two records: `statuses` (jobs in each status now, a gauge) and `moves` (how
 * many times each move of the state table happened, keyed `<from>><to>:<event>`, births with
 * `from` = `new`; monotonic). Every named counter (claims, completions, recoveries, retries) is
 * derived from `moves` here, so a status or move added to model/jobStates.ts is counted with no
 * change to the writers.
 */
import { JOB_BIRTHS, JOB_STATES } from "./jobStates";
import { JOB_OUTCOMES, JOB_STATUSES, OUTCOME_EVENT, type JobOutcome, type JobStatus } from "./jobs";

/**
 * Counter documents a (workspace, lane) may still hold from before the deltas: the 16 shards the
 * counters were once split into. The rollup folds them into one total the first time it touches
 * that (workspace, lane); until then the readers sum them (at most this many per lane).
 */
export const LEGACY_COUNTER_SHARDS = 16;

/**
 * Pending deltas a read of one workspace's counts takes at most. At the cap the numbers are the
 * totals plus the workspace's oldest MAX_PENDING_DELTAS_READ changes (a moment behind), and
 * `pendingDeltas` says so; docs/operations.md (jobCounters.ts reads them).
 */
export const MAX_PENDING_DELTAS_READ = 4_000;

/** What a change adds to the counts: per status, per move key (also a total, the sum of all changes). */
export type CounterDelta = { statuses: Record<string, number>; moves: Record<string, number> };

export const BIRTH = "new";

export function moveKey(from: string, to: string, event: string): string {
  return `${from}>${to}:${event}`;
}

export function parseMoveKey(key: string): { from: string; to: string; event: string } | null {
  const match = /^([a-z_]+)>([a-z_]+):([a-z_]+)$/.exec(key);
  return match === null ? null : { from: match[1]!, to: match[2]!, event: match[3]! };
}

export function birthDelta(status: JobStatus, event: string): CounterDelta {
  return { statuses: { [status]: 1 }, moves: { [moveKey(BIRTH, status, event)]: 1 } };
}

export function moveDelta(from: JobStatus, to: JobStatus, event: string): CounterDelta {
  return { statuses: { [from]: -1, [to]: 1 }, moves: { [moveKey(from, to, event)]: 1 } };
}

/** Retention's deletion, and the backfill's first count of an existing job (no move: history is not rebuilt). */
export function presenceDelta(status: JobStatus, sign: 1 | -1): CounterDelta {
  return { statuses: { [status]: sign }, moves: {} };
}

export function addDelta(into: CounterDelta, delta: CounterDelta): CounterDelta {
  const add = (target: Record<string, number>, source: Record<string, number>) => {
    const sum = { ...target };
    for (const [key, value] of Object.entries(source)) sum[key] = (sum[key] ?? 0) + value;
    return sum;
  };
  return { statuses: add(into.statuses, delta.statuses), moves: add(into.moves, delta.moves) };
}

export const emptyDelta = (): CounterDelta => ({ statuses: {}, moves: {} });

/** `delta` without its zero entries (a job born and deleted in one batch nets out), or null when nothing is left. */
export function compactDelta(delta: CounterDelta): CounterDelta | null {
  const nonZero = (record: Record<string, number>) =>
    Object.fromEntries(Object.entries(record).filter(([, value]) => value !== 0));
  const compact = { statuses: nonZero(delta.statuses), moves: nonZero(delta.moves) };
  return Object.keys(compact.statuses).length + Object.keys(compact.moves).length === 0 ? null : compact;
}

/** Events that put a job back in line after it failed or stopped: `retried` today, `retry_scheduled` with retry policies. */
export const RETRY_EVENTS: readonly string[] = ["retried", "retry_scheduled"];

/** Every move the state table allows (births included), so each appears in the metrics at zero before it happens. */
export function knownMoves(): Array<{ from: string; to: string; event: string }> {
  const moves: Array<{ from: string; to: string; event: string }> = [];
  for (const [to, events] of Object.entries(JOB_BIRTHS))
    for (const event of events) moves.push({ from: BIRTH, to, event });
  for (const from of JOB_STATUSES) {
    for (const [to, events] of Object.entries(JOB_STATES[from].moves)) {
      for (const event of events as readonly string[]) moves.push({ from, to, event });
    }
  }
  return moves;
}

/** The numbers of one (workspace, lane): what `stats` returns and `/metrics` prints. */
export type LaneCounts = {
  /** Jobs in each status now. */
  jobs: Record<JobStatus, number>;
  /** Jobs created (every birth). */
  enqueued: number;
  /** Moves recorded with `claimed`. */
  claims: number;
  /** Moves out of `running` into a finished status with that outcome's event (a completion). */
  completions: Record<JobOutcome, number>;
  /** Moves into `failed`, whatever made them (a completion, a lease lost for good, a timeout). */
  failures: number;
  /** Lease-expiry recoveries (event `recovered`), by the status the job went to. */
  recoveries: Record<string, number>;
  /** Moves recorded with a RETRY_EVENTS event. */
  retries: number;
  /** Every move, births included, with its count (the known ones at zero too). */
  transitions: Array<{ from: string; to: string; event: string; count: number }>;
};

function zeros<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((key) => [key, 0])) as Record<K, number>;
}

/** Sums the counter documents of one (workspace, lane) (its total and pending deltas) into its numbers. */
export function laneCounts(parts: ReadonlyArray<CounterDelta>): LaneCounts {
  const total = parts.reduce(addDelta, emptyDelta());
  const jobs = zeros(JOB_STATUSES);
  for (const [status, count] of Object.entries(total.statuses)) jobs[status as JobStatus] = count;
  const recoveryTargets = knownMoves()
    .filter((move) => move.event === "recovered")
    .map((move) => move.to);
  const counts: LaneCounts = {
    jobs,
    enqueued: 0,
    claims: 0,
    completions: zeros(JOB_OUTCOMES),
    failures: 0,
    recoveries: zeros([...new Set(recoveryTargets)]),
    retries: 0,
    transitions: [],
  };
  const transitions = new Map(knownMoves().map((move) => [moveKey(move.from, move.to, move.event), 0]));
  for (const [key, count] of Object.entries(total.moves)) transitions.set(key, (transitions.get(key) ?? 0) + count);
  for (const [key, count] of transitions) {
    const move = parseMoveKey(key);
    if (move === null) continue;
    counts.transitions.push({ ...move, count });
    if (move.from === BIRTH) counts.enqueued += count;
    if (move.event === "claimed") counts.claims += count;
    const outcome = move.to as JobOutcome;
    if (move.from === "running" && JOB_OUTCOMES.includes(outcome) && OUTCOME_EVENT[outcome] === move.event)
      counts.completions[outcome] += count;
    if (move.to === "failed") counts.failures += count;
    if (move.event === "recovered") counts.recoveries[move.to] = (counts.recoveries[move.to] ?? 0) + count;
    if (RETRY_EVENTS.includes(move.event)) counts.retries += count;
  }
  return counts;
}
