/**
 * SPEC §6 "Concurrency on Convex", shown rather than argued: pairs of hot calls run from the same
 * state with their read and write sets recorded, judged by Convex's OCC rule
 * (scripts/bench/conflict-matrix.ts, scripts/bench/occ.ts; `npm run bench -- conflicts` prints it).
 */
import { beforeAll, describe, expect, test } from "vitest";
import { conflictMatrix, type PairResult } from "../scripts/bench/conflict-matrix";
import { conflictOf, readSetOf } from "../scripts/bench/occ";
import { newConvex } from "./support/harness";

let matrix: PairResult[];
beforeAll(async () => {
  matrix = await conflictMatrix(newConvex());
}, 60_000);

const verdict = (pair: string, scope: PairResult["scope"]) =>
  matrix.find((row) => row.pair === pair && row.scope === scope)!.conflict;

describe("claims walk the jobs' own index: nothing shared", () => {
  test.each(["claim / claim", "claim / enqueue", "enqueue / enqueue", "heartbeat / claim", "complete / claim"])(
    "%s on different repos do not conflict",
    (pair) => {
      expect(verdict(pair, "different repos")).toBeNull();
    },
  );

  test("no pair across repos conflicts", () => {
    expect(matrix.filter((row) => row.scope === "different repos" && row.conflict !== null)).toEqual([]);
  });

  test.each([
    ["claim / enqueue (behind the head)", "same repo"],
    ["enqueue / enqueue", "same repo"],
    ["heartbeat / claim", "same repo"],
    ["complete / claim", "same repo"],
  ] as const)("%s on the %s do not conflict: they do not race for a job", (pair, scope) => {
    expect(verdict(pair, scope)).toBeNull();
  });

  test("two claims racing for the same head job conflict on that job", () => {
    expect(verdict("claim / claim (the same head job)", "same repo")).toMatch(/^jobs /);
  });

  test("a claim reads every stream head of its repos in passing, so claims of two streams of one repo conflict", () => {
    // The plain worker's walk reads the head of the gpu stream to step past it (docs/semantics.md).
    expect(verdict("claim / claim (heads of two streams)", "same repo")).toBe("jobs.by_queue range");
  });

  test("an enqueue ahead of the head conflicts with a claim: the claim must see the better job", () => {
    expect(verdict("claim / enqueue (ahead of the head)", "same repo")).toBe("jobs.by_queue range");
  });
});

describe("the metrics counters: moves of different jobs never meet on a counter document", () => {
  const COUNTER_TABLES = /jobCounters|jobCounterDeltas/;

  test.each([
    ["complete / complete", "different repos"],
    ["complete / enqueue", "different repos"],
    ["enqueue / enqueue", "different repos"],
    ["complete / claim", "different repos"],
    ["complete / complete (different jobs)", "same repo"],
    ["complete / enqueue", "same repo"],
    ["enqueue / enqueue", "same repo"],
    ["claim / complete (different jobs)", "same repo"],
    ["complete / claim", "same repo"],
  ] as const)("%s on the %s do not conflict", (pair, scope) => {
    expect(verdict(pair, scope)).toBeNull();
  });

  test("no pair conflicts through a counter document, whatever the scope", () => {
    // Each move inserts its delta and reads no counter document (a shard 1 in 16 pairs shared before).
    expect(matrix.filter((row) => COUNTER_TABLES.test(row.conflict ?? ""))).toEqual([]);
  });

  test.each(["rollup / enqueue", "rollup / claim", "rollup / complete", "rollup / heartbeat"])(
    "%s: the rollup folding settled deltas does not conflict with a move beside it",
    (pair) => {
      expect(verdict(pair, "beside the rollup")).toBeNull();
    },
  );
});

describe("concurrency keys (SPEC §6 Concurrency): only calls of the same key share its document", () => {
  test.each([
    "enqueue (key with room) / enqueue (another key)",
    "enqueue (key with room) / claim",
    "enqueue (full key) / claim",
    "complete (keyed) / claim",
    "complete (keyed) / enqueue (another key)",
  ])("%s on different repos do not conflict", (pair) => {
    expect(verdict(pair, "different repos")).toBeNull();
  });

  test("an enqueue of a full key does not conflict with a claim in the same repo: its job is outside the claim range", () => {
    expect(verdict("enqueue (full key) / claim", "same repo")).toBeNull();
  });

  test("a keyed completion shares nothing of the key or the queue with a claim in the same repo", () => {
    expect(verdict("complete (keyed) / claim", "same repo")).toBeNull();
  });

  test("two enqueues of a key with room serialize on the key's document (the intended serialization), even across repos", () => {
    expect(verdict("enqueue / enqueue (key with room)", "same concurrency key")).toMatch(/^concurrencyKeys/);
  });

  test("two enqueues of a full key only read its document, so they do not conflict", () => {
    expect(verdict("enqueue / enqueue (full key)", "same concurrency key")).toBeNull();
  });

  test("a keyed completion never touches the key's document: it does not conflict with an enqueue of that key", () => {
    expect(verdict("complete (keyed) / enqueue", "same concurrency key")).toBeNull();
  });
});

describe("the OCC model", () => {
  const query = (limit?: number) => ({
    kind: "query" as const,
    query: {
      source: {
        type: "IndexRange" as const,
        indexName: "jobs.by_queue",
        range: [{ type: "Eq" as const, fieldPath: "repoId", value: "r1" }],
        order: "asc" as const,
      },
      operators: limit === undefined ? [] : [{ limit }],
    },
    returned: [{ _id: "2jobs", _creationTime: 2, repoId: "r1", priority: 1 }],
    done: limit === undefined,
  });
  const fields = () => ["repoId", "priority", "_creationTime", "_id"];
  const write = (doc: Record<string, any>) => ({
    reads: { ids: new Set<string>(), intervals: [] },
    writes: [{ id: doc._id, previous: undefined, current: doc }],
  });
  const before = { _id: "1jobs", _creationTime: 3, repoId: "r1", priority: 0 };
  const after = { _id: "3jobs", _creationTime: 4, repoId: "r1", priority: 5 };
  const otherRepo = { _id: "4jobs", _creationTime: 5, repoId: "r2", priority: 0 };

  test("a query that stopped at its limit read up to its last document; one that ran out read its range", () => {
    const first = { reads: readSetOf([query(1)], fields), writes: [] };
    expect(conflictOf(first, write(before))).toMatch(/by_queue/);
    expect(conflictOf(first, write(after))).toBeNull();
    const whole = { reads: readSetOf([query()], fields), writes: [] };
    expect(conflictOf(whole, write(after))).toMatch(/by_queue/);
    expect(conflictOf(whole, write(otherRepo))).toBeNull();
  });

  test("a document read by id conflicts with any write of it; an insert's fresh id cannot have been read", () => {
    const reader = { reads: readSetOf([{ kind: "get", id: "3jobs" }], fields), writes: [] };
    const update = (doc: Record<string, any>) => ({
      reads: { ids: new Set<string>(), intervals: [] },
      writes: [{ id: doc._id, previous: doc, current: { ...doc, priority: 9 } }],
    });
    expect(conflictOf(reader, update(after))).toMatch(/read by id/);
    expect(conflictOf(reader, update(before))).toBeNull();
    // convex-test hands out sequential ids, so a call recorded after a rolled-back one may "read" an id
    // the other inserts (its scheduled function firing); on Convex that id is new to everyone.
    expect(conflictOf(reader, write(after))).toBeNull();
  });
});
