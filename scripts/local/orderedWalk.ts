/**
 * Index-range (and full-table) queries walked in index order: binary search to the range (or the
 * page cursor), then committed documents one at a time, merged with the open transaction's writes, so
 * `.first()`, `.take(n)` and a page cost O(log n + k) instead of a copy and sort of the range.
 * Answers and their order are convex-test's (test/e2e/local-indexes.test.ts compares them on
 * random data); `paginate` mirrors convex-test's `DatabaseFake.paginate` step by step.
 */
import { getDocumentSize, jsonToConvex, type Value } from "convex/values";
import {
  countSkippedRead,
  pendingWrites,
  tableOf,
  type CompiledQuery,
  type CursorCodec,
  type Document,
  type Internals,
  type PageRequest,
  type PageResult,
  type QueryExecution,
  type RangeExpression,
  type SerializedQuery,
} from "./convexTestInternals";
import type { IndexSet } from "./indexes";
import { compareFieldValues, type Key, type Position, type SortedIndex } from "./sortedIndex";

/** How many ordered walks ran and how many documents they visited (returned or skipped). */
export type WalkStats = { walks: number; visited: number };

type Bound = { value: Value | undefined; inclusive: boolean };
type Plan = {
  table: string;
  index: SortedIndex;
  equal: Key;
  lower?: Bound;
  upper?: Bound;
  /** The range as expressions on index field positions, for the transaction's own writes. */
  checks: Array<{ field: number; type: RangeExpression["type"]; value: Value | undefined }>;
};

export function orderedExecution(
  internals: Internals,
  indexes: IndexSet,
): { execution: Pick<QueryExecution, "stream" | "page">; stats: WalkStats } {
  const stats: WalkStats = { walks: 0, visited: 0 };

  const plan = (query: SerializedQuery): Plan | null => {
    if (query.source.type === "FullTableScan") {
      // convex-test orders a table by `_creationTime` alone; it is unique, so this is by_creation_time.
      const table = query.source.tableName ?? "";
      return planRange(table, indexes.index(table, "by_creation_time")!, []);
    }
    const [table, indexName] = (query.source.indexName ?? "").split(".") as [string, string];
    const index = indexes.index(table, indexName);
    return index === undefined ? null : planRange(table, index, query.source.range ?? []);
  };

  /** The plan's documents in `order`, strictly after `after` (a full index key) when given. */
  const walk = (plan: Plan, order: "asc" | "desc", after?: Key): (() => Document | undefined) => {
    stats.walks++;
    const { index, equal, lower, upper } = plan;
    let from = lower
      ? index.seek((c) => c > 0 || (lower.inclusive && c === 0), [...equal, lower.value])
      : index.seek((c) => c >= 0, equal);
    let to = upper
      ? index.seek((c) => c > 0 || (!upper.inclusive && c === 0), [...equal, upper.value])
      : index.seek((c) => c > 0, equal);
    if (after !== undefined) {
      // A page starts strictly after its cursor (a full index key), in either order.
      const cursor = index.seek(order === "asc" ? (c) => c > 0 : (c) => c >= 0, after);
      if (order === "asc") from = later(from, cursor);
      else to = earlier(to, cursor);
    }
    const direction = order === "asc" ? 1 : -1;

    // The open transaction's writes, as of now (convex-test also answers from a snapshot).
    const pending = pendingWrites(internals, (id) => tableOf(id) === plan.table);
    const mine = [...pending.values()]
      .filter((document): document is Document => document !== null && inRange(plan, document))
      .filter((document) => after === undefined || direction * index.compareToKey(document, after) > 0)
      .sort((a, b) => direction * index.compare(a, b));
    const committed = index.walk(from, to, order);
    let head = nextCommitted();
    let mineAt = 0;

    function nextCommitted(): Document | undefined {
      for (let step = committed.next(); !step.done; step = committed.next()) {
        if (!pending.has(step.value._id as string)) return step.value;
      }
      return undefined;
    }
    return () => {
      let document: Document | undefined;
      const own = mine[mineAt];
      if (head !== undefined && (own === undefined || direction * index.compare(head, own) < 0)) {
        document = head;
        head = nextCommitted();
      } else if (own !== undefined) {
        document = own;
        mineAt++;
      }
      if (document !== undefined) stats.visited++;
      return document;
    };
  };

  const stream: QueryExecution["stream"] = (query, compiled) => {
    const found = plan(query);
    if (found === null) return null;
    const next = walk(found, compiled.order);
    let returned = 0;
    return {
      next() {
        if (compiled.limit !== null && returned >= compiled.limit) return null;
        for (let document = next(); document !== undefined; document = next()) {
          if (compiled.filter(document)) {
            returned++;
            return document;
          }
          countSkippedRead(internals, document);
        }
        return null;
      },
    };
  };

  const page: QueryExecution["page"] = (request, compiled, cursors) => {
    const found = plan(request.query);
    if (found === null) return null;
    if (request.cursor === "_end_cursor") {
      return { page: [], isDone: true, continueCursor: "_end_cursor", splitCursor: null, pageStatus: null };
    }
    const after = request.cursor ? cursors.decode(request.cursor) : undefined;
    const next = walk(found, compiled.order, after);
    return paginateFrom(next, request, compiled, cursors, (document) => countSkippedRead(internals, document));
  };

  return { execution: { stream, page }, stats };
}

