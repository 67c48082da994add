/**
 * Streams a job's output lines to `/v1/jobs/log` in batches the route accepts (≤ 500 lines,
 * ≤ 64 KiB counting a newline per line), one request at a time, at most once a second while
 * lines keep coming. A child that prints faster than the server takes lines loses the excess,
 * with a marker line, rather than growing the worker's memory without bound.
 */
import { MAX_LOG_BYTES, MAX_LOG_LINES } from "../../convex/model/jobs";

/** A single line longer than this is cut (a minified file must not take a whole batch). */
export const MAX_LINE_BYTES = 8 * 1024;
const MAX_PENDING_LINES = 20_000;
const encoder = new TextEncoder();

export function truncateLine(line: string, maxBytes = MAX_LINE_BYTES): string {
  const bytes = encoder.encode(line);
  if (bytes.length <= maxBytes) return line;
  const marker = " …[truncated]";
  // Decoding a cut UTF-8 sequence yields U+FFFD; drop it rather than send a broken character.
  const head = new TextDecoder()
    .decode(bytes.slice(0, maxBytes - encoder.encode(marker).length))
    .replace(/\uFFFD$/, "");
  return head + marker;
}

/** How many of `pending`'s first lines fit in one request (at least one line if any). */
export function batchSize(pending: readonly string[], maxLines = MAX_LOG_LINES, maxBytes = MAX_LOG_BYTES): number {
  let bytes = 0;
  let count = 0;
  for (const line of pending) {
    const size = encoder.encode(line).length + 1;
    if (count === maxLines || (count > 0 && bytes + size > maxBytes)) break;
    bytes += size;
    count++;
  }
  return count;
}

export type LogBatcherOptions = {
  send: (lines: string[]) => Promise<void>;
  /** A batch that could not be sent; its lines are dropped. */
  onError: (error: unknown) => void;
  flushIntervalMs?: number;
};

export class LogBatcher {
  private pending: string[] = [];
  private dropped = 0;
  private sending: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: LogBatcherOptions) {}

  push(line: string) {
    if (this.pending.length >= MAX_PENDING_LINES) {
      this.dropped++;
      return;
    }
    this.pending.push(truncateLine(line));
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.options.flushIntervalMs ?? 1_000);
  }

  /** Sends everything pushed so far; resolves when it is all on the server (or dropped). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.sending = this.sending.then(() => this.drainPending());
    return this.sending;
  }

  private async drainPending() {
    if (this.dropped > 0) {
      this.pending.push(
        `[ias] ${this.dropped} output line(s) dropped: the job printed faster than they could be sent.`,
      );
      this.dropped = 0;
    }
    while (this.pending.length > 0) {
      const lines = this.pending.splice(0, batchSize(this.pending));
      try {
        await this.options.send(lines);
      } catch (error) {
        this.options.onError(error);
      }
    }
  }
}
