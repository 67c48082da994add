// @vitest-environment node
/**
 * The local engine's ordered index walk (scripts/local/indexes.ts, orderedWalk.ts, sortedIndex.ts)
 * must change nothing but cost: on random data, random index-range and full-table queries
 * (eq/gt/gte/lt/lte bounds, asc/desc, first/take/collect/paginate, `.filter()`, the open transaction's own
 * inserts, patches and deletes) give exactly plain convex-test's answers in the same order, and
 * they visit only the documents they return (the walk counter fails if they stop going through it).
 */
import { convexTest } from "convex-test";
import { afterAll, expect, test, vi } from "vitest";
import { compareValues, type Value } from "convex/values";
import { SortedIndex, compareFieldValues, type Document, type Slot } from "../../scripts/local/sortedIndex";
import { openEngine } from "../support/local-engine";
import { CONVEX_TEST_OPTIONS } from "../support/harness";
import { makeTempDir, removeTempDirs } from "../support/local-process";

afterAll(removeTempDirs);

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number) {
  const next = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  return Object.assign(next, { below: (n: number) => Math.floor(next() * n), chance: (p: number) => next() < p });
}

test("SortedIndex keeps entries in key order through inserts, removals, chunk splits and merges", () => {
  const next = random(7);
  const documents = new Map<string, Slot>();
  const key = (d: Document) => [d.a ?? -1, d.b ?? -1, d._id] as [number, number, string];
  const byKey = (x: Document, y: Document) => {
    const [p, q] = [key(x), key(y)];
    return p[0] - q[0] || p[1] - q[1] || (p[2] < q[2] ? -1 : p[2] > q[2] ? 1 : 0);
  };
  const initial: Slot[] = [];
  for (let i = 0; i < 1_500; i++) {
    const slot = {
      document: { _id: `${10_000 + i}things`, a: next.below(4), ...(next.chance(0.1) ? {} : { b: next.below(20) }) },
    };
    documents.set(slot.document._id, slot);
    initial.push(slot);
  }
  const index = SortedIndex.build(["a", "b", "_id"], initial);
  for (let i = 0; i < 3_000; i++) {
    const id = `${10_000 + next.below(2_000)}things`;
    const previous = documents.get(id);
    if (previous !== undefined) expect(index.remove(previous)).toBe(true);
    // An entry is found by its slot, not by an equal key: a stand-in is not there.
    if (previous !== undefined) expect(index.remove({ document: previous.document })).toBe(false);
    if (previous !== undefined && next.chance(0.4)) {
      documents.delete(id);
    } else {
      const slot = { document: { _id: id, a: next.below(4), b: next.below(20) } };
      documents.set(id, slot);
      index.insert(slot);
    }
  }
  const all = [...documents.values()].map((slot) => slot.document).sort(byKey);
  expect([...index.walk({ chunk: 0, offset: 0 }, index.end(), "asc")]).toEqual(all);
  expect([...index.walk({ chunk: 0, offset: 0 }, index.end(), "desc")]).toEqual([...all].reverse());
  for (let trial = 0; trial < 200; trial++) {
    const a = next.below(4);
    const low = next.below(20);
    const high = next.below(20);
    const from = index.seek((c) => c >= 0, [a, low]);
    const to = index.seek((c) => c > 0, [a, high]);
    const expected = all.filter((d) => d.a === a && (d.b as number) >= low && (d.b as number) <= high);
    expect([...index.walk(from, to, "asc")]).toEqual(expected);
    expect([...index.walk(from, to, "desc")]).toEqual([...expected].reverse());
  }
});

test("compareFieldValues orders every pair of key values exactly as Convex's compareValues", () => {
  const values: Array<Value | undefined> = [
    undefined,
    null,
    false,
    true,
    -Infinity,
    -1.5,
    -0,
    0,
    1,
    Infinity,
    Number.NaN,
    -2n,
    3n,
    "",
    "a",
    "ab",
    "b",
    "é",
    "\u{1F600}",
    "\uFFFF",
    new Uint8Array([1, 2]).buffer,
    [1],
    { a: 1 },
  ];
  const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);
  for (const a of values) {
    for (const b of values) {
      expect([a, b, sign(compareFieldValues(a, b))]).toEqual([a, b, sign(compareValues(a as Value, b as Value))]);
    }
  }
});

