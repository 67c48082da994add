/**
 * Local mode's snapshot file: every live document at one journal sequence number. Written to a
 * temporary file in the background (in chunks, yielding to requests), fsynced and renamed into
 * place, so a reader only ever sees a whole old or a whole new snapshot.
 */
import { existsSync } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { LocalDataError, reason } from "./data-dir";
import { checksummed, forEachLine, parseLine, SNAPSHOT_FORMAT } from "./journalFormat";
import type { JsonDocument, StoredState } from "./store";

/** The previous version's snapshots (no checksums, no sequence number) are version 1. */
const SNAPSHOT_VERSION = 2;

export type LoadedSnapshot = {
  state: StoredState;
  /** The last journal record it contains; null for a version-1 snapshot or none at all. */
  seq: number | null;
  version: 0 | 1 | 2;
};

export type SnapshotContent = {
  seq: number;
  nextDocId: number;
  lastCreationTime: number;
  count: number;
  documents: Iterator<JsonDocument>;
};

export function readSnapshot(path: string): LoadedSnapshot {
  const state: StoredState = { documents: new Map(), nextDocId: 0, lastCreationTime: 0 };
  if (!existsSync(path)) return { state, seq: null, version: 0 };
  type Header = {
    format?: unknown;
    version?: unknown;
    seq?: number;
    nextDocId: number;
    lastCreationTime: number;
    count: number;
  };
  let header: Header | undefined;
  let checked = false;
  let seen = 0;
  const refuse = (line: number, why: string): never => {
    throw new LocalDataError(
      `${path} is damaged at line ${line} (${why}); nothing was changed. ` +
        `Restore the data directory from a backup, or move it away to start fresh.`,
    );
  };
  try {
    forEachLine(path, (line) => {
      const parsed = parseLine(line.bytes);
      if (parsed.kind !== "record") return refuse(line.number, parsed.kind === "blank" ? "empty line" : parsed.why);
      if (header === undefined) {
        const candidate = parsed.value as Header | null;
        checked = parsed.checked;
        const version = checked ? SNAPSHOT_VERSION : 1;
        if (
          candidate?.format !== SNAPSHOT_FORMAT ||
          candidate.version !== version ||
          !Number.isSafeInteger(candidate.count)
        ) {
          refuse(1, `unknown format ${JSON.stringify(candidate?.format)} version ${candidate?.version}`);
        }
        header = candidate!;
        return;
      }
      if (parsed.checked !== checked) refuse(line.number, "checksum missing");
      if (!line.terminated) refuse(line.number, "cut short");
      if (seen === header.count) refuse(line.number, "more documents than the header counts");
      const document = parsed.value as JsonDocument;
      if (typeof document?._id !== "string") refuse(line.number, "a document without _id");
      state.documents.set(document._id as string, document);
      seen += 1;
    });
  } catch (error) {
    if (error instanceof LocalDataError) throw error;
    throw new LocalDataError(`Cannot read ${path}: ${reason(error)}.`);
  }
  if (header === undefined) refuse(1, "empty file");
  if (seen !== header!.count) refuse(seen + 2, `${seen} of ${header!.count} documents present`);
  state.nextDocId = header!.nextDocId;
  state.lastCreationTime = header!.lastCreationTime;
  return { state, seq: checked ? header!.seq! : null, version: checked ? 2 : 1 };
}

const WRITE_CHUNK_BYTES = 64 * 1024;

/**
 * Writes `content` to `path` via `path.tmp`: fsynced, then renamed (the caller fsyncs the
 * directory). `shouldStop` is checked between chunks; when it says so the temporary file is
 * removed and this resolves false. Returns the snapshot's size in bytes otherwise.
 */
export async function writeSnapshot(
  path: string,
  content: SnapshotContent,
  shouldStop: () => boolean,
): Promise<number | false> {
  const tmp = `${path}.tmp`;
  const file = await open(tmp, "w", 0o600);
  let size = 0;
  let stopped = false;
  try {
    const header = {
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      seq: content.seq,
      nextDocId: content.nextDocId,
      lastCreationTime: content.lastCreationTime,
      count: content.count,
    };
    let text = checksummed(JSON.stringify(header));
    for (;;) {
      const next = content.documents.next();
      if (!next.done) text += checksummed(JSON.stringify(next.value));
      if (text.length >= WRITE_CHUNK_BYTES || (next.done && text.length > 0)) {
        const bytes = Buffer.from(text, "utf8");
        await file.write(bytes);
        size += bytes.length;
        text = "";
        await new Promise((resolve) => setImmediate(resolve)); // let requests in
        if (shouldStop()) {
          stopped = true;
          break;
        }
      }
      if (next.done) break;
    }
    if (!stopped) await file.sync();
  } catch (error) {
    stopped = true;
    throw error;
  } finally {
    await file.close();
    if (stopped) await rm(tmp, { force: true });
  }
  if (stopped) return false;
  await rename(tmp, path);
  return size;
}
