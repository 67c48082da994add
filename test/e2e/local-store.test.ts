// @vitest-environment node
/** Local mode's journal store, data-directory checks and lock, without any server. */
import { spawnSync } from "node:child_process";
import {
  appendFileSync,
  constants,
  existsSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { LocalDataError, lockDataDir, prepareDataDir } from "../../scripts/local/data-dir";
import { openJournalFile, type JournalFile } from "../../scripts/local/journalWriter";
import { openJournalStore, type CommitEntry, type JournalStore, type JsonDocument } from "../../scripts/local/store";
import { makeTempDir, removeTempDirs } from "../support/local-process";

afterAll(removeTempDirs);

function entry(n: number, writes: CommitEntry["writes"]): CommitEntry {
  return { writes, nextDocId: n, lastCreationTime: n * 10 };
}
const doc = (id: string, value: number) => ({ _id: id, _creationTime: 1, value });
const segments = (dir: string) =>
  readdirSync(dir)
    .filter((name) => /^journal-\d+\.jsonl$/.test(name))
    .sort();
const newestSegment = (dir: string) => join(dir, segments(dir).at(-1)!);

/** Gives the store a snapshot source that mirrors what was appended (the engine's role). */
function trackLive(store: JournalStore) {
  const live = new Map(store.state.documents);
  let counters = { nextDocId: store.state.nextDocId, lastCreationTime: store.state.lastCreationTime };
  store.setSnapshotSource(() => {
    const documents = [...live.values()];
    return { ...counters, count: documents.length, documents: documents.values() };
  });
  return (commit: CommitEntry) => {
    for (const [id, document] of commit.writes) {
      if (document === null) live.delete(id);
      else live.set(id, document);
    }
    counters = { nextDocId: commit.nextDocId, lastCreationTime: commit.lastCreationTime };
    return store.append(commit);
  };
}

/** A journal file that records every call, and can hold fsyncs until released or fail writes. */
/** Waits for the next fsync to start (and be held): its write may take a while on a loaded machine. */
async function untilSyncHeld(files: { heldCount: () => number }) {
  const deadline = Date.now() + 60_000;
  while (files.heldCount() === 0) {
    if (Date.now() > deadline) throw new Error("the next fsync never started");
    await tick(5);
  }
}

function recordingFiles(options: { holdSyncs?: boolean; failWrite?: (count: number) => Error | null } = {}) {
  const events: string[] = [];
  let held: Array<() => void> = [];
  let writes = 0;
  const open = (path: string): JournalFile => {
    const real = openJournalFile(path);
    return {
      async write(bytes) {
        writes += 1;
        const failure = options.failWrite?.(writes) ?? null;
        const seqs = [
          ...Buffer.from(bytes)
            .toString("utf8")
            .matchAll(/\{"s":(\d+)/g),
        ].map((match) => match[1]);
        if (failure !== null) {
          events.push(`write failed ${seqs.join(",")}`);
          throw failure;
        }
        events.push(`write ${seqs.join(",")}`);
        await real.write(bytes);
      },
      async sync() {
        events.push("fsync start");
        if (options.holdSyncs) await new Promise<void>((resolve) => held.push(resolve));
        await real.sync();
        events.push("fsync done");
      },
      close: () => real.close(),
    };
  };
  return {
    open,
    events,
    heldCount: () => held.length,
    release() {
      const waiting = held;
      held = [];
      for (const resolve of waiting) resolve();
    },
  };
}

const tick = (ms = 20) => new Promise((resolve) => setTimeout(resolve, ms));

describe("journal store", () => {
  test("replays appended entries in order, deletes included; every record carries a checksum", async () => {
    const dir = makeTempDir();
    const store = openJournalStore(dir);
    expect(store.state.documents.size).toBe(0);
    const first = store.append(
      entry(10001, [
        ["a", doc("a", 1)],
        ["b", doc("b", 1)],
      ]),
    );
    const second = store.append(
      entry(10002, [
        ["a", doc("a", 2)],
        ["b", null],
      ]),
    );
    expect([first, second]).toEqual([1, 2]);
    await store.durable();
    await store.close();
    const lines = readFileSync(newestSegment(dir), "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).toMatch(/^[0-9a-f]{8} \{"s":\d+,"b":\d+,"n":/);

    const reopened = openJournalStore(dir);
    expect([...reopened.state.documents.entries()]).toEqual([["a", doc("a", 2)]]);
    expect(reopened.state.nextDocId).toBe(10002);
    expect(reopened.state.lastCreationTime).toBe(100020);
    expect(reopened.append(entry(10003, []))).toBe(3); // the sequence goes on
    await reopened.close();
  });

  test("group commit: commits made during an fsync share the next one, and none is answered before its fsync", async () => {
    const files = recordingFiles({ holdSyncs: true });
    const store = openJournalStore(makeTempDir(), { openJournalFile: files.open });
    const answered: Promise<void>[] = [];
    const commit = (name: string, n: number) => {
      store.append(entry(n, [[name, doc(name, n)]]));
      // What a server does before it answers: wait for everything appended so far.
      answered.push(store.durable().then(() => void files.events.push(`answer ${name}`)));
    };
    commit("a", 1);
    await tick();
    expect(files.events).toEqual(["write 1", "fsync start"]);
    commit("b", 2);
    commit("c", 3);
    commit("d", 4);
    await tick();
    expect(files.events).toEqual(["write 1", "fsync start"]); // nothing answered, nothing else written
    files.release();
    await untilSyncHeld(files);
    await tick();
    // The three waiting commits go out in one write; only "a" (fsynced) is answered meanwhile.
    const midway = [...files.events];
    expect(midway.filter((event) => event !== "answer a")).toEqual([
      "write 1",
      "fsync start",
      "fsync done",
      "write 2,3,4",
      "fsync start",
    ]);
    expect(midway.indexOf("answer a")).toBeGreaterThan(midway.indexOf("fsync done"));
    files.release();
    await Promise.all(answered);
    expect(files.events.slice(-4)).toEqual(["fsync done", "answer b", "answer c", "answer d"]);
    expect(files.events.filter((event) => event === "fsync done")).toHaveLength(2); // 4 commits, 2 fsyncs
    await store.close();
  });

  test("the real journal file is opened O_DSYNC, so each write is durable when it returns, and it appends", async () => {
    const path = join(makeTempDir(), "journal-1.jsonl");
    writeFileSync(path, "before\n");
    const file = openJournalFile(path);
    try {
      // Linux names every open descriptor in /proc; its fdinfo has the open flags in octal.
      const fd = readdirSync("/proc/self/fd").find((n) => {
        try {
          return readlinkSync(`/proc/self/fd/${n}`) === path;
        } catch {
          return false;
        }
      });
      expect(fd).toBeDefined();
      const flags = Number.parseInt(
        /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))![1]!,
        8,
      );
      expect(flags & constants.O_DSYNC).toBe(constants.O_DSYNC);
      expect(flags & constants.O_APPEND).toBe(constants.O_APPEND);
      await file.write(Buffer.from("after\n"));
      await file.sync();
      expect(readFileSync(path, "utf8")).toBe("before\nafter\n");
    } finally {
      await file.close();
    }
  });

  test("a write the disk refuses (disk full) is never acknowledged; what was acknowledged survives", async () => {
    const dir = makeTempDir();
    const failures: unknown[] = [];
    const full = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    const files = recordingFiles({ failWrite: (count) => (count >= 2 ? full : null) });
    const store = openJournalStore(dir, { openJournalFile: files.open });
    store.onFailure((error) => failures.push(error));
    store.append(entry(1, [["kept", doc("kept", 1)]]));
    await store.durable();
    store.append(entry(2, [["lost", doc("lost", 1)]]));
    await expect(store.durable()).rejects.toThrow(/ENOSPC/);
    store.append(entry(3, [["after", doc("after", 1)]]));
    await expect(store.durable()).rejects.toThrow(/ENOSPC/); // nothing becomes durable after a failure
    expect(failures).toEqual([full]);
    await store.close();
    expect([...openJournalStore(dir).state.documents.keys()]).toEqual(["kept"]);
  });

  test("a torn last record is cut off, logged, and appends go on after it", async () => {
    const dir = makeTempDir();
    const store = openJournalStore(dir);
    store.append(entry(10001, [["a", doc("a", 1)]]));
    await store.close();
    const journal = newestSegment(dir);
    const intact = statSync(journal).size;
    appendFileSync(journal, '3a1b2c3d {"s":2,"b":2,"n":10002,"c":1,"w":[["b",{"_id":"b"');

    const logs: string[] = [];
    const reopened = openJournalStore(dir, { log: (message) => logs.push(message) });
    expect([...reopened.state.documents.keys()]).toEqual(["a"]);
    expect(logs.join("\n")).toMatch(/torn last journal write .* from record 2/);
    expect(statSync(journal).size).toBe(intact);
    reopened.append(entry(10003, [["c", doc("c", 1)]]));
    await reopened.close();
    expect([...openJournalStore(dir).state.documents.keys()]).toEqual(["a", "c"]);
  });

  test("damage inside the last write batch is a torn write: the batch is cut from the damaged record", async () => {
    const dir = makeTempDir();
    const files = recordingFiles({ holdSyncs: true });
    const store = openJournalStore(dir, { openJournalFile: files.open });
    store.append(entry(1, [["first", doc("first", 1)]]));
    await tick();
    for (const name of ["x", "y", "z"]) store.append(entry(2, [[name, doc(name, 1)]]));
    files.release();
    await untilSyncHeld(files);
    files.release();
    await store.durable();
    await store.close();
    expect(files.events).toContain("write 2,3,4");
    // A crash wrote the batch's pages out of order: record 3 never reached the disk.
    const path = newestSegment(dir);
    const lines = readFileSync(path, "utf8").split("\n");
    lines[2] = "\0".repeat(lines[2]!.length);
    writeFileSync(path, lines.join("\n"));

    const logs: string[] = [];
    const reopened = openJournalStore(dir, { log: (message) => logs.push(message) });
    expect([...reopened.state.documents.keys()]).toEqual(["first", "x"]);
    expect(logs.join("\n")).toMatch(/torn last journal write .* from record 3/);
    await reopened.close();
  });

  test("a damaged record with later writes after it refuses the start with its number; nothing is changed", async () => {
    const dir = makeTempDir();
    const store = openJournalStore(dir);
    for (let i = 1; i <= 3; i++) {
      store.append(entry(i, [[`d${i}`, doc(`d${i}`, i)]]));
      await store.durable(); // separate batches
    }
    await store.close();
    const path = newestSegment(dir);
    const before = readFileSync(path, "utf8");
    const damaged = before.replace('"value":2', '"value":7'); // the checksum no longer matches
    writeFileSync(path, damaged);

    const refusal = (() => {
      try {
        openJournalStore(dir);
      } catch (error) {
        return error;
      }
    })();
    expect(refusal).toBeInstanceOf(LocalDataError);
    expect((refusal as Error).message).toMatch(/record 2 \(line 2\) is damaged \(checksum mismatch\)/);
    expect((refusal as Error).message).toMatch(/Restore the data directory from a backup, or move it away/);
    expect(readFileSync(path, "utf8")).toBe(damaged);

    // A record of the right shape but the wrong content is refused just the same.
    writeFileSync(path, before.split("\n")[0] + "\n" + before.split("\n")[2] + "\n");
    expect(() => openJournalStore(dir)).toThrow(/record 2 \(line 2\) is damaged \(sequence number 3, expected 2\)/);
  });

  test("compaction while running: snapshot, new segment, old segments gone; the state is the same after reopening", async () => {
    const dir = makeTempDir();
    const store = openJournalStore(dir, { compactAboveBytes: 1 });
    const append = trackLive(store);
    append(
      entry(10001, [
        ["a", doc("a", 1)],
        ["b", doc("b", 1)],
        ["c", doc("c", 1)],
      ]),
    );
    append(entry(10002, [["b", null]]));
    await store.durable();
    await store.compact();
    append(entry(10003, [["d", doc("d", 1)]])); // after the snapshot: in the new segment
    await store.close();
    expect(segments(dir)).toEqual(["journal-000000000003.jsonl"]);
    const snapshot = readFileSync(join(dir, "snapshot.jsonl"), "utf8").split("\n");
    expect(snapshot[0]).toMatch(/^[0-9a-f]{8} \{"format":"ias-local-snapshot","version":2,"seq":2,/);

    const after = openJournalStore(dir);
    expect([...after.state.documents.keys()].sort()).toEqual(["a", "c", "d"]);
    expect(after.state.nextDocId).toBe(10003);
    await after.close();
  });

  test("a crash between the snapshot rename and removing old segments loses nothing and replays nothing twice", async () => {
    const dir = makeTempDir();
    const store = openJournalStore(dir);
    const append = trackLive(store);
    append(entry(1, [["a", doc("a", 1)]]));
    await store.durable();
    await store.close();
    const oldSegment = readFileSync(newestSegment(dir));
    const again = openJournalStore(dir);
    const appendAgain = trackLive(again);
    appendAgain(entry(2, [["a", doc("a", 2)]]));
    await again.compact();
    appendAgain(entry(3, [["b", doc("b", 1)]]));
    await again.close();
    // Put the retired segment back, as if the crash came before its removal.
    writeFileSync(join(dir, "journal-000000000001.jsonl"), oldSegment);
    const reopened = openJournalStore(dir);
    expect(reopened.state.documents.get("a")).toEqual(doc("a", 2));
    expect([...reopened.state.documents.keys()].sort()).toEqual(["a", "b"]);
    expect(segments(dir)).not.toContain("journal-000000000001.jsonl");
    await reopened.close();
  });

  test("a missing segment refuses the start", async () => {
    const dir = makeTempDir();
    const store = openJournalStore(dir);
    store.append(entry(1, [["a", doc("a", 1)]]));
    await store.close();
    writeFileSync(join(dir, "journal-000000000005.jsonl"), "");
    expect(() => openJournalStore(dir)).toThrow(/missing records 2 to 4/);
  });

  test("stores blobs durably; blobs whose _storage row is gone are removed at start", async () => {
    const dir = makeTempDir();
    const store = openJournalStore(dir);
    store.append(
      entry(3, [
        ["1_storage", { _id: "1_storage" }],
        ["2_storage", { _id: "2_storage" }],
      ]),
    );
    await store.saveFile("1_storage", new TextEncoder().encode("hello"), "text/plain");
    await store.saveFile("2_storage", new Uint8Array([1, 2, 3]), "");
    store.append(entry(3, [["2_storage", null]]));
    const saved = store.loadFile("1_storage")!;
    expect(new TextDecoder().decode(saved.bytes)).toBe("hello");
    expect(saved.contentType).toBe("text/plain");
    expect(store.loadFile("missing")).toBeNull();
    await store.close();

    await openJournalStore(dir).close();
    expect(existsSync(join(dir, "files", "1_storage"))).toBe(true);
    expect(existsSync(join(dir, "files", "2_storage"))).toBe(false);
  });
});

describe("a data directory of the previous version (no checksums, journal.jsonl, snapshot version 1)", () => {
  // Byte for byte what the previous store wrote.
  const legacySnapshot = (documents: JsonDocument[]) =>
    [
      JSON.stringify({
        format: "ias-local-snapshot",
        version: 1,
        nextDocId: 10005,
        lastCreationTime: 50,
        count: documents.length,
      }),
      ...documents.map((document) => JSON.stringify(document)),
      "",
    ].join("\n");
  const legacyLine = (n: number, writes: CommitEntry["writes"]) => JSON.stringify({ n, c: n * 10, w: writes }) + "\n";

  test("loads, keeps appending, and is upgraded by the first compaction", async () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, "snapshot.jsonl"), legacySnapshot([doc("a", 1), doc("b", 1)]));
    writeFileSync(
      join(dir, "journal.jsonl"),
      legacyLine(10006, [["a", doc("a", 2)]]) + legacyLine(10007, [["b", null]]),
    );
    const store = openJournalStore(dir);
    expect([...store.state.documents.entries()]).toEqual([["a", doc("a", 2)]]);
    expect(store.state.nextDocId).toBe(10007);
    const append = trackLive(store);
    append(entry(10008, [["c", doc("c", 1)]]));
    await store.durable();
    await store.close();

    const reopened = openJournalStore(dir);
    expect([...reopened.state.documents.keys()]).toEqual(["a", "c"]);
    const appendAgain = trackLive(reopened);
    await reopened.compact();
    appendAgain(entry(10009, [["d", doc("d", 1)]]));
    await reopened.close();
    expect(existsSync(join(dir, "journal.jsonl"))).toBe(false);
    expect(readFileSync(join(dir, "snapshot.jsonl"), "utf8")).toMatch(
      /^[0-9a-f]{8} \{"format":"ias-local-snapshot","version":2/,
    );
    expect([...openJournalStore(dir).state.documents.keys()]).toEqual(["a", "c", "d"]);
  });

  test("its torn last line is still dropped, a complete entry without its newline too", () => {
    const dir = makeTempDir();
    writeFileSync(
      join(dir, "journal.jsonl"),
      legacyLine(1, [["a", { _id: "a" }]]) + legacyLine(2, [["b", { _id: "b" }]]).trimEnd(),
    );
    const logs: string[] = [];
    expect([...openJournalStore(dir, { log: (message) => logs.push(message) }).state.documents.keys()]).toEqual(["a"]);
    expect(logs.join("\n")).toMatch(/torn last journal line/);
  });

  test("its corrupt line followed by valid entries refuses to open", () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, "journal.jsonl"), 'garbage\n{"n":1,"c":1,"w":[]}\n');
    expect(() => openJournalStore(dir)).toThrow(LocalDataError);
    expect(() => openJournalStore(dir)).toThrow(/line 1 is corrupt/);
  });

  test("a damaged snapshot refuses to open with its line", () => {
    const dir = makeTempDir();
    writeFileSync(
      join(dir, "snapshot.jsonl"),
      legacySnapshot([doc("a", 1), doc("b", 1)]).replace('{"_id":"b"', '{"_id":"b'),
    );
    expect(() => openJournalStore(dir)).toThrow(/snapshot\.jsonl is damaged at line 3/);
  });
});

describe("data directory", () => {
  test("a path that is a file is refused with a clear message", () => {
    const file = join(makeTempDir(), "not-a-dir");
    writeFileSync(file, "x");
    expect(() => prepareDataDir(file)).toThrow(/not a directory/);
  });

  test("the lock refuses a second holder and takes over a dead owner's lock", () => {
    const dir = makeTempDir();
    const release = lockDataDir(dir);
    writeFileSync(join(dir, "LOCK"), `${process.ppid}\n`); // a live process that is not us
    expect(() => lockDataDir(dir)).toThrow(/in use by another local server/);

    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString();
    writeFileSync(join(dir, "LOCK"), `${dead}\n`);
    const releaseAgain = lockDataDir(dir);
    expect(readFileSync(join(dir, "LOCK"), "utf8").trim()).toBe(String(process.pid));
    releaseAgain();
    expect(existsSync(join(dir, "LOCK"))).toBe(false);
    release(); // already released: harmless
  });
});