test("SortedIndex reads nested field paths and unusual field names as convex-test does", () => {
  const documents: Document[] = [
    { _id: "1t", meta: { rank: 2 }, "odd-name": "b" },
    { _id: "2t", meta: [3] as never, "odd-name": "a" }, // a path does not step into arrays
    { _id: "3t", "odd-name": "a" },
    { _id: "4t", meta: { rank: 1 } },
    { _id: "5t", meta: { rank: null } as never, "odd-name": "c" },
  ];
  const rank = (d: Document) => {
    const meta = d.meta as unknown;
    return meta !== null && typeof meta === "object" && !Array.isArray(meta)
      ? (meta as { rank?: Value }).rank
      : undefined;
  };
  const expected = (key: (d: Document) => Array<Value | undefined>) =>
    [...documents]
      .sort((x, y) => {
        const [p, q] = [key(x), key(y)];
        for (let i = 0; i < p.length; i++) {
          const order = compareFieldValues(p[i], q[i]);
          if (order !== 0) return order;
        }
        return 0;
      })
      .map((d) => d._id);
  const walk = (index: SortedIndex) => [...index.walk({ chunk: 0, offset: 0 }, index.end(), "asc")].map((d) => d._id);
  const slots = documents.map((document) => ({ document }));
  const byRank = SortedIndex.build(["meta.rank", "_id"], slots);
  expect(walk(byRank)).toEqual(["2t", "3t", "5t", "4t", "1t"]);
  expect(walk(byRank)).toEqual(expected((d) => [rank(d), d._id]));
  const byOdd = new SortedIndex(["odd-name", "_id"]);
  for (const slot of slots) byOdd.insert(slot);
  expect(walk(byOdd)).toEqual(expected((d) => [d["odd-name"], d._id]));
  expect(byOdd.remove(slots[2]!)).toBe(true);
  expect(walk(byOdd)).toEqual(["4t", "2t", "1t", "5t"]);
});

type Bounds = {
  workspace: number;
  lower?: { value: number; inclusive: boolean };
  upper?: { value: number; inclusive: boolean };
  order: "asc" | "desc";
  read: "first" | "take" | "collect" | "unique" | "iterate";
  take: number;
  status?: "online" | "offline" | "draining";
  onIdentity: boolean;
  /** No index: the whole table in creation order. */
  fullScan: boolean;
};

/** The workers of one workspace in a random index range, order and filter. */
function rangeOf(ctx: any, workspaceIds: string[], bounds: Bounds) {
  const workspaceId = workspaceIds[bounds.workspace];
  const [index, field, value] = bounds.onIdentity
    ? ["by_workspace_identity", "machineFingerprint", (n: number) => `f${n}`]
    : ["by_workspace_last_seen", "lastSeenAt", (n: number) => n];
  const table = ctx.db.query("workers");
  const query = (
    bounds.fullScan
      ? table
      : table.withIndex(index as string, (q: any) => {
          let range = q.eq("workspaceId", workspaceId);
          if (bounds.lower)
            range = range[bounds.lower.inclusive ? "gte" : "gt"](field, (value as any)(bounds.lower.value));
          if (bounds.upper)
            range = range[bounds.upper.inclusive ? "lte" : "lt"](field, (value as any)(bounds.upper.value));
          return range;
        })
  ).order(bounds.order);
  return bounds.status === undefined ? query : query.filter((q: any) => q.eq(q.field("status"), bounds.status));
}

/** One random read of such a range, answered as id:name:lastSeenAt (ids are the same in both databases). */
async function ask(ctx: any, workspaceIds: string[], bounds: Bounds) {
  const query = rangeOf(ctx, workspaceIds, bounds);
  const view = (worker: any) => (worker === null ? null : `${worker._id}:${worker.displayName}:${worker.lastSeenAt}`);
  if (bounds.read === "first") return view(await query.first());
  if (bounds.read === "take") return (await query.take(bounds.take)).map(view);
  if (bounds.read === "collect") return (await query.collect()).map(view);
  if (bounds.read === "unique") return await query.unique().then(view, (error: Error) => error.message.split(":")[0]);
  const seen: unknown[] = [];
  for await (const worker of query) {
    seen.push(view(worker));
    if (seen.length === bounds.take) break;
  }
  return seen;
}

/** Random writes inside the open transaction: inserts, patches across ranges, deletes. */
async function writeInTransaction(ctx: any, workspaceIds: string[], plan: ReturnType<typeof random>) {
  const workers = await ctx.db.query("workers").collect();
  for (let i = 0; i < 6; i++) {
    const pick = workers[plan.below(workers.length)];
    const choice = plan.below(4);
    if (choice === 0) await ctx.db.insert("workers", worker(workspaceIds[plan.below(3)]!, `new${i}`, plan));
    else if (choice === 1) await ctx.db.patch(pick._id, { lastSeenAt: plan.below(60), status: "draining" });
    else if (choice === 2) await ctx.db.patch(pick._id, { workspaceId: workspaceIds[plan.below(3)] });
    else await ctx.db.delete(pick._id).catch(() => undefined); // may be gone already
  }
}

