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

describe("today's claim directory", () => {
  test.each([
    ["claim / claim", "different repos", /jobQueues/],
    ["claim / enqueue", "different repos", /jobQueues/],
    ["claim / claim (the same head job)", "same repo", /jobs|jobQueues/],
    ["claim / enqueue (behind the head)", "same repo", /jobQueues/],
    ["claim / enqueue (ahead of the head)", "same repo", /jobQueues|jobs\.by_queue/],
  ] as const)("%s on %s conflict", (pair, scope, reason) => {
    expect(verdict(pair, scope)).toMatch(reason);
  });

  test.each([
    ["enqueue / enqueue", "different repos"],
    ["heartbeat / claim", "different repos"],
    ["complete / claim", "different repos"],
    ["enqueue / enqueue", "same repo"],
    ["heartbeat / claim", "same repo"],
    ["complete / claim", "same repo"],
  ] as const)("%s on %s do not conflict", (pair, scope) => {
    expect(verdict(pair, scope)).toBeNull();
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

  test("a document read by id conflicts with any write of it", () => {
    const reader = { reads: readSetOf([{ kind: "get", id: "3jobs" }], fields), writes: [] };
    expect(conflictOf(reader, write(after))).toMatch(/read by id/);
    expect(conflictOf(reader, write(before))).toBeNull();
  });
});
