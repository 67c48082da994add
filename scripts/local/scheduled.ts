/**
 * Scheduled functions across restarts. convex-test runs `ctx.scheduler.runAfter` on in-memory
 * timers, which a restart loses while their `_scheduled_functions` rows stay `pending`. At start
 * we arm a timer for each such row again (same id, so `ctx.scheduler.cancel` keeps working) and
 * run it the way convex-test does: pending -> inProgress -> success | failed.
 */
import type { Value } from "convex/values";
import type { Engine } from "./engine";
import { messageOf } from "./messageOf";

type ScheduledRow = {
  _id: string;
  name: string;
  args: Value[];
  scheduledTime: number;
  state: { kind: string };
};

/** setTimeout fires at once for delays above this; longer waits are re-armed in steps. */
const MAX_TIMER_MS = 2_147_483_647;
const TABLE = "_scheduled_functions";

export function rearmScheduledFunctions(engine: Engine, log: (message: string) => void) {
  const timers = new Set<NodeJS.Timeout>();
  const rows = engine.documentsOf(TABLE) as unknown as ScheduledRow[];

  const arm = (row: ScheduledRow) => {
    const delay = Math.min(Math.max(0, row.scheduledTime - Date.now()), MAX_TIMER_MS);
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (Date.now() < row.scheduledTime) arm(row);
      else void run(engine, row, log);
    }, delay);
    timers.add(timer);
  };

  const interrupted = rows.filter((row) => row.state.kind === "inProgress");
  const pending = rows.filter((row) => row.state.kind === "pending");
  for (const row of pending) arm(row);
  if (pending.length > 0) log(`Re-armed ${pending.length} scheduled function(s) left pending by the last run.`);

  return {
    /**
     * Functions that were running when the process died may or may not have committed; we
     * cannot tell, so they are marked failed rather than run twice (Convex runs a scheduled
     * mutation exactly once). Crons such as the lease sweep repair what they would have done.
     */
    async markInterrupted() {
      for (const row of interrupted) {
        await setState(engine, row._id, "inProgress", { state: { kind: "failed" }, completedTime: Date.now() });
        log(`Scheduled function ${row.name} (${row._id}) was interrupted by the last shutdown; marked failed.`);
      }
    },
    stop() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}

async function run(engine: Engine, row: ScheduledRow, log: (message: string) => void) {
  try {
    // Canceled (or already run) while we waited: the row says so and we leave it alone.
    if (!(await setState(engine, row._id, "pending", { state: { kind: "inProgress" } }))) return;
    try {
      await engine.call(row.name, (row.args[0] ?? {}) as Record<string, Value>);
    } catch (error) {
      log(`Scheduled function ${row.name} failed: ${messageOf(error)}`);
      await setState(engine, row._id, "inProgress", { state: { kind: "failed" }, completedTime: Date.now() });
      return;
    }
    await setState(engine, row._id, "inProgress", { state: { kind: "success" }, completedTime: Date.now() });
  } catch (error) {
    log(`Could not run scheduled function ${row.name}: ${messageOf(error)}`);
  }
}

/** Patches a system row in its own transaction if it is still in state `from`. */
async function setState(engine: Engine, id: string, from: string, patch: Record<string, Value>): Promise<boolean> {
  return engine.t.run(async () => {
    const row = engine.db.get(TABLE, id) as unknown as ScheduledRow | null;
    if (row === null || row.state.kind !== from) return false;
    engine.db.patch(TABLE, id, patch);
    return true;
  });
}
