/**
 * Every private member of convex-test that local mode touches, and the `_handler` of convex's
 * registered functions, in one file. convex-test is pinned exactly (package.json) at
 * CONVEX_TEST_VERSION: `openInternals` checks each member at start, and `probeQueryExecution`
 * checks that queries really reach the ordered index walk, so an upgrade that moves them stops
 * local mode with a message instead of losing writes or quietly walking whole tables.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { convexTest } from "convex-test";
import { getDocumentSize, jsonToConvex, type Value } from "convex/values";
import { valuesOfFrame } from "./sharedAsyncContext";
import { compileCheck, type ValidatorJson } from "./validatorCheck";

export const CONVEX_TEST_VERSION = "0.0.60";

export type Document = Record<string, Value>;
type WriteLayer = Record<string, Document | null>;
export type TestConvex = ReturnType<typeof convexTest>;

export type RangeExpression = { type: "Eq" | "Gt" | "Gte" | "Lt" | "Lte"; fieldPath: string; value: unknown };
/** A query as the `1.0/queryStream` and `1.0/queryPage` syscalls hand it to convex-test. */
export type SerializedQuery = {
  source: {
    type: "FullTableScan" | "IndexRange" | "Search";
    tableName?: string;
    indexName?: string;
    range?: RangeExpression[];
    order?: "asc" | "desc" | null;
  };
  operators: unknown[];
};
export type PageRequest = {
  query: SerializedQuery;
  cursor: string | null;
  endCursor?: string | null;
  pageSize: number;
  maximumRowsRead?: number;
  maximumBytesRead?: number;
};
export type PageResult = {
  page: Document[];
  isDone: boolean;
  continueCursor: string;
  splitCursor: string | null;
  pageStatus: "SplitRequired" | "SplitRecommended" | null;
};
/** What convex-test compiles from a query besides its documents: filter, limit and order. */
export type CompiledQuery = {
  filter: (document: Document) => boolean;
  limit: number | null;
  sortFields: string[];
  order: "asc" | "desc";
};
/** convex-test's cursor format (a JSON list of field values), read and compared its way. */
export type CursorCodec = {
  encode(document: Document, fields: string[]): string;
  decode(cursor: string): Array<Value | undefined>;
  /** > 0 when `document` comes after the cursor in `order`, 0 at it. */
  compare(document: Document, cursor: Array<Value | undefined>, fields: string[], order: "asc" | "desc"): number;
};

type SchemaTables = Map<
  string,
  { indexes: Array<{ indexDescriptor: string; fields: string[] }>; documentType?: ValidatorJson }
>;

/** convex-test's non-exported `DatabaseFake`, as far as local mode uses it. */
export type DatabaseFake = {
  _documents: Record<string, Document>;
  _storage: Record<string, Blob>;
  _writes: WriteLayer[];
  _nextDocId: number;
  _nextQueryId: number;
  _lastCreationTime: number;
  _queryResults: Record<number, unknown[]>;
  _schema: { tables: SchemaTables; schemaValidation?: boolean } | null;
  commit(commitTs?: bigint | null): void;
  startQuery(query: SerializedQuery): number;
  queryNext(queryId: number): { value: Document | null; done: boolean };
  paginate(request: PageRequest): PageResult;
  _resolveQuerySource(query: SerializedQuery): {
    sortedDocs: Document[];
    filterFn: (document: Document) => boolean;
    limit: number | null;
    fieldPathsToSortBy: string[];
    order: "asc" | "desc";
  };
  _iterateDocs(table: string, visit: (document: Document) => void): void;
  _encodeCursor(document: Document, fields: string[]): string;
  _docIsAfterCursor(document: Document, keys: unknown[], fields: string[], order: "asc" | "desc"): number;
  _validate(table: string, document: Document): void;
  storeFile(storageId: string, blob: Blob): void;
  getFile(storageId: string): Blob | null | undefined;
  get(table: string, id: string): Document | null;
  patch(table: string, id: string, value: Record<string, Value>): void;
};

type TransactionManager = {
  begin(isNested: boolean, transactionLimits?: unknown): Promise<void>;
  commit(isNested: boolean): unknown;
  rollback(isNested: boolean): void;
  getMetricsTracker(): { trackRead(bytes: number): void } | null;
};