function worker(workspaceId: string, name: string, next: ReturnType<typeof random>) {
  return {
    workspaceId,
    displayName: name,
    ...(next.chance(0.2) ? {} : { machineFingerprint: `f${next.below(30)}` }),
    status: (["online", "offline", "draining"] as const)[next.below(3)],
    capabilities: {},
    inventory: {},
    lastSeenAt: next.below(50),
  };
}

test("the ordered walk answers index-range queries exactly like plain convex-test, in the same order", async () => {
  const dir = makeTempDir();
  let indexed = await openEngine(dir);
  const plain = convexTest(CONVEX_TEST_OPTIONS);
  const both = async <T>(fn: (ctx: any) => Promise<T>) =>
    [await indexed.engine.t.run(fn), await plain.run(fn)] as const;

  const next = random(42);
  const [workspaceIds] = await both(async (ctx) => {
    const ids: string[] = [];
    for (const slug of ["a", "b", "c"])
      ids.push(await ctx.db.insert("workspaces", { slug, name: slug, dataPolicy: "full" }));
    return ids;
  });
  const seeds = Array.from({ length: 1_200 }, (_, i) => worker(workspaceIds[next.below(3)]!, `w${i}`, next));
  for (let start = 0; start < seeds.length; start += 400) {
    await both(async (ctx) => {
      for (const seed of seeds.slice(start, start + 400)) await ctx.db.insert("workers", seed);
    });
  }
  // Committed patches that move documents across ranges, and deletions.
  for (let round = 0; round < 20; round++) {
    const plan = next.below(2 ** 30);
    await both((ctx) => writeInTransaction(ctx, workspaceIds, random(plan)));
  }
  await indexed.store.close();
  // The indexes are rebuilt from the journal with one sort each, not one insert per document.
  const inserts = vi.spyOn(SortedIndex.prototype, "insert");
  const builds = vi.spyOn(SortedIndex, "build");
  indexed = await openEngine(dir);
  expect(inserts).not.toHaveBeenCalled();
  expect(
    builds.mock.calls.some(([fields, documents]) => fields[0] === "workspaceId" && [...documents].length > 1_000),
  ).toBe(true);
  vi.restoreAllMocks();

  const randomBounds = (): Bounds => {
    const bound = () => (next.chance(0.5) ? { value: next.below(50), inclusive: next.chance(0.5) } : undefined);
    return {
      workspace: next.below(3),
      lower: bound(),
      upper: bound(),
      order: next.chance(0.5) ? "asc" : "desc",
      read: (["first", "take", "collect", "unique", "iterate"] as const)[next.below(5)]!,
      take: 1 + next.below(30),
      status: next.chance(0.3) ? (["online", "offline", "draining"] as const)[next.below(3)] : undefined,
      onIdentity: next.chance(0.3),
      fullScan: next.chance(0.15),
    };
  };
  /** Runs `fn` in both databases in a transaction that is then rolled back, keeping them equal. */
  const inRolledBack = async (fn: (ctx: any) => Promise<unknown>) => {
    const answers: unknown[] = [];
    for (const run of [(f: any) => indexed.engine.t.run(f), (f: any) => plain.run(f)]) {
      await run(async (ctx: any) => {
        answers.push(await fn(ctx));
        throw new Error("roll back");
      }).catch((error: Error) => expect(error.message).toContain("roll back"));
    }
    return answers;
  };

  let nonEmpty = 0;
  for (let trial = 0; trial < 150; trial++) {
    const bounds = [randomBounds(), randomBounds(), randomBounds()];
    const writes = next.chance(0.5) ? next.below(2 ** 30) : null;
    const [fast, slow] = await inRolledBack(async (ctx) => {
      if (writes !== null) await writeInTransaction(ctx, workspaceIds, random(writes));
      const answers: unknown[] = [];
      for (const each of bounds) answers.push(await ask(ctx, workspaceIds, each));
      // The transaction's read counts match too, unless a `.filter()` skipped documents (local
      // mode counts those as Convex does; test/e2e/local-internals.test.ts).
      if (bounds.every((each) => each.status === undefined)) {
        const { documentsRead, bytesRead, databaseQueries } = await ctx.meta.getTransactionMetrics();
        answers.push({ documentsRead, bytesRead, databaseQueries });
      }
      return answers;
    });
    expect(fast, JSON.stringify({ trial, bounds, writes })).toEqual(slow);
    if (JSON.stringify(fast).includes(":")) nonEmpty++;
  }
  expect(nonEmpty).toBeGreaterThan(100);

  // Pages: follow the cursor (one page per transaction, as Convex allows), with end cursors,
  // row limits and the transaction's own writes.
  for (let trial = 0; trial < 40; trial++) {
    const bounds = randomBounds();
    const writes = next.chance(0.5) ? next.below(2 ** 30) : null;
    const [, total] = await inRolledBack(async (ctx) => {
      if (writes !== null) await writeInTransaction(ctx, workspaceIds, random(writes));
      return (await rangeOf(ctx, workspaceIds, bounds).collect()).length;
    });
    // An exact fit makes the first page end on the range's last document: done, no cursor.
    const numItems = [total as number, Math.ceil((total as number) / 2), 1 + next.below(25)][next.below(3)] || 1;
    const maximumRowsRead = next.chance(0.2) ? 1 + next.below(20) : undefined;
    const cursors: Array<string | null> = [null, null];
    for (let page = 0; page < 4; page++) {
      const useEnd = page === 1 && next.chance(0.3);
      const results: unknown[] = [];
      for (const [i, run] of [(f: any) => indexed.engine.t.run(f), (f: any) => plain.run(f)].entries()) {
        await run(async (ctx: any) => {
          if (writes !== null) await writeInTransaction(ctx, workspaceIds, random(writes));
          const result = await rangeOf(ctx, workspaceIds, bounds).paginate({
            numItems,
            cursor: useEnd ? null : cursors[i],
            ...(useEnd && cursors[i] !== null ? { endCursor: cursors[i] } : {}),
            ...(maximumRowsRead === undefined ? {} : { maximumRowsRead }),
          });
          if (!useEnd) cursors[i] = result.continueCursor;
          results.push({
            page: result.page.map((w: any) => `${w._id}:${w.lastSeenAt}`),
            isDone: result.isDone,
            pageStatus: result.pageStatus ?? null,
            split: result.splitCursor != null,
          });
          throw new Error("roll back");
        }).catch((error: Error) => expect(error.message).toContain("roll back"));
      }
      expect(results[0], JSON.stringify({ trial, page, bounds, numItems, maximumRowsRead, useEnd })).toEqual(
        results[1],
      );
    }
  }
  await indexed.store.close();
});

