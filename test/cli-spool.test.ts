// @vitest-environment node
/**
 * The worker's log spool (scripts/cli/log-spool.ts) on a real directory: lines come back in order
 * with their print times, in batches `/v1/jobs/log` accepts; acknowledged lines leave the disk;
 * a full spool drops lines and says how many with a gap; a new process picks up where the last
 * acknowledgement left off, even after a crash mid-write.
 */
import { appendFileSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { LogSpool, MAX_LINE_BYTES, truncateLine, type SpoolBatch } from "../scripts/cli/log-spool";

const roots: string[] = [];
const spoolDir = () => {
  const root = mkdtempSync(join(tmpdir(), "ias-spool-"));
  roots.push(root);
  return join(root, "log");
};
afterAll(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })));

/** Every batch until the spool is empty, each acknowledged. */
function drain(spool: LogSpool): SpoolBatch[] {
  const batches: SpoolBatch[] = [];
  for (let batch = spool.next(); batch !== null; batch = spool.next()) {
    batches.push(batch);
    spool.ack(batch);
  }
  return batches;
}

describe("order, times and batch limits", () => {
  test("lines come back in order with the times they were printed at", () => {
    const spool = new LogSpool(spoolDir());
    for (let i = 0; i < 30; i++) spool.append(`line ${i}`, 1_000 + i);
    const [batch, ...rest] = drain(spool);
    expect(rest).toEqual([]);
    expect(batch!.lines).toEqual(Array.from({ length: 30 }, (_, i) => `line ${i}`));
    expect(batch!.lineTimes).toEqual(Array.from({ length: 30 }, (_, i) => 1_000 + i));
    expect(batch!.droppedLines).toBeUndefined();
    expect(spool.isEmpty()).toBe(true);
  });

  test("batches hold at most 500 lines and 64 KiB counting a newline per line, at least one line", () => {
    const spool = new LogSpool(spoolDir());
    for (let i = 0; i < 800; i++) spool.append("x", i);
    expect(drain(spool).map((batch) => batch.lines.length)).toEqual([500, 300]);
    const kib = "y".repeat(1023); // 1024 bytes with its newline
    for (let i = 0; i < 100; i++) spool.append(kib, i);
    expect(drain(spool).map((batch) => batch.lines.length)).toEqual([64, 36]);
  });

  test("lines that escape to much longer JSON make smaller batches (the request stays under 256 KiB)", () => {
    const spool = new LogSpool(spoolDir());
    const control = "\u0001".repeat(8_000); // 8,000 bytes of text, 48,000 as JSON
    for (let i = 0; i < 8; i++) spool.append(control, i);
    const batches = drain(spool);
    expect(batches.map((batch) => batch.lines.length)).toEqual([4, 4]);
    for (const batch of batches) expect(Buffer.byteLength(JSON.stringify(batch))).toBeLessThan(256 * 1024);
  });

  test("an unacknowledged batch is offered again, then the next", () => {
    const spool = new LogSpool(spoolDir());
    spool.append("a", 1);
    const first = spool.next()!;
    expect(spool.next()).toEqual(first); // the send failed: the same lines again
    spool.append("b", 2);
    spool.ack(first);
    expect(spool.next()!.lines).toEqual(["b"]);
  });

  test("long lines are cut on a character boundary with a marker", () => {
    const cut = truncateLine("é".repeat(MAX_LINE_BYTES));
    expect(new TextEncoder().encode(cut).length).toBeLessThanOrEqual(MAX_LINE_BYTES);
    expect(cut).toMatch(/^é+ …\[truncated\]$/);
    expect(truncateLine("short")).toBe("short");
  });
});

