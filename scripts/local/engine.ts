/**
 * The local-mode engine: convex-test's in-process runtime, made durable. This is the one file
 * that knows convex-test's internals (pinned version in package.json); if an upgrade changes
 * them, `captureInternals` fails loudly at start instead of silently losing writes.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { convexTest } from "convex-test";
import { convexToJson, jsonToConvex, type Value } from "convex/values";
import { installIndexes, type QueryableDatabase } from "./indexes";
import type { ModuleMap } from "./modules";
import type { JournalStore, JsonDocument } from "./store";
import { upgradeDocument } from "./upgrades";

/** convex-test's non-exported `DatabaseFake`, as far as we use it. */
export type DatabaseFake = {
  _documents: Record<string, Record<string, Value>>;
  _storage: Record<string, Blob>;
  _writes: Array<Record<string, Record<string, Value> | null>>;
  _nextDocId: number;
  _lastCreationTime: number;
  _queryResults: Record<number, unknown[]>;
  commit(commitTs?: bigint | null): void;
  storeFile(storageId: string, blob: Blob): void;
  getFile(storageId: string): Blob | null | undefined;
  get(table: string, id: string): Record<string, Value> | null;
  patch(table: string, id: string, value: Record<string, Value>): void;
};

/** convex-test's `TransactionManager`: `isNested` is false for a function's own transaction. */
type TransactionManager = {
  commit(isNested: boolean): unknown;
  rollback(isNested: boolean): void;
};

type ConvexGlobal = { components: Record<string, { db: DatabaseFake }>; transactionManager: TransactionManager };

export type FunctionPath = { componentPath: string; udfPath: string };

/** The test accessor plus the untyped `fun` (call any function by path) it carries at runtime. */
export type Engine = {
  t: ReturnType<typeof convexTest>;
  db: DatabaseFake;
  /** Runs a query, mutation or action by its path ("jobs:sweepExpiredLeases"), without auth. */
  call(udfPath: string, args: Record<string, Value>): Promise<unknown>;
  /** Resolves once every blob stored so far is on disk. Await it before acknowledging. */
  filesFlushed(): Promise<void>;
  /**
   * Calls `listener` synchronously after each top-level commit that wrote documents (inside the
   * transaction lock, so no other commit lands in between), with the ids it wrote. Returns an unsubscribe.
   */
  onCommit(listener: CommitListener): () => void;
};

export type CommitListener = (commit: { writtenIds: string[] }) => void;

export type EngineOptions = {
  modules: ModuleMap;
  store: JournalStore;
  /** Called when a commit cannot be made durable. Default: log and exit, never ack. */
  onFatal?: (error: unknown) => never;
};

export async function createEngine({ modules, store, onFatal = exitOnFatal }: EngineOptions): Promise<Engine> {
  const schemaModule = modules[Object.keys(modules).find((key) => /^(\.\.\/)+convex\/schema\.[jt]s$/.test(key)) ?? ""];
  const schema = schemaModule ? (await schemaModule()).default : undefined;
  const t = convexTest(schema, modules);
  const convexGlobal = await captureConvexGlobal(t);
  const db = convexGlobal.components[""]!.db;
  restoreState(db, store);
  const pendingFiles = new Set<Promise<void>>();
  const commitListeners = new Set<CommitListener>();
  journalCommits(db, store, onFatal, commitListeners);
  installIndexes(db as unknown as QueryableDatabase);
  releaseQueryResults(convexGlobal);
  persistFiles(db, store, pendingFiles, onFatal);
  const fun = (t as unknown as { fun(path: FunctionPath, args: unknown): Promise<unknown> }).fun;
  return {
    t,
    db,
    call: (udfPath, args) => fun({ componentPath: "", udfPath }, args),
    filesFlushed: async () => {
      while (pendingFiles.size > 0) await Promise.all(pendingFiles);
    },
    onCommit(listener) {
      commitListeners.add(listener);
      return () => commitListeners.delete(listener);
    },
  };
}

/**
 * convex-test keeps its state in an AsyncLocalStorage store that every accessor call enters
 * first. Watching `run` during one harmless inline query hands us that store.
 */