test("index-range reads visit only what they return: first 1, take(5) 5, a page of 10 at most 11", async () => {
  const { engine, store } = await openEngine(makeTempDir());
  const workspaceId = await engine.t.run(async (ctx) => {
    const id = await ctx.db.insert("workspaces", { slug: "big", name: "big", dataPolicy: "full" });
    for (let i = 0; i < 3_000; i++) {
      await ctx.db.insert("workers", {
        workspaceId: id,
        displayName: `w${i}`,
        status: i < 20 ? "offline" : "online",
        capabilities: {},
        inventory: {},
        lastSeenAt: i,
      });
    }
    return id;
  });
  const visits = async (read: (range: any) => Promise<unknown>) => {
    const before = engine.queryStats();
    await engine.t.query(async (ctx: any) =>
      read(ctx.db.query("workers").withIndex("by_workspace_last_seen", (q: any) => q.eq("workspaceId", workspaceId))),
    );
    const after = engine.queryStats();
    expect(after.walks - before.walks).toBe(1); // the query went through the ordered walk
    return after.visited - before.visited;
  };
  expect(await visits((range) => range.first())).toBe(1);
  expect(await visits((range) => range.order("desc").first())).toBe(1);
  expect(await visits((range) => range.take(5))).toBe(5);
  expect(await visits((range) => range.paginate({ numItems: 10, cursor: null }))).toBeLessThanOrEqual(11);
  // `.filter()` skips the 20 offline workers: they are visited (and counted as read), not sorted.
  expect(await visits((range) => range.filter((q: any) => q.eq(q.field("status"), "online")).first())).toBe(21);
  expect(engine.queryStats().open).toBe(0);
  await store.close();
});

test("search results keep convex-test's order when the transaction edited a matching item", async () => {
  const { engine, store } = await openEngine(makeTempDir());
  const plain = convexTest(CONVEX_TEST_OPTIONS);
  const answers: unknown[] = [];
  for (const run of [(fn: any) => engine.t.run(fn), (fn: any) => plain.run(fn)]) {
    await run(async (ctx: any) => {
      const workspaceId = await ctx.db.insert("workspaces", { slug: "s", name: "s", dataPolicy: "full" });
      for (let i = 0; i < 4; i++) {
        await ctx.db.insert("contextItems", {
          workspaceId,
          source: "doc",
          kind: "note",
          title: `t${i}`,
          pinned: false,
          promotionState: "proposed",
          searchText: `t${i} settings page`,
          updatedAt: i,
        });
      }
    });
    answers.push(
      await run(async (ctx: any) => {
        const second = (await ctx.db.query("contextItems").collect())[1];
        await ctx.db.patch(second._id, { searchText: `${second.title} settings page, edited` });
        const found = await ctx.db
          .query("contextItems")
          .withSearchIndex("search_text", (q: any) => q.search("searchText", "settings"))
          .take(3);
        return found.map((item: { title: string }) => item.title);
      }),
    );
  }
  expect(answers[0]).toEqual(answers[1]);
  expect(answers[0]).toHaveLength(3);
  await store.close();
});
