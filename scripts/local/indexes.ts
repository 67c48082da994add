/**
 * Real index ranges for the local engine. convex-test answers every query by walking all
 * documents of the table (`_iterateDocs`) and filtering, so local mode slowed down as tables
 * grew. Here each table keeps its committed document ids, and each schema index keeps them sorted
 * by index key; a `withIndex` range then walks only its range, plus the documents the open
 * transaction wrote. convex-test still applies the range filter and sorts what it is handed, so
 * results and order are exactly what they were; only the candidates shrink.
 */
import { compareValues, jsonToConvex, type Value } from "convex/values";

/** The parts of convex-test's `DatabaseFake` this file relies on (see engine.ts). */
export type QueryableDatabase = {
  _documents: Record<string, Record<string, Value>>;
  _writes: Array<Record<string, Record<string, Value> | null>>;
  _schema?: { tables: Map<string, { indexes: Array<{ indexDescriptor: string; fields: string[] }> }> } | null;
  _iterateDocs(tableName: string, callback: (document: Record<string, Value>) => void): void;
  _resolveQuerySource(query: { source: QuerySource }): unknown;
  commit(commitTs?: bigint | null): void;
  get(table: string, id: string): Record<string, Value> | null;
};

type RangeExpression = { type: "Eq" | "Gt" | "Gte" | "Lt" | "Lte"; fieldPath: string; value: unknown };
type QuerySource = { type: string; indexName?: string; range?: RangeExpression[] };
type Bound = { value: Value | undefined; inclusive: boolean };
type Range = { index: SortedIndex; equal: Array<Value | undefined>; lower?: Bound; upper?: Bound };

/** The table of a convex-test document id: the letters after its numeric prefix. */
export function tableOf(id: string): string {
  return id.replace(/^[0-9]+/, "");
}

function fieldValue(document: Record<string, Value>, fieldPath: string): Value | undefined {
  let value: unknown = document;
  for (const part of fieldPath.split(".")) {
    value = isPlainObject(value) ? value[part] : undefined;
  }
  return value as Value | undefined;
}

/** Field paths step only into plain objects, as convex-test's do (not arrays or byte buffers). */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** Compares a key with a (shorter or equal) bound, field by field. */
function compareToBound(key: Array<Value | undefined>, bound: Array<Value | undefined>): number {
  for (let i = 0; i < bound.length; i++) {
    const order = compareValues(key[i], bound[i]);
    if (order !== 0) return order;
  }
  return 0;
}

/** One index: committed document ids sorted by (index fields, _creationTime, _id). */
export class SortedIndex {
  private readonly entries: Array<{ key: Array<Value | undefined>; id: string }> = [];
  private readonly keys = new Map<string, Array<Value | undefined>>();

  constructor(readonly fields: string[]) {}

  /** Records the committed version of a document (null: deleted). */
  put(id: string, document: Record<string, Value> | null) {
    const previous = this.keys.get(id);
    if (previous !== undefined) {
      this.entries.splice(
        this.first((c) => c >= 0, previous),
        1,
      );
      this.keys.delete(id);
    }
    if (document === null) return;
    const key = this.fields.map((field) => fieldValue(document, field));
    this.entries.splice(
      this.first((c) => c >= 0, key),
      0,
      { key, id },
    );
    this.keys.set(id, key);
  }

  /** Ids whose key starts with `equal` and whose next field lies within the bounds, in order. */
  ids({ equal, lower, upper }: Omit<Range, "index">): string[] {
    const from =
      lower === undefined
        ? this.first((c) => c >= 0, equal)
        : this.first((c) => c > 0 || (lower.inclusive && c === 0), [...equal, lower.value]);
    const to =
      upper === undefined
        ? this.first((c) => c > 0, equal)
        : this.first((c) => c > 0 || (!upper.inclusive && c === 0), [...equal, upper.value]);
    return this.entries.slice(from, Math.max(from, to)).map((entry) => entry.id);
  }

  /** The first entry position where `passes(compare(entry, bound))` (monotone in sorted order). */
  private first(passes: (comparison: number) => boolean, bound: Array<Value | undefined>): number {
    let low = 0;
    let high = this.entries.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (passes(compareToBound(this.entries[middle]!.key, bound))) high = middle;
      else low = middle + 1;
    }
    return low;
  }
}

