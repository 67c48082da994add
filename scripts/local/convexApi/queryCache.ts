/**
 * Query results shared by every sync session and HTTP call that asks the same (identity, path,
 * args, journal), each with the commit timestamps between which it holds: from the snapshot it
 * was computed at until the first commit that wrote a table it read (readSets.ts). A session can
 * then answer from results that all hold at one timestamp, even if later commits made some
 * stale, instead of every session re-running every query after every commit.
 */
import type { Engine } from "../engine";
import { tableOf } from "../convexTestInternals";
import type { FunctionOutcome } from "./protocol";
import { ANY_TABLE } from "./readSets";

export type QueryResult = { outcome: FunctionOutcome; journal: string | null; key: string };
type Entry = { result: QueryResult; tables: Set<string>; computedAt: bigint; invalidatedAt: bigint | null };

/** Distinct results kept; the least recently used beyond this are dropped. */
const MAX_ENTRIES = 4096;

export function createQueryCache(engine: Engine, now: () => bigint) {
  const entries = new Map<string, Entry>();
  // Registered after the commit clock's listener, so `now()` is the committing timestamp.
  engine.onCommit(({ writtenIds }) => {
    const written = new Set(writtenIds.map(tableOf));
    const ts = now();
    for (const entry of entries.values()) {
      if (entry.invalidatedAt !== null) continue;
      if (entry.tables.has(ANY_TABLE) || [...entry.tables].some((table) => written.has(table)))
        entry.invalidatedAt = ts;
    }
  });
  const touch = (key: string) => {
    const entry = entries.get(key);
    if (entry !== undefined) {
      entries.delete(key); // most recently used last
      entries.set(key, entry);
    }
    return entry;
  };
  return {
    /**
     * Results for `keys` that all hold at one timestamp ≥ `notBefore`: the current one when none
     * is stale, else the latest at which all hold. Null when some is missing or none fits.
     */
    snapshot(keys: string[], notBefore: bigint): { ts: bigint; results: QueryResult[] } | null {
      const found: Entry[] = [];
      let ts = notBefore;
      let allCurrent = true;
      for (const key of keys) {
        const entry = touch(key);
        if (entry === undefined) return null;
        found.push(entry);
        if (entry.computedAt > ts) ts = entry.computedAt;
        if (entry.invalidatedAt !== null) allCurrent = false;
      }
      if (allCurrent) ts = now() > ts ? now() : ts;
      else if (!found.every((entry) => entry.invalidatedAt === null || entry.invalidatedAt > ts)) return null;
      return { ts, results: found.map((entry) => entry.result) };
    },
    /** A result that holds now (call inside a transaction, where `now()` is its snapshot). */
    current(key: string): QueryResult | undefined {
      const entry = touch(key);
      return entry !== undefined && entry.invalidatedAt === null ? entry.result : undefined;
    },
    put(key: string, result: QueryResult, tables: Set<string>, computedAt: bigint) {
      entries.delete(key);
      entries.set(key, { result, tables, computedAt, invalidatedAt: null });
      for (const oldest of entries.keys()) {
        if (entries.size <= MAX_ENTRIES) break;
        entries.delete(oldest);
      }
    },
  };
}
