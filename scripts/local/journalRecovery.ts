/**
 * Reading the journal back at start. Segments `journal-<first seq>.jsonl` hold checksummed
 * records with consecutive sequence numbers; `journal.jsonl` is the previous version's journal
 * (no checksums), read only when no current snapshot supersedes it.
 *
 * Damage is told apart from a crash: the only write a crash can tear is the last batch written
 * to the newest segment (one write + one fsync, never acknowledged before the fsync). Each record
 * names the first record of its batch, so a damaged record is a torn tail only when every record
 * after it belongs to the same batch; that tail is cut. Anything else refuses the start with the
 * record number, and nothing on disk is changed.
 */
import { ftruncateSync, openSync, closeSync, fsyncSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { LocalDataError } from "./data-dir";
import { forEachLine, isJournalRecord, parseLine, type JournalRecord } from "./journalFormat";
import type { StoredState } from "./store";

export const LEGACY_JOURNAL = "journal.jsonl";
const SEGMENT = /^journal-(\d{12})\.jsonl$/;

export function segmentName(firstSeq: number): string {
  return `journal-${String(firstSeq).padStart(12, "0")}.jsonl`;
}

export type Segment = { name: string; firstSeq: number };

/** The segments in `dir`, oldest first. */
export function listSegments(dir: string): Segment[] {
  return readdirSync(dir)
    .map((name) => ({ name, match: SEGMENT.exec(name) }))
    .filter((entry) => entry.match !== null)
    .map((entry) => ({ name: entry.name, firstSeq: Number(entry.match![1]) }))
    .sort((a, b) => a.firstSeq - b.firstSeq);
}

const ADVICE =
  "Nothing was changed. Restore the data directory from a backup, or move it away to start fresh " +
  "(the records before it are intact).";

export function applyRecord(state: StoredState, record: JournalRecord) {
  for (const [id, document] of record.w) {
    if (document === null) state.documents.delete(id);
    else state.documents.set(id, document);
  }
  state.nextDocId = Math.max(state.nextDocId, record.n);
  state.lastCreationTime = Math.max(state.lastCreationTime, record.c);
}

type Log = (message: string) => void;

/**
 * Replays one segment into `state`, skipping records up to `skipThrough` (already in the
 * snapshot). Returns the last sequence number it holds (firstSeq - 1 when empty). Only the newest
 * segment (`isLast`) may end in a torn batch, which is cut off here.
 */
export function replaySegment(
  dir: string,
  segment: Segment,
  state: StoredState,
  skipThrough: number,
  isLast: boolean,
  log: Log,
): number {
  const path = join(dir, segment.name);
  let expected = segment.firstSeq;
  let bad: { offset: number; line: number; why: string; seq: number } | null = null;
  let laterBatch: number | null = null;
  let fileSize = 0;
  forEachLine(path, (line) => {
    fileSize = line.offset + line.bytes.length + (line.terminated ? 1 : 0);
    const parsed = parseLine(line.bytes);
    let record: JournalRecord | null = null;
    let why = "";
    if (!line.terminated) why = "cut short";
    else if (parsed.kind === "blank") why = "empty";
    else if (parsed.kind === "damaged") why = parsed.why;
    else if (!parsed.checked) why = "no checksum";
    else if (!isJournalRecord(parsed.value) || parsed.value.s === undefined) why = "not a journal record";
    else if (bad === null && parsed.value.s !== expected) {
      why = `sequence number ${parsed.value.s}, expected ${expected}`;
      // An intact record of a later batch where this one belongs: records went missing.
      if (parsed.value.b! > expected) laterBatch = parsed.value.s!;
    } else record = parsed.value;

    if (bad === null) {
      if (record === null) {
        bad = { offset: line.offset, line: line.number, why, seq: expected };
        return;
      }
      if (record.s! > skipThrough) applyRecord(state, record);
      expected += 1;
      return;
    }
    // After a damaged record: is this one of a later batch? Then it was not a torn write.
    if (record !== null && record.b! > bad.seq && laterBatch === null) laterBatch = record.s!;
  });

  if (bad === null) return expected - 1;
  const damage = bad as { offset: number; line: number; why: string; seq: number };
  if (!isLast || laterBatch !== null) {
    const after = laterBatch !== null ? `record ${laterBatch} of a later write follows it` : "newer segments follow it";
    throw new LocalDataError(
      `${path}: record ${damage.seq} (line ${damage.line}) is damaged (${damage.why}) and ${after}, ` +
        `so this is not a write torn by a crash. ${ADVICE}`,
    );
  }
  log(
    `Ignoring a torn last journal write (${fileSize - damage.offset} bytes from record ${damage.seq}) left by a crash.`,
  );
  truncate(path, damage.offset);
  return damage.seq - 1;
}

/**
 * The previous version's journal, replayed as that version did: an unparsable final line is a
 * torn write (dropped), an unparsable line with valid entries after it refuses the start.
 */
export function replayLegacyJournal(dir: string, state: StoredState, log: Log): void {
  const path = join(dir, LEGACY_JOURNAL);
  let bad: { offset: number; line: number } | null = null;
  let validAfter = false;
  forEachLine(path, (line) => {
    const parsed = parseLine(line.bytes);
    const record = parsed.kind === "record" && !parsed.checked && isJournalRecord(parsed.value) ? parsed.value : null;
    if (bad !== null) {
      if (parsed.kind !== "blank") validAfter = true;
      return;
    }
    if (parsed.kind === "blank" && line.terminated && line.bytes.length === 0) return;
    if (record === null || !line.terminated) {
      bad = { offset: line.offset, line: line.number };
      return;
    }
    applyRecord(state, record);
  });
  if (bad === null) return;
  const damage = bad as { offset: number; line: number };
  if (validAfter) {
    throw new LocalDataError(`${path} line ${damage.line} is corrupt and entries follow it. ${ADVICE}`);
  }
  log(`Ignoring a torn last journal line (line ${damage.line}) left by a crash.`);
  truncate(path, damage.offset);
}

function truncate(path: string, length: number) {
  const fd = openSync(path, "r+");
  try {
    ftruncateSync(fd, length);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
