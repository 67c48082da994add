/**
 * The on-disk record format of local mode's journal and snapshot, and reading files line by line.
 *
 *   record line   <crc32 of JSON, 8 hex> <JSON>\n
 *   journal JSON  {"s":seq,"b":first seq of its write batch,"n":nextDocId,"c":lastCreationTime,"w":[[id,doc|null]...]}
 *   snapshot      header {"format","version":2,"seq","nextDocId","lastCreationTime","count"}, then one document per line
 *
 * The previous version wrote the same JSON without the checksum, `s` or `b` (lines start with
 * `{`); those are still read (see store.ts for where they may appear).
 */
import { closeSync, openSync, readSync } from "node:fs";
import { crc32 } from "node:zlib";
import type { JsonDocument } from "./store";

export const SNAPSHOT_FORMAT = "ias-local-snapshot";

export type JournalRecord = {
  /** Absent in records of the previous version. */
  s?: number;
  b?: number;
  n: number;
  c: number;
  w: Array<[string, JsonDocument | null]>;
};

/** The JSON of a commit, without its sequence numbers (those are known only when it is written). */
export function commitBody(nextDocId: number, lastCreationTime: number, writes: JournalRecord["w"]): string {
  return JSON.stringify({ n: nextDocId, c: lastCreationTime, w: writes });
}

/** One journal line: `body` from `commitBody`, given its sequence number and its batch's first. */
export function journalLine(seq: number, batchStart: number, body: string): string {
  return checksummed(`{"s":${seq},"b":${batchStart},${body.slice(1)}`);
}

export function checksummed(json: string): string {
  return `${hex(crc32(json))} ${json}\n`;
}

function hex(value: number): string {
  return value.toString(16).padStart(8, "0");
}

export type ParsedLine =
  | { kind: "record"; value: unknown; checked: boolean }
  | { kind: "damaged"; why: string }
  /** Only newlines or NUL bytes: what a power loss leaves after the last real write. */
  | { kind: "blank" };

/** Decodes one line (without its newline): checksummed, or a bare JSON line of the previous version. */
export function parseLine(line: Buffer): ParsedLine {
  if (line.every((byte) => byte === 0 || byte === 0x0d)) return { kind: "blank" };
  if (line[0] === 0x7b /* { */) {
    try {
      return { kind: "record", value: JSON.parse(line.toString("utf8")), checked: false };
    } catch {
      return { kind: "damaged", why: "not valid JSON" };
    }
  }
  if (line.length < 10 || line[8] !== 0x20) return { kind: "damaged", why: "no checksum" };
  const json = line.subarray(9);
  if (line.toString("latin1", 0, 8) !== hex(crc32(json))) return { kind: "damaged", why: "checksum mismatch" };
  try {
    return { kind: "record", value: JSON.parse(json.toString("utf8")), checked: true };
  } catch {
    return { kind: "damaged", why: "not valid JSON" };
  }
}

export function isJournalRecord(value: unknown): value is JournalRecord {
  const record = value as JournalRecord;
  return (
    typeof record === "object" &&
    record !== null &&
    Array.isArray(record.w) &&
    typeof record.n === "number" &&
    typeof record.c === "number" &&
    (record.s === undefined || (Number.isSafeInteger(record.s) && Number.isSafeInteger(record.b)))
  );
}

export type Line = { bytes: Buffer; offset: number; number: number; terminated: boolean };

const CHUNK = 4 * 1024 * 1024;

/**
 * Calls `visit` for every line of the file in order, reading it in chunks so a large file never
 * sits in memory whole. The last line may be unterminated (a torn write). `visit` returning false
 * stops the walk. A line's bytes are valid only during its `visit`: one buffer is reused (a new
 * 4 MiB allocation per chunk left tens of MiB of freed memory resident after a large start).
 */
export function forEachLine(path: string, visit: (line: Line) => boolean | void): void {
  const fd = openSync(path, "r");
  try {
    let buffer = Buffer.allocUnsafe(CHUNK);
    let carried = 0; // bytes of an unfinished line at the start of `buffer`
    let carryOffset = 0; // its offset in the file
    let number = 0;
    for (;;) {
      if (carried === buffer.length) {
        // One line longer than the buffer: make room for it.
        const larger = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(larger, 0, 0, carried);
        buffer = larger;
      }
      const read = readSync(fd, buffer, carried, buffer.length - carried, null);
      const data = buffer.subarray(0, carried + read);
      let start = 0;
      for (;;) {
        const newline = data.indexOf(0x0a, start);
        if (newline === -1) break;
        number += 1;
        const line = { bytes: data.subarray(start, newline), offset: carryOffset + start, number, terminated: true };
        if (visit(line) === false) return;
        start = newline + 1;
      }
      carryOffset += start;
      carried = data.length - start;
      buffer.copyWithin(0, start, data.length);
      if (read === 0) {
        if (carried > 0) {
          visit({ bytes: buffer.subarray(0, carried), offset: carryOffset, number: number + 1, terminated: false });
        }
        return;
      }
    }
  } finally {
    closeSync(fd);
  }
}
