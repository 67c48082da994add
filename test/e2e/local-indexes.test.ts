// @vitest-environment node
/**
 * The local engine's sorted indexes (scripts/local/indexes.ts) must change nothing but speed:
 * the same random data and index-range queries give the same answers, in the same order, as
 * plain convex-test walking the whole table, including writes of the open transaction, patches
 * that move a document across a range, deletions, and a restart.
 */
import { convexTest } from "convex-test";
import { afterAll, expect, test } from "vitest";
import type { Id } from "../../convex/_generated/dataModel";
import { createEngine } from "../../scripts/local/engine";
import { SortedIndex } from "../../scripts/local/indexes";
import { convexModuleMap } from "../../scripts/local/modules";
import { openJournalStore } from "../../scripts/local/store";
import { CONVEX_TEST_OPTIONS } from "../support/harness";
import { makeTempDir, removeTempDirs } from "../support/local-process";

afterAll(removeTempDirs);

const modules = convexModuleMap();

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number) {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
}

test("SortedIndex ranges equal a brute-force filter", () => {
  const next = random(7);
  const index = new SortedIndex(["a", "b", "_id"]);
  const documents = new Map<string, { a: number; b?: number; _id: string }>();
  for (let i = 0; i < 400; i++) {
    const id = `${1000 + i}things`;
    const document = { a: Math.floor(next() * 4), ...(next() < 0.1 ? {} : { b: Math.floor(next() * 20) }), _id: id };
    documents.set(id, document);
    index.put(id, document);
    if (next() < 0.2) {
      const victim = `${1000 + Math.floor(next() * i)}things`;
      documents.delete(victim);
      index.put(victim, null);
    }
  }
  for (let trial = 0; trial < 200; trial++) {
    const a = Math.floor(next() * 4);
    const lower = next() < 0.5 ? { value: Math.floor(next() * 20), inclusive: next() < 0.5 } : undefined;
    const upper = next() < 0.5 ? { value: Math.floor(next() * 20), inclusive: next() < 0.5 } : undefined;
    const expected = [...documents.values()]
      .filter((d) => d.a === a)
      .filter(
        (d) => lower === undefined || (d.b !== undefined && (lower.inclusive ? d.b >= lower.value : d.b > lower.value)),
      )
      .filter(
        (d) => upper === undefined || d.b === undefined || (upper.inclusive ? d.b <= upper.value : d.b < upper.value),
      )
      .sort((x, y) => (x.b ?? -1) - (y.b ?? -1) || (x._id < y._id ? -1 : 1))
      .map((d) => d._id);
    expect(index.ids({ equal: [a], lower, upper })).toEqual(expected);
  }
});

