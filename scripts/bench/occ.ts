/**
 * Convex's optimistic-concurrency rule, as a pure model over what a transaction read and wrote
 * (recorded by `recordDatabaseAccess`, scripts/local/convexTestInternals.ts). A transaction must
 * retry when another one committed first and wrote inside its read set: a document it read by id,
 * or a document whose index key, before or after the write, lies in an index interval it read.
 *
 * The interval of a query is its index range, cut where the query stopped: a query with a limit
 * (`.first()`, `.unique()`, `.take(n)`) that returned that many documents read only up to the last
 * one (Convex's read set is what was scanned); any other query, and every page, counts its whole
 * range, which can only over-report conflicts.
 */
import { compareValues, jsonToConvex, type Value } from "convex/values";
import type {
  CommittedWrite,
  DatabaseRead,
  Document,
  RangeExpression,
  SerializedQuery,
} from "../local/convexTestInternals";
import { tableOf } from "../local/convexTestInternals";

type Key = Array<Value | undefined>;

/** An interval of one index: documents of `table` whose fields satisfy `range`, up to `cut`. */
export type IndexInterval = {
  table: string;
  index: string;
  /** The index's fields, then _creationTime and _id (Convex's full index key). */
  fields: string[];
  range: Array<{ type: RangeExpression["type"]; fieldPath: string; value: Value | undefined }>;
  /** Read only up to this key (inclusive), in `order`; absent: the whole range. */
  cut?: { key: Key; order: "asc" | "desc" };
};

export type ReadSet = { ids: Set<string>; intervals: IndexInterval[] };
export type Transaction = { reads: ReadSet; writes: CommittedWrite[] };

/** The fields of an index as Convex keys it (declared fields, then _creationTime and _id). */
export type IndexFields = (table: string, index: string) => string[];

function fieldOf(document: Document, path: string): Value | undefined {
  let value: unknown = document;
  for (const part of path.split(".")) {
    value = value !== null && typeof value === "object" && !Array.isArray(value) ? (value as any)[part] : undefined;
  }
  return value as Value | undefined;
}

function keyOf(document: Document, fields: string[]): Key {
  return fields.map((field) => fieldOf(document, field));
}

function compareKeys(a: Key, b: Key): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const order = compareValues(a[i] as Value, b[i] as Value);
    if (order !== 0) return order;
  }
  return 0;
}

function limitOf(query: SerializedQuery): number | null {
  for (const operator of query.operators) {
    const limit = (operator as { limit?: number }).limit;
    if (typeof limit === "number") return limit;
  }
  return null;
}

function intervalOf(query: SerializedQuery, indexFields: IndexFields): IndexInterval | null {
  const { source } = query;
  if (source.type === "FullTableScan") {
    return { table: source.tableName!, index: "by_creation_time", fields: ["_creationTime", "_id"], range: [] };
  }
  if (source.type !== "IndexRange") return null;
  const [table, index] = source.indexName!.split(".") as [string, string];
  return {
    table,
    index,
    fields: indexFields(table, index),
    range: (source.range ?? []).map(({ type, fieldPath, value }) => ({
      type,
      fieldPath,
      value: value === undefined ? undefined : jsonToConvex(value as never),
    })),
  };
}

/** The read set of a transaction from its recorded reads. */
export function readSetOf(reads: readonly DatabaseRead[], indexFields: IndexFields): ReadSet {
  const ids = new Set<string>();
  const intervals: IndexInterval[] = [];
  for (const read of reads) {
    if (read.kind === "get") {
      ids.add(read.id);
      continue;
    }
    const query = read.kind === "query" ? read.query : read.request.query;
    const interval = intervalOf(query, indexFields);
    if (interval === null) {
      // A search reads its whole table as far as this model can tell.
      const table = (query.source.indexName ?? "").split(".")[0]!;
      intervals.push({ table, index: "by_creation_time", fields: ["_creationTime", "_id"], range: [] });
      continue;
    }
    if (read.kind === "query") {
      const limit = limitOf(query);
      const last = read.returned.at(-1);
      if (limit !== null && last !== undefined && read.returned.length >= limit) {
        interval.cut = { key: keyOf(last, interval.fields), order: query.source.order ?? "asc" };
      }
    }
    intervals.push(interval);
  }
  return { ids, intervals };
}

export function inInterval(interval: IndexInterval, document: Document): boolean {
  for (const { type, fieldPath, value } of interval.range) {
    const order = compareValues(fieldOf(document, fieldPath) as Value, value as Value);
    const holds =
      type === "Eq"
        ? order === 0
        : type === "Gt"
          ? order > 0
          : type === "Gte"
            ? order >= 0
            : type === "Lt"
              ? order < 0
              : order <= 0;
    if (!holds) return false;
  }
  if (interval.cut === undefined) return true;
  const order = compareKeys(keyOf(document, interval.fields), interval.cut.key);
  return interval.cut.order === "asc" ? order <= 0 : order >= 0;
}

/** Why `reader` must retry after `writer` committed first, or null when it need not. */
export function conflictOf(reader: Transaction, writer: Transaction): string | null {
  for (const { id, previous, current } of writer.writes) {
    // An insert makes a fresh id no transaction started before it can have read; convex-test may
    // show such a read (ids are sequential, and a rolled-back call's scheduled function can fire
    // while the next call is recorded), Convex cannot.
    if (reader.reads.ids.has(id) && previous !== undefined) return `${tableOf(id)} ${id} (read by id)`;
    for (const interval of reader.reads.intervals) {
      if (interval.table !== tableOf(id)) continue;
      for (const version of [previous, current]) {
        if (version !== undefined && inInterval(interval, version)) return `${interval.table}.${interval.index} range`;
      }
    }
  }
  return null;
}

/** Whether two concurrent transactions conflict whichever commits first, and why. */
export function pairConflict(a: Transaction, b: Transaction): string | null {
  return conflictOf(a, b) ?? conflictOf(b, a);
}