/**
 * convex-test's `paginate` loop over documents already positioned after the cursor: the same
 * page, cursors, end-cursor boundary, row and byte limits and split recommendations.
 */
function paginateFrom(
  next: () => Document | undefined,
  { endCursor, pageSize, maximumRowsRead, maximumBytesRead }: PageRequest,
  { filter, sortFields, order }: CompiledQuery,
  cursors: CursorCodec,
  skipped: (document: Document) => void,
): PageResult {
  const fields = sortFields.includes("_id") ? sortFields : [...sortFields, "_id"];
  const hasEndBoundary = !!endCursor && endCursor !== "_end_cursor";
  const endKeys = hasEndBoundary ? cursors.decode(endCursor!) : null;
  const page: Document[] = [];
  const readCursors: string[] = [];
  let continueCursor = "_end_cursor";
  let pageStatus: PageResult["pageStatus"] = null;
  let rowsRead = 0;
  let bytesRead = 0;
  const read = (document: Document) => {
    rowsRead += 1;
    bytesRead += getDocumentSize(document);
    readCursors.push(cursors.encode(document, fields));
    if (filter(document)) page.push(document);
    else skipped(document);
  };
  for (let document = next(), following = next(); document !== undefined; document = following, following = next()) {
    if (endKeys !== null) {
      const position = cursors.compare(document, endKeys, fields, order);
      if (position >= 0) {
        // At or past the end cursor: include this document if exactly at it, then stop.
        if (position === 0) {
          read(document);
          continueCursor = cursors.encode(document, fields);
        }
        break;
      }
    }
    read(document);
    if ((maximumRowsRead && rowsRead >= maximumRowsRead) || (maximumBytesRead && bytesRead >= maximumBytesRead)) {
      pageStatus = "SplitRequired";
      continueCursor = cursors.encode(document, fields);
      break;
    }
    if (!endCursor && page.length >= pageSize) {
      // The range's last document leaves the cursor at the end, so the page says it is done.
      if (following !== undefined) continueCursor = cursors.encode(document, fields);
      break;
    }
  }
  let splitCursor: string | null = null;
  const middle = readCursors[Math.floor((readCursors.length - 1) / 2)] ?? null;
  if (pageStatus === "SplitRequired" && readCursors.length >= 2) splitCursor = middle;
  else if (pageStatus === null && rowsRead > pageSize + 1 && readCursors.length >= 2) {
    pageStatus = "SplitRecommended";
    splitCursor = middle;
  }
  return { page, isDone: continueCursor === "_end_cursor", continueCursor, splitCursor, pageStatus };
}

/**
 * The range a query's expressions describe on `index`: equalities on its leading fields, then
 * optional bounds on the next one. convex-test has validated them by now; anything else (null)
 * is left to convex-test.
 */
function planRange(table: string, index: SortedIndex, expressions: RangeExpression[]): Plan | null {
  const equal: Key = [];
  for (const field of index.fields) {
    const expression = expressions.find((candidate) => candidate.type === "Eq" && candidate.fieldPath === field);
    if (expression === undefined) break;
    equal.push(queryValue(expression.value));
  }
  const next = index.fields[equal.length];
  let lower: Bound | undefined;
  let upper: Bound | undefined;
  const checks: Plan["checks"] = [];
  for (const expression of expressions) {
    const field = index.fields.indexOf(expression.fieldPath);
    if (field < 0) return null;
    const value = queryValue(expression.value);
    checks.push({ field, type: expression.type, value });
    if (expression.type === "Eq" && field < equal.length) continue;
    if (expression.fieldPath !== next) return null;
    if (expression.type === "Gt" || expression.type === "Gte") lower = { value, inclusive: expression.type === "Gte" };
    else if (expression.type === "Lt" || expression.type === "Lte")
      upper = { value, inclusive: expression.type === "Lte" };
    else return null;
  }
  return { table, index, equal, lower, upper, checks };
}

/** A bound as convex-test reads it: `{$undefined}` is a missing field, the rest Convex JSON. */
function queryValue(value: unknown): Value | undefined {
  return typeof value === "object" && value !== null && "$undefined" in value
    ? undefined
    : jsonToConvex(value as never);
}

/** convex-test's range filter, for documents the open transaction wrote. */
function inRange({ index, checks }: Plan, document: Document): boolean {
  return checks.every(({ field, type, value }) => {
    const order = compareFieldValues(index.field(document, field), value);
    if (type === "Eq") return order === 0;
    if (type === "Gt") return order > 0;
    if (type === "Gte") return order >= 0;
    if (type === "Lt") return order < 0;
    return order <= 0;
  });
}

function comparePositions(a: Position, b: Position): number {
  return a.chunk - b.chunk || a.offset - b.offset;
}
const later = (a: Position, b: Position) => (comparePositions(a, b) >= 0 ? a : b);
const earlier = (a: Position, b: Position) => (comparePositions(a, b) <= 0 ? a : b);
