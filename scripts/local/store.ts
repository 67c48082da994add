/**
 * Durable storage for local mode: an append-only journal of committed write sets plus an
 * occasional snapshot, and one file per stored blob. Knows nothing about Convex: documents are
 * plain JSON (the engine encodes them with `convexToJson`).
 *
 *   DIR/snapshot.jsonl  header line, then one document per line (replaced by atomic rename)
 *   DIR/journal.jsonl   one committed transaction per line, fsynced before the commit returns
 *   DIR/files/<id>      blob bytes (+ <id>.type with the content type when there is one)
 */
import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { LocalDataError, reason } from "./data-dir";

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

export type JournalStore = {
  /** What was on disk at open. The caller owns it; the store does not track later commits. */
  readonly state: StoredState;
  /** Appends and fsyncs one entry. Throws when the disk refuses: the caller must not ack. */
  append(entry: CommitEntry): void;
  saveFile(storageId: string, bytes: Uint8Array, contentType: string): void;
  loadFile(storageId: string): { bytes: Uint8Array<ArrayBuffer>; contentType: string } | null;
  close(): void;
};

export type StoreOptions = {
  /** Compact at open when the journal is larger than this (bytes). */
  compactAboveBytes?: number;
  log?: (message: string) => void;
};

const SNAPSHOT_FORMAT = "ias-local-snapshot";
const SNAPSHOT_VERSION = 1;
export const DEFAULT_COMPACT_ABOVE_BYTES = 16 * 1024 * 1024;

export function openJournalStore(dir: string, options: StoreOptions = {}): JournalStore {
  const log = options.log ?? (() => undefined);
  const journalPath = join(dir, "journal.jsonl");
  const snapshotPath = join(dir, "snapshot.jsonl");
  const filesDir = join(dir, "files");
  rmSync(`${snapshotPath}.tmp`, { force: true }); // a compaction that died before its rename

  const state = readSnapshot(snapshotPath);
  let fd: number;
  try {
    fd = openSync(journalPath, "a+", 0o600);
  } catch (error) {
    throw new LocalDataError(`Cannot open ${journalPath}: ${reason(error)}.`);
  }
  const validBytes = replayJournal(journalPath, state, log);
  if (validBytes < fstatSync(fd).size) {
    // Cut the torn tail off, or the next append would be glued onto it.
    ftruncateSync(fd, validBytes);
    fsyncSync(fd);
  }
  fsyncDirectory(dir); // the journal's directory entry, on first creation

  if (validBytes > (options.compactAboveBytes ?? DEFAULT_COMPACT_ABOVE_BYTES)) {
    writeSnapshot(snapshotPath, state);
    fsyncDirectory(dir);
    // A crash before this truncate is harmless: replaying old entries over the new snapshot
    // ends in the same state, because each entry holds final document values.
    ftruncateSync(fd, 0);
    fsyncSync(fd);
    removeOrphanFiles(filesDir, state);
    log(`Compacted the journal (${validBytes} bytes) into ${state.documents.size} snapshot documents.`);
  }

  let closed = false;
  return {
    state,
    append(entry) {
      if (closed) {
        // Only a scheduled function finishing during shutdown gets here; nobody was told of it.
        log("A write made after shutdown began was not journaled.");
        return;
      }
      writeFully(fd, JSON.stringify({ n: entry.nextDocId, c: entry.lastCreationTime, w: entry.writes }) + "\n");
      fdatasyncSync(fd);
    },
    saveFile(storageId, bytes, contentType) {
      mkdirSync(filesDir, { recursive: true, mode: 0o700 });
      if (contentType !== "") writeFileDurably(join(filesDir, `${safeName(storageId)}.type`), contentType);
      writeFileDurably(join(filesDir, safeName(storageId)), bytes);
      fsyncDirectory(filesDir);
    },
    loadFile(storageId) {
      const path = join(filesDir, safeName(storageId));
      if (!existsSync(path)) return null;
      const typePath = `${path}.type`;
      const contentType = existsSync(typePath) ? readFileSync(typePath, "utf8") : "";
      return { bytes: new Uint8Array(readFileSync(path)), contentType };
    },
    close() {
      if (closed) return;
      closed = true;
      closeSync(fd);
    },
  };
}