/** Installs table id sets and sorted indexes on a convex-test database, kept current on commit. */
export function installIndexes(db: QueryableDatabase) {
  const idsByTable = new Map<string, Set<string>>();
  const indexesByTable = new Map<string, Map<string, SortedIndex>>();
  const idsOf = (table: string) => {
    let ids = idsByTable.get(table);
    if (ids === undefined) idsByTable.set(table, (ids = new Set()));
    return ids;
  };
  const indexesOf = (table: string) => {
    let indexes = indexesByTable.get(table);
    if (indexes === undefined) {
      indexes = new Map([["by_creation_time", new SortedIndex(["_creationTime", "_id"])]]);
      for (const { indexDescriptor, fields } of db._schema?.tables.get(table)?.indexes ?? []) {
        indexes.set(indexDescriptor, new SortedIndex([...fields, "_creationTime", "_id"]));
      }
      indexesByTable.set(table, indexes);
    }
    return indexes;
  };
  const record = (id: string) => {
    const table = tableOf(id);
    const document = db._documents[id] ?? null;
    if (document === null) idsOf(table).delete(id);
    else idsOf(table).add(id);
    for (const index of indexesOf(table).values()) index.put(id, document);
  };
  for (const id of Object.keys(db._documents)) record(id);

  const commit = db.commit.bind(db);
  db.commit = (commitTs) => {
    const written = db._writes.length === 1 ? Object.keys(db._writes[0] ?? {}) : [];
    commit(commitTs);
    for (const id of written) record(id);
  };

  // convex-test resolves a query synchronously: remember its range while it walks the table.
  let pendingRange: { table: string; range: Range } | null = null;
  const resolve = db._resolveQuerySource.bind(db);
  db._resolveQuerySource = (query) => {
    const source = query.source;
    if (source.type !== "IndexRange" || source.indexName === undefined) return resolve(query);
    const [table, indexName] = source.indexName.split(".") as [string, string];
    const index = indexesOf(table).get(indexName);
    const range = index === undefined ? null : rangeOf(index, source.range ?? []);
    pendingRange = range === null ? null : { table, range };
    try {
      return resolve(query);
    } finally {
      pendingRange = null;
    }
  };

  db._iterateDocs = (tableName, callback) => {
    const committed =
      pendingRange?.table === tableName ? pendingRange.range.index.ids(pendingRange.range) : idsOf(tableName);
    const written = new Set<string>();
    for (const layer of db._writes) for (const id of Object.keys(layer)) if (tableOf(id) === tableName) written.add(id);
    const visit = (id: string) => {
      const document = db.get(tableName, id);
      if (document !== null) callback(document);
    };
    // convex-test's own order: committed documents (in their pending version), then new ones.
    // Search results are not sorted afterwards, so this order is part of the answer.
    const seen = new Set<string>();
    for (const id of committed) {
      seen.add(id);
      visit(id);
    }
    for (const id of written) if (!seen.has(id)) visit(id);
  };
}

/**
 * The range a query's expressions describe on `index`: equalities on its leading fields, then
 * optional bounds on the next one. Anything else (null) falls back to walking the table.
 */
function rangeOf(index: SortedIndex, expressions: RangeExpression[]): Range | null {
  const valueOf = (expression: RangeExpression) =>
    typeof expression.value === "object" && expression.value !== null && "$undefined" in expression.value
      ? undefined
      : jsonToConvex(expression.value as never);
  const equal: Array<Value | undefined> = [];
  for (const field of index.fields) {
    const expression = expressions.find((candidate) => candidate.type === "Eq" && candidate.fieldPath === field);
    if (expression === undefined) break;
    equal.push(valueOf(expression));
  }
  const next = index.fields[equal.length];
  let lower: Bound | undefined;
  let upper: Bound | undefined;
  for (const expression of expressions) {
    if (expression.type === "Eq" && index.fields.indexOf(expression.fieldPath) < equal.length) continue;
    if (expression.fieldPath !== next) return null;
    if (expression.type === "Gt" || expression.type === "Gte")
      lower = { value: valueOf(expression), inclusive: expression.type === "Gte" };
    else if (expression.type === "Lt" || expression.type === "Lte")
      upper = { value: valueOf(expression), inclusive: expression.type === "Lte" };
    else return null;
  }
  return { index, equal, lower, upper };
}
