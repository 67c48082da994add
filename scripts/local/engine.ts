/**
 * The local-mode engine: convex-test's in-process runtime with Convex's transaction limits,
 * made durable by the journal, with real sorted indexes. What it needs of convex-test's
 * internals goes through convexTestInternals.ts, checked at start.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { jsonToConvex, type Value } from "convex/values";
import {
  callerByPath,
  documentCounters,
  compileDocumentValidation,
  hookFiles,
  memoizeValidatorExports,
  checkArgumentsInHandler,
  convexTestValidate,
  onRead,
  onTopLevelCommit,
  openInternals,
  openQueryCount,
  probeQueryExecution,
  restoreDocuments,
  tableOf,
  takeTurns,
  committedDocuments,
  type DatabaseFake,
  type Document,
  type Internals,
  type TestConvex,
} from "./convexTestInternals";
import { documentJson } from "./documentJson";
import { installFastDigest } from "./fastDigest";
import { withSharedStores } from "./sharedAsyncContext";
import { collectGarbage } from "./heap";
import { installIndexes } from "./indexes";
import { importedOnce, type ModuleMap } from "./modules";
import type { JournalStore, JsonDocument } from "./store";
import { upgradeDocument } from "./upgrades";
import type { ValidatorJson } from "./validatorCheck";
import { messageOf } from "./messageOf";

/** The test accessor plus a way to call any function by path. */
export type Engine = {
  t: TestConvex;
  /** convex-test's database (typed in convexTestInternals.ts); read system rows with `get`. */
  db: DatabaseFake;
  /** Runs a query, mutation or action by its path ("jobs:sweepExpiredLeases"), without auth. */
  call(udfPath: string, args: Record<string, Value>): Promise<unknown>;
  /** Resolves once every blob stored so far is on disk. */
  filesFlushed(): Promise<void>;
  /**
   * Resolves once every commit made so far, and every blob stored so far, is on disk. Await it
   * before answering anyone (HTTP, WebSocket): an answer may rest on another request's commit
   * that is not yet durable (group commit), so a request's own writes are not the measure.
   */
  durable(): Promise<void>;
  /** The committed documents of `table` (at start: what the last run left). */
  documentsOf(table: string): Document[];
  /** Ordered index walks so far, documents they visited, and queries still holding state. */
  queryStats(): { walks: number; visited: number; open: number };
  /**
   * Calls `listener` synchronously after each top-level commit that wrote documents (inside the
   * transaction lock, so no other commit lands in between), with the ids it wrote. Returns an unsubscribe.
   */
  onCommit(listener: CommitListener): () => void;
  /** Runs `read` and answers its value with the tables it read (reads of concurrent work are not mixed in). */
  trackReads<T>(read: () => Promise<T>): Promise<{ value: T; tables: Set<string> }>;
};

export type CommitListener = (commit: { writtenIds: string[] }) => void;

export type EngineOptions = {
  modules: ModuleMap;
  store: JournalStore;
  /** Called when a commit cannot be made durable. Default: log and exit, never ack. */
  onFatal?: (error: unknown) => never;
};

export async function createEngine({ modules, store, onFatal = exitOnFatal }: EngineOptions): Promise<Engine> {
  // convex-test calls a module's loader on every function call; through tsx that is a loader
  // round trip per call, so each module is imported once here.
  installFastDigest();
  let validate: ((validator: ValidatorJson, value: unknown) => void) | undefined;
  const once = importedOnce(modules, (module) => {
    memoizeValidatorExports(module);
    checkArgumentsInHandler(module, () => (validate ??= convexTestValidate(internals)));
  });
  const schemaModule = once[Object.keys(once).find((key) => /^(\.\.\/)+convex\/schema\.[jt]s$/.test(key)) ?? ""];
  const schema = schemaModule ? (await schemaModule()).default : undefined;
  // Imported here, its module-level stores made views of one (sharedAsyncContext.ts).
  const { convexTest } = await withSharedStores(() => import("convex-test"));
  // What a deployment refuses (documents scanned, bytes read and written...) is refused here too.
  const t = convexTest({ schema, modules: once, transactionLimits: true });
  const internals = await openInternals(t, { hasSchema: schema !== undefined });
  takeTurns(internals);
  const restored = restoreState(internals, store);
  compileDocumentValidation(internals);
  const walks = installIndexes(internals);
  if (restored >= COLLECT_AFTER_DOCUMENTS) collectGarbage();
  const reads = new AsyncLocalStorage<Set<string>>();
  onRead(internals, (table) => reads.getStore()?.add(table));
  await probeQueryExecution(t, () => walks.walks);
  store.onFailure(onFatal);
  journalCommits(internals, store, onFatal);
  store.setSnapshotSource(() => captureDocuments(internals));
  const commitListeners = new Set<CommitListener>();
  onTopLevelCommit(internals, (writes) => {
    const writtenIds = writes.map((write) => write.id);
    // A throwing listener must not break the commit (convex-test would keep its lock).
    for (const listener of commitListeners) {
      try {
        listener({ writtenIds });
      } catch (error) {
        console.error("A commit listener failed:", error);
      }
    }
  });
  const pendingFiles = new Set<Promise<void>>();
  persistFiles(internals, store, pendingFiles, onFatal);
  return {
    t,
    db: internals.db,
    call: callerByPath(t, once),
    filesFlushed: async () => {
      while (pendingFiles.size > 0) await Promise.all(pendingFiles);
    },
    durable: async () => {
      const journal = store.durable(); // every commit up to now, whoever made it
      while (pendingFiles.size > 0) await Promise.all(pendingFiles);
      await journal;
    },
    documentsOf: (table) => {
      const documents = committedDocuments(internals);
      return Object.keys(documents)
        .filter((id) => tableOf(id) === table)
        .map((id) => documents[id]!);
    },
    queryStats: () => ({ ...walks, open: openQueryCount(internals) }),
    onCommit(listener) {
      commitListeners.add(listener);
      return () => commitListeners.delete(listener);
    },
    trackReads: async (read) => {
      const tables = new Set<string>();
      const value = await reads.run(tables, read);
      return { value, tables };
    },
  };
}

