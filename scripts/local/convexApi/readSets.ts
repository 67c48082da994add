/**
 * Which tables a query read, so a commit only invalidates the cached results it can change.
 * The engine learns reads from convex-test (scripts/local/convexTestInternals.ts `onRead`).
 */
import type { Engine } from "../engine";

export { ANY_TABLE } from "../convexTestInternals";

export function createReadTracker(engine: Engine) {
  return { track: engine.trackReads };
}
export type ReadTracker = ReturnType<typeof createReadTracker>;