type ConvexGlobal = { components: Record<string, { db: DatabaseFake }>; transactionManager: TransactionManager };

/** The root component's database and transaction manager of one convex-test instance. */
export type Internals = { db: DatabaseFake; manager: TransactionManager };

const DATABASE_FIELDS = {
  _documents: "object",
  _storage: "object",
  _writes: "array",
  _nextDocId: "number",
  _nextQueryId: "number",
  _lastCreationTime: "number",
  _queryResults: "object",
  commit: "function",
  startQuery: "function",
  queryNext: "function",
  paginate: "function",
  _resolveQuerySource: "function",
  _iterateDocs: "function",
  _encodeCursor: "function",
  _docIsAfterCursor: "function",
  _validate: "function",
  storeFile: "function",
  getFile: "function",
  get: "function",
  patch: "function",
} as const;
const MANAGER_FIELDS = {
  begin: "function",
  commit: "function",
  rollback: "function",
  getMetricsTracker: "function",
} as const;

function versionError(what: string): Error {
  return new Error(
    `Local mode needs convex-test ${CONVEX_TEST_VERSION} (pinned in package.json): ${what}. ` +
      `Run \`npm install\` to get the pinned version, or port scripts/local/convexTestInternals.ts to the new one.`,
  );
}

function kindOf(value: unknown): string {
  return Array.isArray(value) ? "array" : value === null ? "null" : typeof value;
}

/** Throws, naming the member, when convex-test's store does not look like CONVEX_TEST_VERSION's. */
export function checkInternals(global: unknown, options: { hasSchema: boolean }): asserts global is ConvexGlobal {
  const candidate = global as Partial<ConvexGlobal> | undefined;
  const db = candidate?.components?.[""]?.db as Record<string, unknown> | undefined;
  if (db === undefined) throw versionError('its state has no root component database (`components[""].db`)');
  for (const [name, kind] of Object.entries(DATABASE_FIELDS)) {
    if (kindOf(db[name]) !== kind) throw versionError(`DatabaseFake.${name} is ${kindOf(db[name])}, not ${kind}`);
  }
  const schema = db._schema as { tables?: unknown } | null | undefined;
  if (options.hasSchema && !(schema?.tables instanceof Map)) {
    // Without it every index would look undeclared and each query would walk its whole table.
    throw versionError("DatabaseFake._schema.tables (the schema's indexes) is missing");
  }
  const manager = candidate?.transactionManager as Record<string, unknown> | undefined;
  for (const [name, kind] of Object.entries(MANAGER_FIELDS)) {
    if (kindOf(manager?.[name]) !== kind) throw versionError(`TransactionManager.${name} is missing`);
  }
}

/**
 * convex-test keeps its state in an AsyncLocalStorage store that every accessor call enters
 * first. Watching `run` during one harmless inline query hands us that store.
 */
export async function openInternals(t: TestConvex, options: { hasSchema: boolean }): Promise<Internals> {
  if (typeof (t as { fun?: unknown }).fun !== "function") throw versionError("the test accessor has no `fun`");
  const originalRun = AsyncLocalStorage.prototype.run;
  let captured: unknown;
  AsyncLocalStorage.prototype.run = function (this: AsyncLocalStorage<unknown>, store: any, ...rest: any[]) {
    // convex-test's state is the store itself, or one value of a shared frame (sharedAsyncContext.ts).
    for (const candidate of [store, ...valuesOfFrame(store)] as any[]) {
      if (captured === undefined && candidate?.components && candidate.transactionManager) captured = candidate;
    }
    return (originalRun as any).call(this, store, ...rest);
  } as typeof originalRun;
  let probe: Promise<unknown>;
  try {
    probe = t.query(async () => null);
  } finally {
    AsyncLocalStorage.prototype.run = originalRun;
  }
  await probe;
  checkInternals(captured, options);
  return { db: captured.components[""]!.db, manager: captured.transactionManager };
}

type FunctionKind = "query" | "mutation" | "action";
type ByPath = (path: { componentPath: string; udfPath: string }, args: unknown) => Promise<unknown>;

