/**
 * One full garbage collection, for the end of a large start-up: parsing the snapshot and
 * building the indexes leave several times the live data as garbage, which V8 keeps (and the
 * process keeps as resident memory) until allocation pressure makes it collect. A server that
 * then sits idle would hold it indefinitely.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

let collect: (() => void) | null | undefined;

/** Runs a full collection; false when this Node cannot be asked to. */
export function collectGarbage(): boolean {
  if (collect === undefined) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (typeof exposed === "function") collect = exposed;
    else {
      try {
        // `gc` is only installed in contexts created after the flag is set.
        setFlagsFromString("--expose-gc");
        const fresh = runInNewContext("gc") as unknown;
        collect = typeof fresh === "function" ? (fresh as () => void) : null;
      } catch {
        collect = null;
      }
    }
  }
  if (collect === null) return false;
  collect();
  return true;
}
