/**
 * Group commit for local mode's journal. Commits are queued in memory as they happen (the engine
 * runs one transaction at a time on the only thread); one writer at a time takes everything
 * queued and writes it with one `write` that returns once the bytes are durable, off the event
 * loop. Whoever answers a client waits on `durable()` first, so nothing is acknowledged before
 * its bytes are on disk, and commits that arrive during a write share the next one.
 */
import { close, constants, openSync, write } from "node:fs";
import { journalLine } from "./journalFormat";

/** The journal file as the writer uses it; tests substitute a double that records the calls. */
export type JournalFile = {
  /** Appends all of `bytes` at the end of the file. */
  write(bytes: Uint8Array): Promise<void>;
  /** Makes every byte written so far durable (fdatasync; the real file's writes already are). */
  sync(): Promise<void>;
  close(): Promise<void>;
};

/** Opens (creating when missing) a journal file for appending. */
export type OpenJournalFile = (path: string) => JournalFile;

/**
 * The real journal file, opened with O_DSYNC: each `write` returns only once its bytes (and the
 * file size that reaches them) are on disk, as a write followed by fdatasync would, but in one
 * call on libuv's pool. A batch then needs one event-loop turn to become durable, not two (one
 * for the write's callback to issue the fdatasync, one for the fdatasync's), and turns are what
 * a commit waits for while the engine runs other transactions. `sync` has nothing left to do.
 */
export const openJournalFile: OpenJournalFile = (path) => {
  const fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_DSYNC, 0o600);
  return {
    async write(bytes) {
      let offset = 0;
      while (offset < bytes.length) {
        offset += await new Promise<number>((resolve, reject) =>
          write(fd, bytes, offset, bytes.length - offset, null, (error, written) =>
            error ? reject(error) : resolve(written),
          ),
        );
      }
    },
    sync: async () => undefined, // every write was already durable when it returned (O_DSYNC)
    close: () => new Promise((resolve, reject) => close(fd, (error) => (error ? reject(error) : resolve()))),
  };
};

type Waiter = { seq: number; resolve: () => void; reject: (error: unknown) => void };

export class GroupCommitWriter {
  private queue: Array<{ seq: number; body: string }> = [];
  private waiters: Waiter[] = [];
  private between: Array<{ run: () => Promise<void>; reject: (error: unknown) => void }> = [];
  /** Set and cleared synchronously with the emptiness check, so no append is ever left unwritten. */
  private active = false;
  private running: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | null = null;
  private appendedSeq: number;
  private durableSeq: number;

  /**
   * `lastSeq` is the sequence number of the last record already on disk. `onWritten` hears the
   * byte count of each durable batch; `onFailure` hears the first write or fsync error (after
   * which nothing more becomes durable).
   */
  constructor(
    public file: JournalFile,
    lastSeq: number,
    private readonly onWritten: (bytes: number, lastSeq: number) => void,
    private readonly onFailure: (error: unknown) => void,
  ) {
    this.appendedSeq = lastSeq;
    this.durableSeq = lastSeq;
  }

  get lastAppended(): number {
    return this.appendedSeq;
  }

  /** Queues one commit (its `commitBody`) and returns its sequence number. Never blocks. */
  append(body: string): number {
    const seq = ++this.appendedSeq;
    this.queue.push({ seq, body });
    this.kick();
    return seq;
  }

  /** Resolves once every record up to `seq` (default: the last appended) is on disk. */
  durable(seq = this.appendedSeq): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure.error);
    if (seq <= this.durableSeq) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ seq, resolve, reject }));
  }

  /**
   * Runs `task` between two batches, when everything written so far is durable and nothing is
   * in flight (the store switches files there). Resolves when it has run.
   */
  betweenBatches(task: () => Promise<void>): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure.error);
    return new Promise((resolve, reject) => {
      // A failed task is its caller's to handle; the journal goes on with the file it has.
      this.between.push({ run: () => task().then(resolve, reject), reject });
      this.kick();
    });
  }

  /** The sequence number the next written record will have (valid between batches). */
  get nextToWrite(): number {
    return this.durableSeq + 1;
  }

  /** Resolves when the queue is empty and nothing is in flight. */
  async idle(): Promise<void> {
    while (this.active) await this.running;
  }

  private kick() {
    if (this.active || this.failure !== null) return;
    this.active = true;
    this.running = this.run();
  }

  private async run(): Promise<void> {
    try {
      for (;;) {
        while (this.between.length > 0) await this.between.shift()!.run();
        if (this.queue.length === 0 && this.between.length === 0) {
          this.active = false;
          return;
        }
        if (this.queue.length === 0) continue;
        const batch = this.queue;
        this.queue = [];
        const first = batch[0]!.seq;
        const last = batch[batch.length - 1]!.seq;
        let text = "";
        for (const record of batch) text += journalLine(record.seq, first, record.body);
        const bytes = Buffer.from(text, "utf8");
        await this.file.write(bytes);
        await this.file.sync();
        this.durableSeq = last;
        this.onWritten(bytes.length, last);
        this.release();
      }
    } catch (error) {
      this.active = false;
      this.fail(error);
    }
  }

  private release() {
    const still: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (waiter.seq <= this.durableSeq) waiter.resolve();
      else still.push(waiter);
    }
    this.waiters = still;
  }

  private fail(error: unknown) {
    if (this.failure !== null) return;
    this.failure = { error };
    this.onFailure(error);
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
    this.queue = [];
    for (const task of this.between.splice(0)) task.reject(error);
  }
}
