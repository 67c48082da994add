/**
 * Durable storage for local mode: a snapshot plus a journal of committed write sets (group
 * committed, checksummed, compacted in the background), and one file per stored blob. Knows
 * nothing about Convex: documents are plain JSON (the engine encodes them with `convexToJson`).
 *
 *   DIR/snapshot.jsonl               every live document at journal record `seq` (atomic rename)
 *   DIR/journal-<first seq>.jsonl    records after it; a new segment starts at each compaction
 *   DIR/journal.jsonl                the previous version's journal, read until the first compaction
 *   DIR/files/<id>                   blob bytes (+ <id>.type with the content type when there is one)
 *
 * Durability contract: `append` queues a commit and returns at once; `durable()` resolves when
 * every commit appended so far is on disk. Answer a client only after `durable()`: a request may
 * have read a commit that is not on disk yet, so waiting for its own writes is not enough.
 *
 * Compaction: when the journal outgrows the larger of the last snapshot and `compactAboveBytes`,
 * the writer starts a new segment between two batches, the engine's documents are captured at
 * that instant (`setSnapshotSource`), written to `snapshot.jsonl.tmp` in chunks, fsynced and
 * renamed; then the older segments go. A crash at any step leaves either the old snapshot with
 * every segment or the new snapshot with (at least) the segments after it: see journalRecovery.ts.
 */
