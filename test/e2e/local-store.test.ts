// @vitest-environment node
/** Local mode's journal store, data-directory checks and lock, without any server. */
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { LocalDataError, lockDataDir, prepareDataDir } from "../../scripts/local/data-dir";
import { openJournalStore, type CommitEntry } from "../../scripts/local/store";
import { makeTempDir, removeTempDirs } from "../support/local-process";

afterAll(removeTempDirs);

function entry(n: number, writes: CommitEntry["writes"]): CommitEntry {
  return { writes, nextDocId: n, lastCreationTime: n * 10 };
}
const doc = (id: string, value: number) => ({ _id: id, _creationTime: 1, value });

describe("journal store", () => {
  test("replays appended entries in order, deletes included", () => {
    const dir = makeTempDir();
    const store = openJournalStore(dir);
    expect(store.state.documents.size).toBe(0);
    store.append(
      entry(10001, [
        ["a", doc("a", 1)],
        ["b", doc("b", 1)],
      ]),
    );
    store.append(
      entry(10002, [
        ["a", doc("a", 2)],
        ["b", null],
      ]),
    );
    store.close();

    const reopened = openJournalStore(dir);
    expect([...reopened.state.documents.entries()]).toEqual([["a", doc("a", 2)]]);
    expect(reopened.state.nextDocId).toBe(10002);
    expect(reopened.state.lastCreationTime).toBe(100020);
    reopened.close();
  });

  test("drops a torn last line, truncates it, and appends cleanly after it", () => {
    const dir = makeTempDir();
    const logs: string[] = [];
    const store = openJournalStore(dir);
    store.append(entry(10001, [["a", doc("a", 1)]]));
    store.close();
    const journal = join(dir, "journal.jsonl");
    const intact = statSync(journal).size;
    appendFileSync(journal, '{"n":10002,"c":1,"w":[["b",{"_id":"b"');

    const reopened = openJournalStore(dir, { log: (message) => logs.push(message) });
    expect([...reopened.state.documents.keys()]).toEqual(["a"]);
    expect(logs.join("\n")).toMatch(/torn/);
    expect(statSync(journal).size).toBe(intact);
    reopened.append(entry(10003, [["c", doc("c", 1)]]));
    reopened.close();
    expect([...openJournalStore(dir).state.documents.keys()]).toEqual(["a", "c"]);
  });

  test("a complete entry missing only its newline was never acknowledged and is dropped", () => {
    const dir = makeTempDir();
    writeFileSync(
      join(dir, "journal.jsonl"),
      '{"n":1,"c":1,"w":[["a",{"_id":"a"}]]}\n{"n":2,"c":1,"w":[["b",{"_id":"b"}]]}',
    );
    expect([...openJournalStore(dir).state.documents.keys()]).toEqual(["a"]);
  });

  test("a corrupt line followed by valid entries refuses to open", () => {
    const dir = makeTempDir();
    writeFileSync(join(dir, "journal.jsonl"), 'garbage\n{"n":1,"c":1,"w":[]}\n');
    expect(() => openJournalStore(dir)).toThrow(LocalDataError);
    expect(() => openJournalStore(dir)).toThrow(/line 1 is corrupt/);
  });

  test("compaction writes a snapshot, empties the journal and keeps the state", () => {
    const dir = makeTempDir();
    const store = openJournalStore(dir);
    store.append(
      entry(10001, [
        ["a", doc("a", 1)],
        ["b", doc("b", 1)],
        ["c", doc("c", 1)],
      ]),
    );
    store.append(entry(10002, [["b", null]]));
    store.close();
    const journalBefore = readFileSync(join(dir, "journal.jsonl"));

    const compacted = openJournalStore(dir, { compactAboveBytes: 10 });
    compacted.close();
    expect(statSync(join(dir, "journal.jsonl")).size).toBe(0);
    expect(existsSync(join(dir, "snapshot.jsonl"))).toBe(true);
    const after = openJournalStore(dir);
    expect([...after.state.documents.keys()].sort()).toEqual(["a", "c"]);
    expect(after.state.nextDocId).toBe(10002);
    after.close();

    // A crash between the snapshot rename and the journal truncate replays old entries again.
    writeFileSync(join(dir, "journal.jsonl"), journalBefore);
    const replayedTwice = openJournalStore(dir);
    expect([...replayedTwice.state.documents.keys()].sort()).toEqual(["a", "c"]);
    replayedTwice.close();
  });

  test("stores blobs durably and removes orphans when compacting", () => {
    const dir = makeTempDir();
    const store = openJournalStore(dir);
    store.append(
      entry(3, [
        ["1_storage", { _id: "1_storage" }],
        ["2_storage", { _id: "2_storage" }],
      ]),
    );
    store.saveFile("1_storage", new TextEncoder().encode("hello"), "text/plain");
    store.saveFile("2_storage", new Uint8Array([1, 2, 3]), "");
    store.append(entry(3, [["2_storage", null]]));
    const saved = store.loadFile("1_storage")!;
    expect(new TextDecoder().decode(saved.bytes)).toBe("hello");
    expect(saved.contentType).toBe("text/plain");
    expect(store.loadFile("missing")).toBeNull();
    store.close();

    openJournalStore(dir, { compactAboveBytes: 1 }).close();
    expect(existsSync(join(dir, "files", "1_storage"))).toBe(true);
    expect(existsSync(join(dir, "files", "2_storage"))).toBe(false);
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
