/**
 * A job's output lines on disk until the control plane has acknowledged them, so an outage or a
 * worker restart loses none. Lines (cut at 8 KiB, `truncateLine`) are appended to segment files (`000001.jsonl`, one JSON record
 * per line: `{"t": printedAt, "l": text}`); batches are read from the acknowledged position
 * (`acked.json`) in order, as large as `/v1/jobs/log` takes (≤ 500 lines, ≤ 64 KiB counting a
 * newline per line), and a segment is deleted once every line in it is acknowledged.
 *
 * The spool holds at most `maxBytes` of unacknowledged records. Lines printed while it is full
 * are dropped and counted until it has drained to half the cap; then a gap record
 * (`{"gap": n}`) marks where they were, and the batch after it carries `droppedLines: n` (the
 * server's `log_gap` event). Delivery is at least once: a crash between a send and the write of
 * `acked.json` sends that batch again.
 */
import {
  appendFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { MAX_LOG_BYTES, MAX_LOG_LINES } from "../../convex/model/jobs";

export const DEFAULT_SPOOL_MAX_BYTES = 64 * 1024 * 1024;
/** A single line longer than this is cut (a minified file must not take a whole batch). */
export const MAX_LINE_BYTES = 8 * 1024;
/** A new segment is started past this size, so acknowledged lines leave the disk soon. */
const SEGMENT_BYTES = 1024 * 1024;
const ACKED_FILE = "acked.json";
/** Spooled bytes per batch, so a request stays well under the API's 256 KiB body limit however its lines escape. */
const MAX_BATCH_JSON_BYTES = 192 * 1024;

export type SpoolBatch = {
  lines: string[];
  lineTimes: number[];
  /** Lines dropped just before these (a gap record at the batch's start). */
  droppedLines?: number;
  /** Where the batch ends, and how many spooled bytes it covers. */
  end: Position;
  bytes: number;
};

type Position = { segment: number; offset: number };
type SpoolRecord = { t: number; l: string } | { gap: number; t?: number };
type Parsed = { record: SpoolRecord; end: number };

const encoder = new TextEncoder();
const segmentName = (segment: number) => `${String(segment).padStart(6, "0")}.jsonl`;

export class LogSpool {
  private position: Position = { segment: 1, offset: 0 };
  private writeSegment = 1;
  private writeSegmentBytes = 0;
  /** Spooled and not yet acknowledged, buffered writes included. */
  private pendingBytes = 0;
  /** Records not yet written, each with the number of printed lines it stands for. */
  private buffered: Array<[record: string, lines: number]> = [];
  private writeScheduled = false;
  private dropped = 0;
  private cache: { segment: number; records: Parsed[]; size: number } | undefined;

  private removed = false;

  constructor(
    readonly dir: string,
    private readonly maxBytes = DEFAULT_SPOOL_MAX_BYTES,
    private readonly onWriteError?: (error: Error) => void,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const segments = this.segments();
    const acked = readAcked(join(dir, ACKED_FILE));
    const first = segments[0];
    if (first !== undefined) this.position = acked && acked.segment >= first ? acked : { segment: first, offset: 0 };
    for (const segment of segments) {
      if (segment < this.position.segment) rmSync(join(dir, segmentName(segment)), { force: true });
      else this.pendingBytes += statSync(join(dir, segmentName(segment))).size;
    }
    this.pendingBytes = Math.max(0, this.pendingBytes - this.position.offset);
    // Never append to a segment an earlier process wrote: its last line may be cut short.
    this.writeSegment = Math.max(this.position.segment, (segments.at(-1) ?? 0) + 1);
  }

  /** Spools one line printed at `at` (epoch ms), or counts it as dropped when the spool is full. */
  append(line: string, at: number) {
    if (this.removed) return;
    const record = `${JSON.stringify({ t: at, l: line })}\n`;
    const size = Buffer.byteLength(record);
    const full = this.pendingBytes + size > (this.dropped > 0 ? this.maxBytes / 2 : this.maxBytes);
    if (full) {
      this.dropped++;
      return;
    }
    this.writeGap();
    this.buffer(record, size, 1);
  }

  /** The job ended: a gap still open is recorded, and everything is on disk. */
  close() {
    this.writeGap();
    this.flushWrites();
  }

  /** Nothing is waiting to be sent (no line, no gap). */
  isEmpty(): boolean {
    return this.pendingBytes === 0 && this.dropped === 0;
  }

  /** The next lines to send, in order, within the route's limits; null when there are none. */
  next(): SpoolBatch | null {
    this.flushWrites();
    while (this.pendingBytes > 0) {
      const { records, size } = this.segmentRecords(this.position.segment);
      const start = records.findIndex((parsed) => parsed.end > this.position.offset);
      if (start === -1) {
        // The segment is used up (or ends in a fragment a crash left): go on with the next one.
        if (this.position.segment >= this.writeSegment) {
          this.pendingBytes = 0; // nothing readable is left, whatever the count said
          return null;
        }
        const skipped = Math.max(0, size - this.position.offset);
        this.advance({ segment: this.position.segment + 1, offset: 0 }, skipped);
        continue;
      }
      return this.batchFrom(records, start);
    }
    return null;
  }

  /** `batch` is on the server: its lines leave the spool. */
  ack(batch: SpoolBatch) {
    this.advance(batch.end, batch.bytes);
  }

  /** Deletes the spool (the job's lines are delivered, or can never be). */
  remove() {
    this.removed = true;
    rmSync(this.dir, { recursive: true, force: true });
    this.buffered = [];
    this.pendingBytes = 0;
    this.dropped = 0;
  }

  private batchFrom(records: Parsed[], start: number): SpoolBatch {
    const lines: string[] = [];
    const lineTimes: number[] = [];
    let droppedLines: number | undefined;
    let textBytes = 0;
    let end = this.position.offset;
    for (let index = start; index < records.length; index++) {
      const { record, end: recordEnd } = records[index]!;
      if ("gap" in record) {
        if (lines.length > 0 || droppedLines !== undefined) break; // a gap starts the next batch
        droppedLines = record.gap;
      } else {
        const size = Buffer.byteLength(record.l) + 1;
        // The record's own size bounds the line as JSON (control characters escape to 6 bytes).
        const json = recordEnd - end;
        const full =
          lines.length === MAX_LOG_LINES ||
          textBytes + size > MAX_LOG_BYTES ||
          end + json - this.position.offset > MAX_BATCH_JSON_BYTES;
        if (lines.length > 0 && full) break;
        lines.push(record.l);
        lineTimes.push(record.t);
        textBytes += size;
      }
      end = recordEnd;
    }
    return {
      lines,
      lineTimes,
      ...(droppedLines === undefined ? {} : { droppedLines }),
      end: { segment: this.position.segment, offset: end },
      bytes: end - this.position.offset,
    };
  }

  private advance(to: Position, bytes: number) {
    for (let segment = this.position.segment; segment < to.segment; segment++) {
      rmSync(join(this.dir, segmentName(segment)), { force: true });
      if (this.cache?.segment === segment) this.cache = undefined;
    }
    this.position = to;
    this.pendingBytes = Math.max(0, this.pendingBytes - bytes);
    const path = join(this.dir, ACKED_FILE);
    writeFileSync(`${path}.tmp`, JSON.stringify(to));
    renameSync(`${path}.tmp`, path);
  }

  private writeGap() {
    if (this.dropped === 0) return;
    const record = `${JSON.stringify({ gap: this.dropped })}\n`;
    const lines = this.dropped;
    this.dropped = 0;
    this.buffer(record, Buffer.byteLength(record), lines); // a few bytes over the cap, so the gap is never lost
  }

  private buffer(record: string, size: number, lines: number) {
    this.buffered.push([record, lines]);
    this.pendingBytes += size;
    if (this.writeScheduled) return;
    this.writeScheduled = true;
    setImmediate(() => this.flushWrites()); // one write for the lines of one burst of output
  }

  private flushWrites() {
    this.writeScheduled = false;
    if (this.buffered.length === 0 || this.removed) return;
    const records = this.buffered;
    this.buffered = [];
    let chunk: Array<[string, number]> = [];
    let chunkBytes = 0;
    for (const entry of records) {
      chunk.push(entry);
      chunkBytes += Buffer.byteLength(entry[0]);
      if (this.writeSegmentBytes + chunkBytes >= SEGMENT_BYTES) {
        this.writeChunk(chunk, chunkBytes);
        chunk = [];
        chunkBytes = 0;
      }
    }
    if (chunk.length > 0) this.writeChunk(chunk, chunkBytes);
  }

  private writeChunk(chunk: Array<[record: string, lines: number]>, size: number) {
    try {
      appendFileSync(join(this.dir, segmentName(this.writeSegment)), chunk.map(([record]) => record).join(""), {
        mode: 0o600,
      });
    } catch (error) {
      // A full or broken disk: these lines are lost, and said so by a gap (never a crash).
      this.pendingBytes -= size;
      this.dropped += chunk.reduce((sum, [, lines]) => sum + lines, 0);
      this.onWriteError?.(error as Error);
      return;
    }
    this.writeSegmentBytes += size;
    if (this.cache?.segment === this.writeSegment) this.cache = undefined;
    if (this.writeSegmentBytes >= SEGMENT_BYTES) {
      this.writeSegment++;
      this.writeSegmentBytes = 0;
    }
  }

  /** A segment's complete records with the offset after each; the parse is kept while it is read. */
  private segmentRecords(segment: number): { records: Parsed[]; size: number } {
    if (this.cache?.segment === segment) return this.cache;
    let content: Buffer;
    try {
      content = readFileSync(join(this.dir, segmentName(segment)));
    } catch {
      content = Buffer.alloc(0); // not written yet
    }
    const records: Parsed[] = [];
    let offset = 0;
    for (let newline = content.indexOf(10); newline !== -1; newline = content.indexOf(10, offset)) {
      const record = parseRecord(content.subarray(offset, newline).toString("utf8"));
      offset = newline + 1;
      if (record) records.push({ record, end: offset });
    }
    this.cache = { segment, records, size: content.length };
    return this.cache;
  }

  private segments(): number[] {
    return readdirSync(this.dir)
      .filter((name) => /^\d{6}\.jsonl$/.test(name))
      .map((name) => Number(name.slice(0, 6)))
      .sort((a, b) => a - b);
  }
}

function parseRecord(text: string): SpoolRecord | undefined {
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    if (typeof value.l === "string" && typeof value.t === "number") return { t: value.t, l: value.l };
    if (typeof value.gap === "number" && value.gap > 0) return { gap: value.gap };
  } catch {
    /* a line cut short by a crash */
  }
  return undefined;
}

function readAcked(path: string): Position | undefined {
  try {
    const value = JSON.parse(readFileSync(path, "utf8")) as Position;
    return Number.isInteger(value.segment) && Number.isInteger(value.offset) ? value : undefined;
  } catch {
    return undefined;
  }
}

export function truncateLine(line: string, maxBytes = MAX_LINE_BYTES): string {
  const bytes = encoder.encode(line);
  if (bytes.length <= maxBytes) return line;
  const marker = " …[truncated]";
  // Decoding a cut UTF-8 sequence yields U+FFFD; drop it rather than send a broken character.
  const head = new TextDecoder().decode(bytes.slice(0, maxBytes - Buffer.byteLength(marker))).replace(/\uFFFD$/, "");
  return head + marker;
}