import {
  existsSync,
  fsyncSync,
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { open, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { LocalDataError } from "./data-dir";
import { commitBody } from "./journalFormat";
import {
  LEGACY_JOURNAL,
  listSegments,
  replayLegacyJournal,
  replaySegment,
  segmentName,
  type Segment,
} from "./journalRecovery";
import { GroupCommitWriter, openJournalFile, type OpenJournalFile } from "./journalWriter";
import { readSnapshot, writeSnapshot, type SnapshotContent } from "./snapshotFile";
import { messageOf } from "./messageOf";

export type JsonDocument = Record<string, unknown>;

/** One committed top-level transaction: the final value of every document it touched. */
export type CommitEntry = {
  writes: Array<[id: string, document: JsonDocument | null]>;
  /** The id counter and creation clock after the commit, so restarts never reuse either. */
  nextDocId: number;
  lastCreationTime: number;
};

export type StoredState = {
  documents: Map<string, JsonDocument>;
  nextDocId: number;
  lastCreationTime: number;
};

/** Freezes the live documents at this instant; encoding them may happen later, lazily. */
export type SnapshotSource = () => Omit<SnapshotContent, "seq">;

export type JournalStore = {
  /** What was on disk at open. The caller owns it (and may empty it); the store does not track later commits. */
  readonly state: StoredState;
  /** Queues one commit and returns its sequence number; never blocks on the disk. */
  append(entry: CommitEntry): number;
  /** Resolves when every commit up to `seq` (default: the last appended) is on disk; rejects if the disk refused. */
  durable(seq?: number): Promise<void>;
  /** Called once when a write or fsync fails: memory is then ahead of the disk for good. */
  onFailure(listener: (error: unknown) => void): void;
  /** Lets the store compact while running; without a source it only compacts nothing. */
  setSnapshotSource(source: SnapshotSource): void;
  /** Compacts now (tests and benchmarks); resolves when the new snapshot is in place. */
  compact(): Promise<void>;
  saveFile(storageId: string, bytes: Uint8Array, contentType: string): Promise<void>;
  loadFile(storageId: string): { bytes: Uint8Array<ArrayBuffer>; contentType: string } | null;
  /** Waits for queued commits (and a running compaction) to settle, then closes the journal. */
  close(): Promise<void>;
};

export type StoreOptions = {
  /** Compact once the journal is larger than this and than the last snapshot (bytes). */
  compactAboveBytes?: number;
  log?: (message: string) => void;
  /** Opens a journal segment for appending (a test double may record the calls). */
  openJournalFile?: OpenJournalFile;
};

export const DEFAULT_COMPACT_ABOVE_BYTES = 16 * 1024 * 1024;
const SNAPSHOT = "snapshot.jsonl";
/** After a failed compaction (say, a full disk) the next try waits this long. */
const COMPACTION_RETRY_MS = 60_000;
const START_GRACE_MS = 2_000;

export function openJournalStore(dir: string, options: StoreOptions = {}): JournalStore {
  const log = options.log ?? (() => undefined);
  const openFile = options.openJournalFile ?? openJournalFile;
  const floor = options.compactAboveBytes ?? DEFAULT_COMPACT_ABOVE_BYTES;
  const snapshotPath = join(dir, SNAPSHOT);
  const filesDir = join(dir, "files");
  rmSync(`${snapshotPath}.tmp`, { force: true }); // a compaction that died before its rename

  const snapshot = readSnapshot(snapshotPath);
  const state = snapshot.state;
  const covered = snapshot.seq ?? 0;
  let journalBytes = 0;
  const legacyPath = join(dir, LEGACY_JOURNAL);
  let legacy = existsSync(legacyPath);
  if (legacy && snapshot.version === 2) {
    rmSync(legacyPath); // already inside the current snapshot (removal interrupted by a crash)
    legacy = false;
  }
  if (legacy) {
    replayLegacyJournal(dir, state, log);
    journalBytes += statSync(legacyPath).size;
  }

  const segments = listSegments(dir);
  // Segments wholly inside the snapshot are left over from a compaction that ended in a crash.
  const obsolete = segments.filter((segment, i) => i + 1 < segments.length && segments[i + 1]!.firstSeq - 1 <= covered);
  for (const segment of obsolete) rmSync(join(dir, segment.name));
  const live = segments.slice(obsolete.length);
  if (live.length > 0 && live[0]!.firstSeq > covered + 1) {
    throw missing(dir, covered + 1, live[0]!.firstSeq - 1);
  }
  let lastSeq = covered;
  let tailLast = -1;
  for (const [i, segment] of live.entries()) {
    if (i > 0 && segment.firstSeq !== tailLast + 1) throw missing(dir, tailLast + 1, segment.firstSeq - 1);
    tailLast = replaySegment(dir, segment, state, covered, i === live.length - 1, log);
    lastSeq = Math.max(covered, tailLast);
    journalBytes += statSync(join(dir, segment.name)).size;
  }
  // Append to the newest segment when it continues the sequence (a snapshot may be ahead of it).
  const tail = live.at(-1);
  let current: Segment =
    tail !== undefined && tailLast === lastSeq ? tail : { name: segmentName(lastSeq + 1), firstSeq: lastSeq + 1 };
  const older: Segment[] = live.filter((segment) => segment !== current);
  removeOrphanFiles(filesDir, state);

  let snapshotBytes = existsSync(snapshotPath) ? statSync(snapshotPath).size : 0;
  let source: SnapshotSource | null = null;
  let compaction: Promise<void> | null = null;
  let retryAfter = 0;
  let closing = false;
  let closed: Promise<void> | null = null;
  const failureListeners: Array<(error: unknown) => void> = [];
  let firstFailure: { error: unknown } | null = null;

  const writer = new GroupCommitWriter(
    openFile(join(dir, current.name)),
    lastSeq,
    (bytes) => {
      journalBytes += bytes;
      if (shouldCompact()) void startCompaction().catch(() => undefined);
    },
    (error) => {
      firstFailure = { error };
      for (const listener of failureListeners) listener(error);
    },
  );
  // The segment's directory entry must be durable before any record in it is acknowledged.
  fsyncDirectory(dir);

  const shouldCompact = () =>
    source !== null &&
    compaction === null &&
    !closing &&
    Date.now() >= retryAfter &&
    (legacy || snapshot.version === 1 || journalBytes > Math.max(floor, snapshotBytes));

  function startCompaction(): Promise<void> {
    if (compaction !== null) return compaction;
    compaction = compact().finally(() => {
      compaction = null;
    });
    return compaction;
  }

  async function compact() {
    const started = performance.now();
    let content: SnapshotContent | undefined;
    // Between batches: start a new segment, and freeze the documents at the last appended commit.
    await writer.betweenBatches(async () => {
      const next = writer.nextToWrite;
      if (next !== current.firstSeq) {
        const file = openFile(join(dir, segmentName(next)));
        await syncDirectory(dir);
        const previous = writer.file;
        writer.file = file;
        older.push(current);
        current = { name: segmentName(next), firstSeq: next };
        await previous.close();
      }
      content = { ...source!(), seq: writer.lastAppended };
    });
    const retired = [...older];
    const hadLegacy = legacy;
    try {
      const size = await writeSnapshot(snapshotPath, content!, () => closing);
      if (size === false) return;
      await syncDirectory(dir);
      snapshotBytes = size;
      snapshot.version = 2;
      for (const segment of retired) {
        await rm(join(dir, segment.name), { force: true });
        older.splice(older.indexOf(segment), 1);
      }
      if (hadLegacy) await rm(legacyPath, { force: true });
      legacy = false;
      journalBytes = statSync(join(dir, current.name)).size;
      log(
        `Compacted the journal into ${content!.count} snapshot documents (${snapshotBytes} bytes) in ` +
          `${Math.round(performance.now() - started)} ms.`,
      );
    } catch (error) {
      retryAfter = Date.now() + COMPACTION_RETRY_MS;
      log(`Journal compaction failed (${messageOf(error)}); will retry later.`);
      throw error;
    }
  }

  return {
    state,
    append(entry) {
      if (closing) {
        // Only a scheduled function finishing during shutdown gets here; nobody was told of it.
        log("A write made after shutdown began was not journaled.");
        return writer.lastAppended;
      }
      return writer.append(commitBody(entry.nextDocId, entry.lastCreationTime, entry.writes));
    },
    durable: (seq) => writer.durable(seq),
    onFailure(listener) {
      failureListeners.push(listener);
      if (firstFailure !== null) listener(firstFailure.error);
    },
    setSnapshotSource(next) {
      source = next;
      // Not during start-up: a due compaction (an upgrade, a long journal) waits a moment.
      setTimeout(() => {
        if (shouldCompact()) void startCompaction().catch(() => undefined);
      }, START_GRACE_MS).unref();
    },
    async compact() {
      if (source === null) throw new Error("No snapshot source: the engine registers one.");
      await compaction?.catch(() => undefined);
      await startCompaction();
    },
    async saveFile(storageId, bytes, contentType) {
      mkdirSync(filesDir, { recursive: true, mode: 0o700 });
      if (contentType !== "") await writeFileDurably(join(filesDir, `${safeName(storageId)}.type`), contentType);
      await writeFileDurably(join(filesDir, safeName(storageId)), bytes);
      await syncDirectory(filesDir);
    },
    loadFile(storageId) {
      const path = join(filesDir, safeName(storageId));
      if (!existsSync(path)) return null;
      const typePath = `${path}.type`;
      const contentType = existsSync(typePath) ? readFileSync(typePath, "utf8") : "";
      return { bytes: new Uint8Array(readFileSync(path)), contentType };
    },
    close: () =>
      (closed ??= (async () => {
        closing = true;
        await compaction?.catch(() => undefined);
        await writer.idle();
        await writer.file.close();
      })()),
  };
}

function missing(dir: string, from: number, to: number) {
  return new LocalDataError(
    `The journal in ${dir} is missing records ${from} to ${to} (a segment file was removed or damaged). ` +
      `Nothing was changed. Restore the data directory from a backup, or move it away to start fresh.`,
  );
}

/** Blobs whose `_storage` document is gone (deleted, or never acknowledged) are not needed. */
function removeOrphanFiles(filesDir: string, state: StoredState) {
  if (!existsSync(filesDir)) return;
  for (const name of readdirSync(filesDir)) {
    const storageId = name.replace(/(\.type)?(\.tmp)?$/, "");
    if (name.endsWith(".tmp") || !state.documents.has(storageId)) rmSync(join(filesDir, name), { force: true });
  }
}

async function writeFileDurably(path: string, content: Uint8Array | string) {
  const tmp = `${path}.tmp`;
  await writeFile(tmp, content, { mode: 0o600 });
  const file = await open(tmp, "r+");
  try {
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
}

/** Makes a create, rename or delete durable (the directory entry itself must reach the disk). */
async function syncDirectory(dir: string) {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function fsyncDirectory(dir: string) {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Storage ids come from our own engine, but they name files: never let one leave the folder. */
function safeName(storageId: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(storageId)) throw new Error(`Unexpected storage id ${JSON.stringify(storageId)}`);
  return storageId;
}