/**
 * Moves the stored documents into convex-test, decoding them in place (no second copy in
 * memory). Short strings are shared: thousands of documents repeat the same ids, statuses and
 * kinds, and JSON.parse gives each its own copy.
 */
function restoreState(internals: Internals, store: JournalStore) {
  const strings = new Map<string, string>();
  const intern = (text: string) => {
    if (text.length > INTERNED_LENGTH) return text;
    const shared = strings.get(text);
    if (shared !== undefined) return shared;
    strings.set(text, text);
    return text;
  };
  const documents = function* (): Generator<[string, Document]> {
    for (const [id, document] of store.state.documents) {
      yield [intern(id), upgradeDocument(id, jsonToConvexInPlace(document, intern) as Document)];
    }
  };
  const count = store.state.documents.size;
  restoreDocuments(internals, documents(), store.state);
  store.state.documents.clear();
  return count;
}

/** A start-up with at least this many documents ends with a full garbage collection (heap.ts). */
const COLLECT_AFTER_DOCUMENTS = 20_000;

/** Strings up to this length are shared at load (ids are 32 characters). */
const INTERNED_LENGTH = 64;

/** Objects of one `$`-key are convexToJson's encodings (bigint, bytes, special floats). */
const ENCODED = new Set(["$integer", "$bytes", "$float", "$commitTs", "$set", "$map"]);

/**
 * `jsonToConvex` for a freshly parsed value, reusing its objects and arrays: only the encoded
 * leaves are replaced, and strings pass through `intern`. Field names were checked when the
 * document was written.
 */
export function jsonToConvexInPlace(value: unknown, intern: (text: string) => string = (text) => text): Value {
  if (typeof value === "string") return intern(value);
  if (value === null || typeof value !== "object") return value as Value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = jsonToConvexInPlace(value[i], intern);
    return value as Value;
  }
  const record = value as Record<string, unknown>;
  let keys = 0;
  let only = "";
  for (const key in record) {
    keys += 1;
    only = key;
    if (keys > 1) break;
  }
  if (keys === 1 && ENCODED.has(only)) return jsonToConvex(record as never);
  for (const key in record) record[key] = jsonToConvexInPlace(record[key], intern);
  return record as Value;
}

/**
 * The live documents at this instant, encoded lazily for a snapshot. convex-test replaces a
 * document object on every commit and never changes one in place, so holding the references
 * freezes them while requests go on.
 */
function captureDocuments(internals: Internals) {
  const documents = Object.values(committedDocuments(internals));
  return {
    ...documentCounters(internals),
    count: documents.length,
    documents: (function* () {
      for (const document of documents) yield documentJson(document) as JsonDocument;
    })(),
  };
}

/**
 * Every top-level commit queues its write set in the journal (group commit, store.ts); whoever
 * answers waits for `durable()`. Nested commits (`ctx.runMutation` inside a mutation) only merge
 * into their parent and are skipped.
 */
function journalCommits(internals: Internals, store: JournalStore, onFatal: (error: unknown) => never) {
  onTopLevelCommit(internals, (writes) => {
    try {
      store.append({
        writes: writes.map(({ id, current }) => [
          id,
          current === undefined ? null : (documentJson(current) as JsonDocument),
        ]),
        ...documentCounters(internals),
      });
    } catch (error) {
      // Memory is ahead of the disk now; the only safe move is to stop before anyone hears of it.
      onFatal(error);
    }
  });
}

/**
 * convex-test stores blobs synchronously in memory; we write each one to disk as well and keep
 * the promise, which the server awaits before it answers. Blobs are read back lazily.
 */
function persistFiles(
  internals: Internals,
  store: JournalStore,
  pending: Set<Promise<void>>,
  onFatal: (error: unknown) => never,
) {
  hookFiles(
    internals,
    (storageId, blob) => {
      const write = blob
        .arrayBuffer()
        .then((bytes) => store.saveFile(storageId, new Uint8Array(bytes), blob.type))
        .catch(onFatal)
        .finally(() => pending.delete(write));
      pending.add(write);
    },
    (storageId) => {
      const saved = store.loadFile(storageId);
      return saved === null ? null : new Blob([saved.bytes], { type: saved.contentType });
    },
  );
}

function exitOnFatal(error: unknown): never {
  const message = messageOf(error);
  console.error(`FATAL: could not write the local journal (${message}). Stopping so no unsaved write is acknowledged.`);
  process.exit(70);
}