async function captureConvexGlobal(t: ReturnType<typeof convexTest>): Promise<ConvexGlobal> {
  const originalRun = AsyncLocalStorage.prototype.run;
  let captured: ConvexGlobal | undefined;
  AsyncLocalStorage.prototype.run = function (this: AsyncLocalStorage<unknown>, store: any, ...rest: any[]) {
    if (captured === undefined && store?.components && store.transactionManager) captured = store;
    return (originalRun as any).call(this, store, ...rest);
  } as typeof originalRun;
  let probe: Promise<unknown>;
  try {
    probe = t.query(async () => null);
  } finally {
    AsyncLocalStorage.prototype.run = originalRun;
  }
  await probe;
  const db = captured?.components[""]?.db;
  const manager = captured?.transactionManager;
  if (
    !db ||
    typeof db.commit !== "function" ||
    typeof db._documents !== "object" ||
    !Array.isArray(db._writes) ||
    typeof db._queryResults !== "object" ||
    typeof manager?.commit !== "function" ||
    typeof manager.rollback !== "function"
  ) {
    throw new Error("This convex-test version keeps its store differently; local mode needs the pinned version.");
  }
  return captured!;
}

function restoreState(db: DatabaseFake, store: JournalStore) {
  for (const [id, document] of store.state.documents) {
    db._documents[id] = upgradeDocument(id, jsonToConvex(document as never) as Record<string, Value>);
  }
  db._nextDocId = Math.max(db._nextDocId, store.state.nextDocId);
  db._lastCreationTime = Math.max(db._lastCreationTime, store.state.lastCreationTime);
}

/**
 * Every top-level commit appends its write set to the journal and fsyncs it before returning,
 * so the mutation's caller (and the HTTP response) only see writes that are on disk. Nested
 * commits (`ctx.runMutation` inside a mutation) only merge into their parent and are skipped.
 */
function journalCommits(
  db: DatabaseFake,
  store: JournalStore,
  onFatal: (error: unknown) => never,
  listeners: Set<CommitListener>,
) {
  const commit = db.commit.bind(db);
  db.commit = (commitTs) => {
    const topLevel = db._writes.length === 1;
    const writes = db._writes[db._writes.length - 1];
    commit(commitTs);
    if (!topLevel || writes === undefined) return;
    const ids = Object.keys(writes);
    if (ids.length === 0) return;
    try {
      store.append({
        // Read back from _documents: commit resolved any commit-timestamp placeholders there.
        writes: ids.map((id) => {
          const document = db._documents[id];
          return [id, document === undefined ? null : (convexToJson(document) as JsonDocument)];
        }),
        nextDocId: db._nextDocId,
        lastCreationTime: db._lastCreationTime,
      });
    } catch (error) {
      // Memory is ahead of the disk now; the only safe move is to stop before anyone hears of it.
      onFatal(error);
    }
    // A throwing listener must not break the commit (convex-test would keep its lock).
    for (const listener of listeners) {
      try {
        listener({ writtenIds: ids });
      } catch (error) {
        console.error("A commit listener failed:", error);
      }
    }
  };
}

/**
 * convex-test keeps every query's remaining results until the process ends (fine for a test, a
 * leak for a server). Top-level transactions run one at a time and their queries end with them,
 * so each top-level commit or rollback can drop them all.
 */
function releaseQueryResults({ components, transactionManager }: ConvexGlobal) {
  const release = () => {
    for (const component of Object.values(components)) component.db._queryResults = {};
  };
  const commit = transactionManager.commit.bind(transactionManager);
  const rollback = transactionManager.rollback.bind(transactionManager);
  transactionManager.commit = (isNested) => {
    const result = commit(isNested);
    if (!isNested) release();
    return result;
  };
  transactionManager.rollback = (isNested) => {
    rollback(isNested);
    if (!isNested) release();
  };
}

/**
 * convex-test stores blobs synchronously in memory; we write each one to disk as well and keep
 * the promise, which the server awaits before it answers. Blobs are read back lazily.
 */
function persistFiles(
  db: DatabaseFake,
  store: JournalStore,
  pending: Set<Promise<void>>,
  onFatal: (error: unknown) => never,
) {
  const storeFile = db.storeFile.bind(db);
  db.storeFile = (storageId, blob) => {
    storeFile(storageId, blob);
    const write = blob
      .arrayBuffer()
      .then((bytes) => store.saveFile(storageId, new Uint8Array(bytes), blob.type))
      .catch(onFatal)
      .finally(() => pending.delete(write));
    pending.add(write);
  };
  const getFile = db.getFile.bind(db);
  db.getFile = (storageId) => {
    const inMemory = getFile(storageId);
    if (inMemory !== undefined && inMemory !== null) return inMemory;
    if (db.get("_storage", storageId) === null) return null;
    const saved = store.loadFile(storageId);
    if (saved === null) return null;
    const blob = new Blob([saved.bytes], { type: saved.contentType });
    db._storage[storageId] = blob;
    return blob;
  };
}

function exitOnFatal(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`FATAL: could not write the local journal (${message}). Stopping so no unsaved write is acknowledged.`);
  process.exit(70);
}