describe("on disk", () => {
  test("acknowledged segments are deleted; many segments are read in order", () => {
    const dir = spoolDir();
    const spool = new LogSpool(dir);
    const line = "z".repeat(4_000);
    for (let i = 0; i < 700; i++) spool.append(`${i} ${line}`, i); // ~2.8 MB: three segments
    spool.close();
    expect(readdirSync(dir).filter((name) => name.endsWith(".jsonl")).length).toBeGreaterThanOrEqual(3);
    const lines = drain(spool).flatMap((batch) => batch.lines);
    expect(lines.map((text) => Number(text.split(" ")[0]))).toEqual(Array.from({ length: 700 }, (_, i) => i));
    expect(readdirSync(dir).filter((name) => name.endsWith(".jsonl")).length).toBeLessThanOrEqual(1);
  });

  test("a new process goes on after the last acknowledgement; a line cut short by a crash is skipped", () => {
    const dir = spoolDir();
    const first = new LogSpool(dir);
    for (let i = 0; i < 5; i++) first.append(`line ${i}`, i);
    const sent = first.next()!;
    first.ack(partial(sent, 2)); // the first two lines were acknowledged before the crash
    first.close();
    const segment = readdirSync(dir).find((name) => name.endsWith(".jsonl"))!;
    appendFileSync(join(dir, segment), '{"t":9,"l":"half a li'); // the crash

    const second = new LogSpool(dir);
    second.append("after restart", 10);
    const lines = drain(second).flatMap((batch) => batch.lines);
    expect(lines).toEqual(["line 2", "line 3", "line 4", "after restart"]);
    expect(second.isEmpty()).toBe(true);
  });
});

describe("the cap", () => {
  const text = (i: number) => `line ${String(i).padStart(3, "0")}`;
  const RECORD_BYTES = `${JSON.stringify({ t: 1_000, l: text(0) })}\n`.length; // 26: 38 of them fit in 1,000 bytes

  test("a full spool drops lines until it drained to half, then a gap says how many", () => {
    const spool = new LogSpool(spoolDir(), 1_000);
    expect(RECORD_BYTES).toBe(26);
    for (let i = 0; i < 100; i++) spool.append(text(i), 1_000 + i);
    const [kept, ...none] = drain(spool);
    expect(none).toEqual([]);
    expect(kept!.lines).toEqual(Array.from({ length: 38 }, (_, i) => text(i)));
    spool.append(text(100), 1_100); // fits again: the gap is recorded before it
    const [afterGap, ...rest] = drain(spool);
    expect(rest).toEqual([]);
    expect(afterGap).toMatchObject({ droppedLines: 62, lines: [text(100)], lineTimes: [1_100] });
  });

  test("while dropping, lines are accepted again only once half the cap is free", () => {
    const spool = new LogSpool(spoolDir(), 1_000);
    for (let i = 0; i < 45; i++) spool.append(text(i), 1_000 + i); // 38 kept, 7 dropped
    const first = spool.next()!;
    spool.ack(partial(first, 10)); // 28 lines (728 bytes) still waiting: more than half the cap
    spool.append(text(45), 1_045); // dropped
    spool.append(text(46), 1_046); // dropped
    const second = spool.next()!;
    expect(second.lines).toHaveLength(28);
    spool.ack(second); // nothing waits now
    spool.append(text(47), 1_047);
    const [gap, ...rest] = drain(spool);
    expect(rest).toEqual([]);
    expect(gap).toMatchObject({ droppedLines: 9, lines: [text(47)] });
  });

  test("a gap at the end (the job ended while full) is a batch of its own with no lines", () => {
    const spool = new LogSpool(spoolDir(), 100);
    for (let i = 0; i < 10; i++) spool.append(`line ${i}`, i);
    spool.close();
    const batches = drain(spool);
    expect(batches.map((batch) => [batch.lines.length, batch.droppedLines])).toEqual([
      [4, undefined],
      [0, 6],
    ]);
    expect(spool.isEmpty()).toBe(true);
  });
});

/** The first `count` lines of a batch as a batch of their own (as if only they had been sent). */
function partial(batch: SpoolBatch, count: number): SpoolBatch {
  const bytes = batch.lines
    .slice(0, count)
    .reduce(
      (sum, line, index) => sum + Buffer.byteLength(`${JSON.stringify({ t: batch.lineTimes[index], l: line })}\n`),
      0,
    );
  const start = batch.end.offset - batch.bytes;
  return {
    lines: batch.lines.slice(0, count),
    lineTimes: batch.lineTimes.slice(0, count),
    end: { segment: batch.end.segment, offset: start + bytes },
    bytes,
  };
}