/**
 * Calls any function by path ("jobs:sweepExpiredLeases"), as a scheduled function is called.
 * The kind of each path is read from its module once; convex-test's `fun` would resolve the
 * function (a `JSON.parse` of its validators) once to learn it and again to run it.
 */
export function callerByPath(
  t: TestConvex,
  modules: Record<string, () => Promise<any>>,
): (udfPath: string, args: Record<string, Value>) => Promise<unknown> {
  const accessor = t as unknown as Record<"fun" | `${FunctionKind}FromPath`, ByPath>;
  for (const name of ["fun", "queryFromPath", "mutationFromPath", "actionFromPath"] as const) {
    if (typeof accessor[name] !== "function") throw versionError(`the test accessor has no \`${name}\``);
  }
  const kinds = new Map<string, Promise<FunctionKind | null>>();
  return async (udfPath, args) => {
    let kind = kinds.get(udfPath);
    if (kind === undefined) kinds.set(udfPath, (kind = functionKindOf(modules, udfPath)));
    const path = { componentPath: "", udfPath };
    const known = await kind;
    // Anything else (no such module or export) gets convex-test's own error.
    return known === null ? accessor.fun(path, args) : accessor[`${known}FromPath`](path, args);
  };
}

async function functionKindOf(
  modules: Record<string, () => Promise<any>>,
  udfPath: string,
): Promise<FunctionKind | null> {
  const [modulePath, exportName = "default"] = udfPath.split(":");
  const key = Object.keys(modules).find(
    (name) => name.replace(/^(\.\.\/)+convex\//, "").replace(/\.[cm]?[jt]s$/, "") === modulePath,
  );
  if (key === undefined) return null;
  const registered = (await modules[key]!())[exportName!] as { isQuery?: true; isMutation?: true; isAction?: true };
  if (registered?.isQuery) return "query";
  if (registered?.isMutation) return "mutation";
  if (registered?.isAction) return "action";
  return null;
}

/** A registered Convex function's handler (convex keeps it on `_handler`), for the benchmark. */
export function handlerOf<Ctx, Args, Result>(registered: object): (ctx: Ctx, args: Args) => Promise<Result> {
  const handler = (registered as { _handler?: unknown })._handler;
  if (typeof handler !== "function") throw new Error("This convex version keeps a function's handler elsewhere.");
  return handler as (ctx: Ctx, args: Args) => Promise<Result>;
}

/**
 * convex-test parses `exportArgs()` and `exportReturns()` on every call, and convex rebuilds that
 * JSON from the validators each time. Validators never change once registered, so each
 * registered function of `module` answers the first result from then on.
 */
export function memoizeValidatorExports(module: Record<string, unknown>) {
  for (const value of Object.values(module)) {
    const registered = value as { exportArgs?: unknown; exportReturns?: unknown } | null;
    if (registered === null || (typeof registered !== "object" && typeof registered !== "function")) continue;
    for (const name of ["exportArgs", "exportReturns"] as const) {
      const compute = registered[name];
      if (typeof compute !== "function" || MEMOIZED.has(compute)) continue;
      let json: string | undefined;
      const memoized = () => (json ??= (compute as () => string).call(registered));
      MEMOIZED.add(memoized);
      registered[name] = memoized;
    }
  }
}
const MEMOIZED = new WeakSet<object>();

/**
 * Arguments checked by a compiled check (validatorCheck.ts) inside the handler instead of by
 * convex-test before it: convex-test parses each function's `exportArgs()` JSON and walks it on
 * every call (~10 % of a lease call's CPU). Each registered function of `module` whose
 * arguments are an object validator reports `{"type":"any"}` to convex-test and gets a handler
 * that checks first; arguments the check is not sure of go through convex-test's own
 * `validateValidator` (`validate`), so the answer and the message stay convex-test's. The
 * handler sees the arguments convex-test would have checked (their placeholders resolved), and
 * a refusal throws before the function body runs, inside a transaction that wrote nothing.
 * Call after `memoizeValidatorExports`.
 */
export function checkArgumentsInHandler(
  module: Record<string, unknown>,
  validate: () => (validator: ValidatorJson, value: unknown) => void,
) {
  for (const value of Object.values(module)) {
    if (value === null || (typeof value !== "object" && typeof value !== "function")) continue;
    const registered = value as { exportArgs?: () => string; _handler?: unknown };
    if (typeof registered.exportArgs !== "function") continue;
    const handler = registered._handler;
    if (typeof handler !== "function" || CHECKING.has(handler)) continue;
    const validator = JSON.parse(registered.exportArgs()) as ValidatorJson;
    if (validator.type !== "object") continue;
    const check = compileCheck(validator);
    const checking = function (this: unknown, ctx: unknown, args: unknown) {
      if (!check(args)) validate()(validator, args);
      return handler.call(this, ctx, args);
    };
    CHECKING.add(checking);
    registered._handler = checking;
    registered.exportArgs = () => ANY_ARGS;
  }
}
const CHECKING = new WeakSet<object>();
const ANY_ARGS = JSON.stringify({ type: "any" });

/**
 * convex-test's `validateValidator` for any validator: DatabaseFake's `_validate` runs it on the
 * validator its schema gives a table, so a stand-in schema with one table lends it ours.
 */
export function convexTestValidate({ db }: Internals): (validator: ValidatorJson, value: unknown) => void {
  const validate = (Object.getPrototypeOf(db) as Record<string, unknown>)._validate;
  if (typeof validate !== "function") throw versionError("DatabaseFake.prototype._validate is missing");
  return (validator, value) =>
    validate.call(
      { _schema: { schemaValidation: true, tables: new Map([["value", { documentType: validator }]]) } },
      "value",
      value,
    );
}

// ---- documents -------------------------------------------------------------------------------

/** The table of a convex-test document id (its own format): the letters after the numeric prefix. */
export function tableOf(id: string): string {
  let start = 0;
  while (start < id.length && id.charCodeAt(start) >= 48 && id.charCodeAt(start) <= 57) start++;
  return start === 0 ? id : id.slice(start);
}

/** The committed documents by id (read-only use: writes go through transactions). */
export function committedDocuments({ db }: Internals): Readonly<Record<string, Document>> {
  return db._documents;
}

/** Loads stored documents and counters before anything runs (restart). */
export function restoreDocuments(
  { db }: Internals,
  documents: Iterable<[string, Document]>,
  counters: { nextDocId: number; lastCreationTime: number },
) {
  for (const [id, document] of documents) db._documents[id] = document;
  db._nextDocId = Math.max(db._nextDocId, counters.nextDocId);
  db._lastCreationTime = Math.max(db._lastCreationTime, counters.lastCreationTime);
}

export function documentCounters({ db }: Internals) {
  return { nextDocId: db._nextDocId, lastCreationTime: db._lastCreationTime };
}

/** What the open transaction (all nesting levels) wrote in `table`: id -> its newest version or null. */
export function pendingWrites({ db }: Internals, inTable: (id: string) => boolean): Map<string, Document | null> {
  const visible = new Map<string, Document | null>();
  for (const layer of db._writes) for (const id of Object.keys(layer)) if (inTable(id)) visible.set(id, layer[id]!);
  return visible;
}

/** The declared indexes of `table` (without by_creation_time), from the schema convex-test holds. */
export function schemaIndexes({ db }: Internals, table: string): Array<{ name: string; fields: string[] }> {
  return (db._schema?.tables.get(table)?.indexes ?? []).map(({ indexDescriptor, fields }) => ({
    name: indexDescriptor,
    fields,
  }));
}

/**
 * Schema validation of written documents through a compiled check (validatorCheck.ts); only a
 * document it is not sure of goes through convex-test's own `_validate`, whose answer and
 * message therefore stay the same.
 */
export function compileDocumentValidation({ db }: Internals) {
  const validate = db._validate.bind(db);
  const checks = new Map<string, ((document: Document) => boolean) | null>();
  db._validate = (table, document) => {
    let check = checks.get(table);
    if (check === undefined) {
      const validator = db._schema?.schemaValidation ? db._schema.tables.get(table)?.documentType : undefined;
      checks.set(table, (check = validator === undefined ? null : compileCheck(validator)));
    }
    if (check === null || !check(document)) validate(table, document);
  };
}

// ---- commits ---------------------------------------------------------------------------------

/** One document a top-level commit wrote: its committed version before and after (undefined: none). */
export type CommittedWrite = { id: string; previous: Document | undefined; current: Document | undefined };

const commitListeners = new WeakMap<DatabaseFake, Array<(writes: CommittedWrite[]) => void>>();

/**
 * THE commit hook: `listener` runs after each top-level commit that wrote something, in the
 * order listeners were added, with every written document. Nested commits (`ctx.runMutation`
 * inside a mutation) only merge into their parent's writes and are not reported.
 */
export function onTopLevelCommit({ db }: Internals, listener: (writes: CommittedWrite[]) => void) {
  let listeners = commitListeners.get(db);
  if (listeners === undefined) {
    const all: Array<(writes: CommittedWrite[]) => void> = (listeners = []);
    commitListeners.set(db, all);
    const commit = db.commit.bind(db);
    db.commit = (commitTs) => {
      const layer = db._writes.length === 1 ? db._writes[0] : undefined;
      const ids = layer === undefined ? [] : Object.keys(layer);
      const previous = ids.map((id) => db._documents[id]);
      commit(commitTs);
      if (ids.length === 0) return;
      // Read back from _documents: commit resolved any commit-timestamp placeholders there.
      const writes = ids.map((id, i) => ({ id, previous: previous[i], current: db._documents[id] }));
      for (const each of all) each(writes);
    };
  }
  listeners.push(listener);
}

/** Calls `listener` when a top-level transaction ends, committed or rolled back. */
export function onTransactionEnd({ manager }: Internals, listener: () => void) {
  const commit = manager.commit.bind(manager);
  const rollback = manager.rollback.bind(manager);
  manager.commit = (isNested) => {
    const result = commit(isNested);
    if (!isNested) listener();
    return result;
  };
  manager.rollback = (isNested) => {
    rollback(isNested);
    if (!isNested) listener();
  };
}

/**
 * Top-level transactions take turns in arrival order, and after TURN_SLICE_MS of them the event
 * loop turns before the next. convex-test starts a transaction as soon as the last one ends (a
 * microtask), so a burst of calls (32 workers' requests read from one socket or message port)
 * ran back to back for 30 ms while no fsync completion, timer or socket was handled, and every
 * answer waited for the last. An uncontended transaction starts at once; nested ones run inside
 * their parent's turn, as before.
 */
export function takeTurns(internals: Internals) {
  const { manager } = internals;
  const begin = manager.begin.bind(manager);
  const waiting: Array<() => void> = [];
  let taken = false;
  let started = 0;
  /** Milliseconds of transactions since the event loop last turned. */
  let slice = 0;
  let turning = false;
  const handOn = () => {
    const next = waiting.shift();
    if (next === undefined) return;
    taken = true;
    next();
  };
  const turnThenHandOn = () => {
    if (turning) return;
    turning = true;
    setImmediate(() => {
      turning = false;
      slice = 0;
      if (!taken) handOn();
    });
  };
  manager.begin = async (isNested, transactionLimits) => {
    if (isNested) return begin(isNested, transactionLimits);
    if (taken || slice >= TURN_SLICE_MS) {
      const turn = new Promise<void>((resolve) => waiting.push(resolve));
      if (!taken) turnThenHandOn();
      await turn;
    }
    taken = true;
    started = performance.now();
    try {
      await begin(isNested, transactionLimits);
    } catch (error) {
      ended();
      throw error;
    }
  };
  const ended = () => {
    taken = false;
    slice += performance.now() - started;
    if (slice < TURN_SLICE_MS) handOn();
    else if (waiting.length > 0) turnThenHandOn();
  };
  onTransactionEnd(internals, ended);
}

/** How long transactions may run back to back before I/O and timers get their turn. */
export const TURN_SLICE_MS = 5;

// ---- files -----------------------------------------------------------------------------------

/**
 * Wraps convex-test's in-memory blob store: `saved` sees each stored blob; `load` answers blobs
 * not in memory (stored before a restart), which are then kept in memory.
 */
export function hookFiles(
  { db }: Internals,
  saved: (storageId: string, blob: Blob) => void,
  load: (storageId: string) => Blob | null,
) {
  const storeFile = db.storeFile.bind(db);
  db.storeFile = (storageId, blob) => {
    storeFile(storageId, blob);
    saved(storageId, blob);
  };
  const getFile = db.getFile.bind(db);
  db.getFile = (storageId) => {
    const inMemory = getFile(storageId);
    if (inMemory !== undefined && inMemory !== null) return inMemory;
    if (db.get("_storage", storageId) === null) return null;
    const blob = load(storageId);
    if (blob !== null) db._storage[storageId] = blob;
    return blob;
  };
}

// ---- queries ---------------------------------------------------------------------------------

/** A query answered by local mode: the next document it returns, or null when it is done. */
export type QueryStream = { next(): Document | null };

export type QueryExecution = {
  /** Replaces convex-test's walk over all of a table's ids (search, fallbacks). */
  scanTable(table: string, visit: (document: Document) => void): void;
  /** A lazy answer for an index-range or full-table query, or null to leave it to convex-test. */
  stream(query: SerializedQuery, compiled: CompiledQuery): QueryStream | null;
  /** One page of an index-range or full-table query, or null to leave it to convex-test. */
  page(request: PageRequest, compiled: CompiledQuery, cursors: CursorCodec): PageResult | null;
};

/** Open lazy queries per database, so tests can see they are released. */
const openStreams = new WeakMap<DatabaseFake, Map<number, QueryStream>>();

/**
 * Routes convex-test's query syscalls for index ranges and full-table scans (which it orders by
 * `_creationTime`, unique per database: by_creation_time order) to `execution`. convex-test still
 * validates each query and compiles its `.filter()`: its resolver runs with no documents.
 */
export function installQueryExecution(internals: Internals, execution: QueryExecution) {
  const { db } = internals;
  const streams = new Map<number, QueryStream>();
  openStreams.set(db, streams);
  let compiling = false;
  db._iterateDocs = (table, visit) => {
    if (!compiling) execution.scanTable(table, visit);
  };
  const resolve = db._resolveQuerySource.bind(db);
  const compile = (query: SerializedQuery): CompiledQuery => {
    compiling = true;
    try {
      const { filterFn, limit, fieldPathsToSortBy, order } = resolve(query);
      if (typeof filterFn !== "function" || !Array.isArray(fieldPathsToSortBy) || !["asc", "desc"].includes(order)) {
        throw versionError(
          "DatabaseFake._resolveQuerySource no longer answers { filterFn, fieldPathsToSortBy, order }",
        );
      }
      return { filter: filterFn, limit, sortFields: fieldPathsToSortBy, order };
    } finally {
      compiling = false;
    }
  };
  const cursors: CursorCodec = {
    encode: (document, fields) => db._encodeCursor(document, fields),
    // The inverse of `_encodeCursor`: null is an undefined field, strings are JSON of Convex JSON.
    decode: (cursor) =>
      (JSON.parse(cursor) as Array<string | null>).map((k) => (k === null ? undefined : jsonToConvex(JSON.parse(k)))),
    compare: (document, keys, fields, order) => db._docIsAfterCursor(document, keys, fields, order),
  };

  const ordered = (query: SerializedQuery) =>
    query.source.type === "IndexRange" || query.source.type === "FullTableScan";
  const startQuery = db.startQuery.bind(db);
  db.startQuery = (query) => {
    if (!ordered(query)) return startQuery(query);
    const stream = execution.stream(query, compile(query));
    if (stream === null) return startQuery(query);
    const id = db._nextQueryId++;
    streams.set(id, stream);
    return id;
  };
  const queryNext = db.queryNext.bind(db);
  db.queryNext = (queryId) => {
    const stream = streams.get(queryId);
    if (stream === undefined) return queryNext(queryId);
    const value = stream.next();
    return value === null ? { value: null, done: true } : { value, done: false };
  };
  const paginate = db.paginate.bind(db);
  db.paginate = (request) => {
    if (!ordered(request.query)) return paginate(request);
    return execution.page(request, compile(request.query), cursors) ?? paginate(request);
  };
  // convex-test keeps every query's state until the process ends (fine for a test, a leak for a
  // server). Top-level transactions run one at a time and their queries end with them.
  onTransactionEnd(internals, () => {
    db._queryResults = {};
    streams.clear();
  });
}

/** What a query reads when its source names no table (answers that any commit may change). */
export const ANY_TABLE = "*";

/**
 * Reports the table of every document read (`get`) and every query started or paged, as it
 * happens, so live subscriptions learn which tables a query read. Install after
 * `installQueryExecution` (it wraps whatever answers queries then).
 */
export function onRead({ db }: Internals, listener: (table: string) => void) {
  const tableOfSource = (query: SerializedQuery) => {
    const source = query.source as { tableName?: string; indexName?: string };
    return source.tableName ?? source.indexName?.split(".")[0] ?? ANY_TABLE;
  };
  const get = db.get.bind(db);
  db.get = (table, id) => {
    listener(table || tableOf(id));
    return get(table, id);
  };
  const startQuery = db.startQuery.bind(db);
  db.startQuery = (query) => {
    listener(tableOfSource(query));
    return startQuery(query);
  };
  const paginate = db.paginate.bind(db);
  db.paginate = (request) => {
    listener(tableOfSource(request.query));
    return paginate(request);
  };
}

/** Queries whose state is still held (0 between transactions). */
export function openQueryCount({ db }: Internals): number {
  return Object.keys(db._queryResults).length + (openStreams.get(db)?.size ?? 0);
}

/**
 * Counts a document a query read but did not return (skipped by `.filter()`): Convex counts
 * every scanned document against the transaction's limits; convex-test only the returned ones.
 */
export function countSkippedRead({ manager }: Internals, document: Document) {
  manager.getMetricsTracker()?.trackRead(getDocumentSize(document));
}

/**
 * Runs one index-range query through the accessor and checks that it reached the ordered walk
 * (`walks` counts them): if convex-test stopped calling the members we replace, local mode would
 * still answer, but by walking whole tables.
 */
export async function probeQueryExecution(t: TestConvex, walks: () => number) {
  const before = walks();
  await t.query(async (ctx) =>
    (ctx.db as any).system.query("_scheduled_functions").withIndex("by_creation_time").first(),
  );
  if (walks() === before) throw versionError("index-range queries no longer reach DatabaseFake.startQuery");
}

// ---- access log (conflict tests) -------------------------------------------------------------

/** One read as the database saw it: a document by id, or a query with what it returned. */
export type DatabaseRead =
  | { kind: "get"; id: string }
  | { kind: "query"; query: SerializedQuery; returned: Document[]; done: boolean }
  | { kind: "page"; request: PageRequest; result: PageResult };

/**
 * Records every read of the root database while `work` runs (gets, including the read a patch,
 * replace or delete makes, and each query with the documents it handed out), and the writes the
 * open transaction holds when `beforeEnd` is called (each with its committed version).
 * convex-test's own per-document gets while it evaluates a query are not reads of their own.
 */
export function recordDatabaseAccess(internals: Internals): {
  reads: DatabaseRead[];
  writes(): CommittedWrite[];
  stop(): void;
} {
  const { db } = internals;
  const reads: DatabaseRead[] = [];
  const queries = new Map<number, Extract<DatabaseRead, { kind: "query" }>>();
  let evaluating = 0;
  const original = { get: db.get, startQuery: db.startQuery, queryNext: db.queryNext, paginate: db.paginate };
  db.get = (table, id) => {
    if (evaluating === 0) reads.push({ kind: "get", id });
    return original.get.call(db, table, id);
  };
  db.startQuery = (query) => {
    evaluating++;
    try {
      const queryId = original.startQuery.call(db, query);
      const read = { kind: "query" as const, query, returned: [], done: false };
      reads.push(read);
      queries.set(queryId, read);
      return queryId;
    } finally {
      evaluating--;
    }
  };
  db.queryNext = (queryId) => {
    const next = original.queryNext.call(db, queryId);
    const read = queries.get(queryId);
    if (read !== undefined) {
      if (next.done || next.value === null) read.done = true;
      else read.returned.push(next.value);
    }
    return next;
  };
  db.paginate = (request) => {
    evaluating++;
    try {
      const result = original.paginate.call(db, request);
      reads.push({ kind: "page", request, result });
      return result;
    } finally {
      evaluating--;
    }
  };
  return {
    reads,
    writes: () => {
      const written = pendingWrites(internals, () => true);
      return [...written].map(([id, current]) => ({ id, previous: db._documents[id], current: current ?? undefined }));
    },
    stop: () => Object.assign(db, original),
  };
}
