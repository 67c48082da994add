/**
 * Which tables a query read, so a commit only invalidates the cached results it can change.
 *
 * PRIVATE convex-test ACCESS (the only one in convexApi/): wraps the DatabaseFake's `get` and
 * `_resolveQuerySource`, through which every document read and every query range passes.
 * The integrator may move this into the engine adapter; nothing else here knows these names.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { DatabaseFake } from "../engine";
import { tableOf } from "../indexes";

type QuerySource = { type: string; tableName?: string; indexName?: string };
type ReadableDatabase = DatabaseFake & { _resolveQuerySource(query: { source: QuerySource }): unknown };

/** "*" stands for a read we could not attribute: such a result is invalidated by any commit. */
export const ANY_TABLE = "*";

export function createReadTracker(db: DatabaseFake) {
  const reads = new AsyncLocalStorage<Set<string>>();
  const readable = db as ReadableDatabase;
  const get = readable.get.bind(readable);
  readable.get = (table, id) => {
    reads.getStore()?.add(table || tableOf(id));
    return get(table, id);
  };
  const resolve = readable._resolveQuerySource.bind(readable);
  readable._resolveQuerySource = (query) => {
    const source = query.source;
    reads.getStore()?.add(source.tableName ?? source.indexName?.split(".")[0] ?? ANY_TABLE);
    return resolve(query);
  };
  return {
    /** Runs `read`, answering its value and the tables it read (reads of concurrent work are not mixed in). */
    async track<T>(read: () => Promise<T>): Promise<{ value: T; tables: Set<string> }> {
      const tables = new Set<string>();
      const value = await reads.run(tables, read);
      return { value, tables };
    },
  };
}
export type ReadTracker = ReturnType<typeof createReadTracker>;