function readSnapshot(path: string): StoredState {
  const state: StoredState = { documents: new Map(), nextDocId: 0, lastCreationTime: 0 };
  if (!existsSync(path)) return state;
  const lines = readText(path).split("\n");
  try {
    const header = JSON.parse(lines[0]!);
    if (header.format !== SNAPSHOT_FORMAT || header.version !== SNAPSHOT_VERSION) {
      throw new Error(`unknown format ${JSON.stringify(header.format)} version ${header.version}`);
    }
    state.nextDocId = header.nextDocId;
    state.lastCreationTime = header.lastCreationTime;
    for (let i = 1; i <= header.count; i++) {
      const document = JSON.parse(lines[i]!) as JsonDocument;
      state.documents.set(document._id as string, document);
    }
  } catch (error) {
    throw new LocalDataError(`${path} is unreadable (${reason(error)}); move the data directory away to start fresh.`);
  }
  return state;
}

/**
 * Applies every complete entry to `state` and returns the byte length of the valid prefix. An
 * unparsable final line is a write torn by a crash (never acknowledged) and is dropped; an
 * unparsable line with valid entries after it is corruption and refuses the start.
 */
export function replayJournal(path: string, state: StoredState, log: (message: string) => void): number {
  const buffer = readBytes(path);
  let offset = 0;
  let lineNumber = 0;
  while (offset < buffer.length) {
    lineNumber += 1;
    const newline = buffer.indexOf(0x0a, offset);
    if (newline === -1) {
      // The newline is written with the entry and fsynced before any ack, so a line without
      // one was never acknowledged: drop it, parsable or not.
      log(`Ignoring a torn last journal line (${buffer.length - offset} bytes) left by a crash.`);
      return offset;
    }
    const line = buffer.toString("utf8", offset, newline);
    let entry: JournalLine | undefined;
    try {
      entry = line.trim() === "" ? undefined : (JSON.parse(line) as JournalLine);
      if (entry !== undefined && (!Array.isArray(entry.w) || typeof entry.n !== "number")) throw new Error("bad entry");
    } catch {
      // Power loss can leave the last line half-written followed by zeros.
      if (buffer.subarray(newline + 1).every((byte) => byte === 0x0a || byte === 0)) {
        log(`Ignoring a torn last journal line (${buffer.length - offset} bytes) left by a crash.`);
        return offset;
      }
      throw new LocalDataError(`${path} line ${lineNumber} is corrupt; move the data directory away to start fresh.`);
    }
    if (entry !== undefined) applyEntry(state, entry);
    offset = newline + 1;
  }
  return offset;
}

type JournalLine = { n: number; c: number; w: Array<[string, JsonDocument | null]> };

function applyEntry(state: StoredState, entry: JournalLine) {
  for (const [id, document] of entry.w) {
    if (document === null) state.documents.delete(id);
    else state.documents.set(id, document);
  }
  state.nextDocId = Math.max(state.nextDocId, entry.n);
  state.lastCreationTime = Math.max(state.lastCreationTime, entry.c);
}

/** Temp file, fsync, rename: a reader sees the old snapshot or the whole new one. */
function writeSnapshot(path: string, state: StoredState) {
  const header = {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    nextDocId: state.nextDocId,
    lastCreationTime: state.lastCreationTime,
    count: state.documents.size,
  };
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeFully(fd, JSON.stringify(header) + "\n");
    for (const document of state.documents.values()) writeFully(fd, JSON.stringify(document) + "\n");
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Blobs whose `_storage` document is gone (deleted) are not needed any more. */
function removeOrphanFiles(filesDir: string, state: StoredState) {
  if (!existsSync(filesDir)) return;
  for (const name of readdirSync(filesDir)) {
    const storageId = name.replace(/(\.type)?(\.tmp)?$/, "");
    if (name.endsWith(".tmp") || !state.documents.has(storageId)) rmSync(join(filesDir, name), { force: true });
  }
}

function writeFileDurably(path: string, content: Uint8Array | string) {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeFully(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

function writeFully(fd: number, content: Uint8Array | string) {
  const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
  let written = 0;
  while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
}

/** Makes a create or rename durable (the directory entry itself must reach the disk). */
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

function readText(path: string): string {
  return readBytes(path).toString("utf8");
}

function readBytes(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new LocalDataError(`Cannot read ${path}: ${reason(error)}.`);
  }
}