test("the indexed engine answers index-range queries exactly like plain convex-test", async () => {
  const dir = makeTempDir();
  const open = async () => {
    const store = openJournalStore(dir);
    return {
      store,
      engine: await createEngine({
        modules,
        store,
        onFatal: (error) => {
          throw error;
        },
      }),
    };
  };
  let indexed = await open();
  const plain = convexTest(CONVEX_TEST_OPTIONS);
  const both = async <T>(fn: (ctx: any) => Promise<T>) =>
    [await indexed.engine.t.run(fn), await plain.run(fn)] as const;

  const next = random(42);
  const [workspaces] = await both(async (ctx) => {
    const ids: Id<"workspaces">[] = [];
    for (const slug of ["a", "b", "c"])
      ids.push(await ctx.db.insert("workspaces", { slug, name: slug, dataPolicy: "full" }));
    return ids;
  });
  const plan = Array.from({ length: 300 }, (_, i) => ({
    name: `w${i}`,
    workspace: Math.floor(next() * 3),
    seen: Math.floor(next() * 50),
  }));
  await both(async (ctx) => {
    const all = await ctx.db.query("workspaces").collect();
    for (const worker of plan) {
      await ctx.db.insert("workers", {
        workspaceId: all[worker.workspace]._id,
        displayName: worker.name,
        status: "online",
        capabilities: {},
        inventory: {},
        lastSeenAt: worker.seen,
      });
    }
  });
  // Patches that move documents across ranges, and deletions, in separate transactions.
  const moves = Array.from({ length: 60 }, () => ({
    name: `w${Math.floor(next() * 300)}`,
    seen: Math.floor(next() * 50),
    drop: next() < 0.3,
  }));
  for (const move of moves) {
    await both(async (ctx) => {
      const worker = (await ctx.db.query("workers").collect()).find(
        (w: { displayName: string }) => w.displayName === move.name,
      );
      if (worker === undefined) return;
      if (move.drop) await ctx.db.delete(worker._id);
      else await ctx.db.patch(worker._id, { lastSeenAt: move.seen });
    });
  }
  indexed.store.close();
  indexed = await open(); // the indexes are rebuilt from the journal

  type Bounds = { workspace: number; from: number; to: number; order: "asc" | "desc"; pending: boolean };
  /** The range queries, after (for `pending`) writes of the same, open transaction. */
  const ask = async (ctx: any, bounds: Bounds) => {
    const all = await ctx.db.query("workspaces").collect();
    const workspaceId = all[bounds.workspace]._id;
    if (bounds.pending) {
      await ctx.db.insert("workers", {
        workspaceId,
        displayName: "pending",
        status: "online",
        capabilities: {},
        inventory: {},
        lastSeenAt: bounds.from + 1,
      });
      const moved = await ctx.db
        .query("workers")
        .withIndex("by_workspace_last_seen", (q: any) => q.eq("workspaceId", workspaceId))
        .first();
      if (moved !== null) await ctx.db.patch(moved._id, { lastSeenAt: bounds.to + 100 });
    }
    const found = await ctx.db
      .query("workers")
      .withIndex("by_workspace_last_seen", (q: any) =>
        q.eq("workspaceId", workspaceId).gte("lastSeenAt", bounds.from).lt("lastSeenAt", bounds.to),
      )
      .order(bounds.order)
      .take(25);
    const page = await ctx.db
      .query("workers")
      .withIndex("by_workspace_last_seen", (q: any) => q.eq("workspaceId", workspaceId).gt("lastSeenAt", bounds.from))
      .paginate({ numItems: 10, cursor: null });
    return [
      found.map((w: { displayName: string }) => w.displayName),
      page.page.map((w: { displayName: string }) => w.displayName),
      page.isDone,
    ];
  };
  /** Runs `ask` in both databases inside a transaction that is then rolled back, keeping them equal. */
  const askAndRollBack = async (bounds: Bounds) => {
    const answers: unknown[] = [];
    for (const run of [(fn: any) => indexed.engine.t.run(fn), (fn: any) => plain.run(fn)]) {
      await run(async (ctx: any) => {
        answers.push(await ask(ctx, bounds));
        throw new Error("roll back");
      }).catch((error: Error) => expect(error.message).toContain("roll back"));
    }
    return answers;
  };
  let compared = 0;
  for (let trial = 0; trial < 40; trial++) {
    const from = Math.floor(next() * 50);
    const bounds: Bounds = {
      workspace: Math.floor(next() * 3),
      from,
      to: from + Math.floor(next() * 30),
      order: next() < 0.5 ? "asc" : "desc",
      pending: next() < 0.3,
    };
    const [fast, slow] = await askAndRollBack(bounds);
    expect(fast).toEqual(slow);
    if ((fast as string[][])[0]!.length > 0) compared++;
  }
  expect(compared).toBeGreaterThan(10);
  expect(workspaces).toHaveLength(3);
  indexed.store.close();
});

test("search results keep convex-test's order when the transaction edited a matching item", async () => {
  const store = openJournalStore(makeTempDir());
  const indexed = (
    await createEngine({
      modules,
      store,
      onFatal: (error) => {
        throw error;
      },
    })
  ).t;
  const plain = convexTest(CONVEX_TEST_OPTIONS);
  const answers: unknown[] = [];
  for (const run of [(fn: any) => indexed.run(fn), (fn: any) => plain.run(fn)]) {
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
  store.close();
});
