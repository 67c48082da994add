/** Context Lake Console functions and context packs (SPEC §8): selection order, budgets, statuses, resolve. */
import { describe, expect, test } from "vitest";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { ITEM_READ_BUDGET_BYTES, MAX_ITEM_TEXT_BYTES, searchTextOf } from "../convex/model/contextLake";
import { utf8Bytes } from "../convex/model/jobs";
import { addMember, createUser, deviceToken } from "./support/fixtures";
import { useFreshConvex, type Json } from "./support/harness";
import { caller, createRepo, expectError, ok } from "./support/api";
import { workspaceWithRun } from "./support/runs-fixtures";

const t = useFreshConvex();

/** A run (goal "Add user settings") and a Console member able to curate the Lake. */
async function setUp() {
  const acme = await workspaceWithRun(t);
  const workspaceId = acme.workspaceId;
  const addItem = (fields: {
    title: string;
    text?: string;
    url?: string;
    repoId?: string;
    runId?: string;
    pinned?: boolean;
  }) =>
    acme.console.mutation(api.contextLake.create, {
      workspaceId,
      ...fields,
      repoId: fields.repoId as Id<"repos"> | undefined,
      runId: fields.runId as Id<"runs"> | undefined,
    });
  return { ...acme, addItem };
}

const view = (items: Json[]) => items.map((item) => [item.id, item.status, item.origin, item.reason]);

describe("build-run-v1", () => {
  test("selects requested, pinned (workspace, then repo), run items, then goal matches; missing ids are reported", async () => {
    const { workspaceId, runId, repoId, call, addItem } = await setUp();
    const otherRepo = await createRepo(call, workspaceId, "hash-of-other");
    const matching = await addItem({ title: "Settings page design", text: "How user settings are laid out." });
    const requested = await addItem({ title: "Requested note", text: "Read this first." });
    const pinnedRepo = await addItem({ title: "Repo conventions", text: "Use pnpm.", repoId, pinned: true });
    const pinnedWorkspace = await addItem({ title: "Company style", text: "Be brief.", pinned: true });
    const ofRun = await addItem({ title: "Run notes", text: "Decided on tabs.", runId });
    await addItem({
      title: "Pinned elsewhere",
      text: "user settings of another repo",
      repoId: otherRepo,
      pinned: true,
    });
    await addItem({ title: "Unrelated", text: "Billing export format." });
    const absentId = "definitely-not-an-id";

    const built = await ok(call, "/v1/context-packs/build-run-v1", {
      workspaceId,
      runId: `runs/${runId}`,
      requestedContextItemIds: [`contextItems/${requested}`, absentId, pinnedRepo],
    });
    expect(view(built.items)).toEqual([
      [requested, "selected", "requested", "requested"],
      [absentId, "missing", "requested", "not_found"],
      [pinnedRepo, "selected", "requested", "requested"],
      [pinnedWorkspace, "selected", "pinned", "pinned_workspace"],
      [ofRun, "selected", "run", "run_item"],
      [matching, "selected", "search", "goal_match"],
    ]);
    const stored = await t.run((ctx) => ctx.db.get(built.contextPackId as Id<"contextPacks">));
    expect(stored).toMatchObject({ runId, maxItems: 50, maxTextBytes: 65_536, items: expect.any(Array) });
    expect(stored!.items).toHaveLength(6);
  });

  test("the budget omits items past the item count or the text size, with the reason", async () => {
    const { workspaceId, runId, call, addItem } = await setUp();
    const first = await addItem({ title: "A", text: "a".repeat(40_000), pinned: true });
    const tooBig = await addItem({ title: "B", text: "b".repeat(30_000), pinned: true });
    const fits = await addItem({ title: "C", text: "c".repeat(20_000), pinned: true });
    const tiny = await addItem({ title: "D", text: "d", runId });
    const late = await addItem({ title: "E", text: "e", runId });

    const byDefault = await ok(call, "/v1/context-packs/build-run-v1", { workspaceId, runId });
    expect(view(byDefault.items)).toEqual([
      [first, "selected", "pinned", "pinned_workspace"],
      [tooBig, "omitted", "pinned", "text_budget"],
      [fits, "selected", "pinned", "pinned_workspace"],
      [tiny, "selected", "run", "run_item"],
      [late, "selected", "run", "run_item"],
    ]);
    const fewer = await ok(call, "/v1/context-packs/build-run-v1", { workspaceId, runId, maxItems: 2 });
    expect(view(fewer.items).map(([, status, , reason]) => `${status}:${reason}`)).toEqual([
      "selected:pinned_workspace",
      "omitted:text_budget",
      "selected:pinned_workspace",
      "omitted:item_budget",
      "omitted:item_budget",
    ]);
  });

  test("the default item budget is 50", async () => {
    const { workspaceId, runId, call } = await setUp();
    await t.run(async (ctx) => {
      for (let i = 0; i < 55; i++) {
        await ctx.db.insert("contextItems", {
          workspaceId: workspaceId as Id<"workspaces">,
          runId: runId as Id<"runs">,
          source: "test",
          kind: "note",
          title: `n${i}`,
          text: "x",
          pinned: false,
          promotionState: "proposed",
          searchText: `n${i}\nx`,
          updatedAt: i,
        });
      }
    });
    const built = await ok(call, "/v1/context-packs/build-run-v1", { workspaceId, runId });
    expect(built.items.filter((item: Json) => item.status === "selected")).toHaveLength(50);
    expect(built.items.filter((item: Json) => item.reason === "item_budget")).toHaveLength(5);
  });

  test("another workspace's run, items and packs stay invisible; viewers may resolve but not build", async () => {
    const acme = await setUp();
    const secret = await acme.addItem({ title: "Acme secret", text: "user settings internals" });
    const other = await workspaceWithRun(t, "other");
    const built = await ok(other.call, "/v1/context-packs/build-run-v1", {
      workspaceId: other.workspaceId,
      runId: other.runId,
      requestedContextItemIds: [secret],
    });
    expect(view(built.items)).toEqual([[secret, "missing", "requested", "not_found"]]);
    expectError(
      await other.call("/v1/context-packs/build-run-v1", { workspaceId: other.workspaceId, runId: acme.runId }),
      404,
      "RUN_NOT_FOUND",
    );
    const acmePack = await ok(acme.call, "/v1/context-packs/build-run-v1", {
      workspaceId: acme.workspaceId,
      runId: acme.runId,
    });
    expectError(
      await other.call("/v1/context-packs/resolve-run-v1", {
        workspaceId: other.workspaceId,
        runId: other.runId,
        contextPackId: acmePack.contextPackId,
      }),
      404,
      "CONTEXT_PACK_NOT_FOUND",
    );

    const viewer = await createUser(t, "viewer@acme.test");
    await addMember(t, acme.workspaceId as Id<"workspaces">, viewer, "viewer");
    const viewerCall = caller(t, (await deviceToken(t, acme.workspaceId as Id<"workspaces">, viewer)).token);
    expectError(
      await viewerCall("/v1/context-packs/build-run-v1", { workspaceId: acme.workspaceId, runId: acme.runId }),
      403,
      "FORBIDDEN",
    );
    await ok(viewerCall, "/v1/context-packs/resolve-run-v1", { workspaceId: acme.workspaceId, runId: acme.runId });
  });
});

describe("read budget", () => {
  /** The largest text an item may hold (stored twice: text and searchText). */
  const LARGE_TEXT = "needle ".repeat(MAX_ITEM_TEXT_BYTES / 7).padEnd(MAX_ITEM_TEXT_BYTES, "x");

  async function insertItems(
    workspaceId: string,
    count: number,
    fields: { pinned?: boolean; runId?: string },
    text = LARGE_TEXT,
  ) {
    return await t.run(async (ctx) => {
      const ids: Id<"contextItems">[] = [];
      for (let i = 0; i < count; i++) {
        const title = `large ${i}`;
        ids.push(
          await ctx.db.insert("contextItems", {
            workspaceId: workspaceId as Id<"workspaces">,
            runId: fields.runId as Id<"runs"> | undefined,
            source: "test",
            kind: "note",
            title,
            text,
            pinned: fields.pinned ?? false,
            promotionState: "proposed",
            searchText: searchTextOf({ title, text }),
            updatedAt: i,
          }),
        );
      }
      return ids;
    });
  }

  /** What reading these items costs, as the read budget counts it. */
  async function bytesOf(ids: string[]) {
    const docs = await t.run((ctx) => Promise.all(ids.map((id) => ctx.db.get(id as Id<"contextItems">))));
    return docs.reduce((sum, doc) => sum + (doc === null ? 0 : utf8Bytes(JSON.stringify(doc))), 0);
  }

  test("build stops reading once the budget is spent: unread requested ids are omitted, lower sources are not read", async () => {
    const { workspaceId, runId, call, addItem } = await setUp();
    const large = await insertItems(workspaceId, 20, { pinned: true });
    const ofRun = await addItem({ title: "Run notes", text: "small", runId });
    expect(await bytesOf(large)).toBeGreaterThan(ITEM_READ_BUDGET_BYTES);

    const pinnedOnly = await ok(call, "/v1/context-packs/build-run-v1", { workspaceId, runId });
    const considered = pinnedOnly.items.map((item: Json) => item.id);
    expect(considered.length).toBeLessThan(large.length);
    expect(considered).toEqual(large.slice(0, considered.length));
    expect(considered).not.toContain(ofRun);
    expect(pinnedOnly.readBudgetReached).toBe(true);
    expect(await bytesOf(considered)).toBeLessThanOrEqual(ITEM_READ_BUDGET_BYTES + (await bytesOf([large[0]!])));

    const requested = await ok(call, "/v1/context-packs/build-run-v1", {
      workspaceId,
      runId,
      requestedContextItemIds: large,
    });
    const reasons = requested.items.map((item: Json) => `${item.origin}:${item.status}:${item.reason}`);
    expect(reasons).toEqual([
      ...Array(considered.length).fill("requested:omitted:text_budget"),
      ...Array(large.length - considered.length).fill("requested:omitted:read_budget"),
    ]);

    const small = await ok(call, "/v1/context-packs/build-run-v1", {
      workspaceId,
      runId,
      requestedContextItemIds: [ofRun],
    });
    expect(small.readBudgetReached).toBe(true);
    expect(view(small.items)[0]).toEqual([ofRun, "selected", "requested", "requested"]);
  });

  test("resolve stops reading once the budget is spent, even when items grew since the build", async () => {
    const { workspaceId, runId, call } = await setUp();
    const ids = await insertItems(workspaceId, 20, { runId }, "tiny");
    const built = await ok(call, "/v1/context-packs/build-run-v1", { workspaceId, runId });
    expect(built.items.filter((item: Json) => item.status === "selected")).toHaveLength(20);
    expect(built.readBudgetReached).toBe(false);
    await t.run(async (ctx) => {
      for (const id of ids)
        await ctx.db.patch(id, { text: LARGE_TEXT, searchText: searchTextOf({ title: "large", text: LARGE_TEXT }) });
    });

    const resolved = await ok(call, "/v1/context-packs/resolve-run-v1", { workspaceId, runId });
    const read = resolved.items.filter((item: Json) => item.status === "selected");
    expect(read.length).toBeLessThan(ids.length);
    expect(await bytesOf(read.map((item: Json) => item.id))).toBeLessThanOrEqual(
      ITEM_READ_BUDGET_BYTES + (await bytesOf([ids[0]!])),
    );
    expect(resolved.items.slice(read.length)).toEqual(
      ids.slice(read.length).map((id) =>
        expect.objectContaining({
          id,
          status: "omitted",
          reason: "read_budget",
          content: null,
          contentSource: "none",
        }),
      ),
    );
  });

  test("Console search stops reading once the budget is spent", async () => {
    const { workspaceId, console } = await setUp();
    const ids = await insertItems(workspaceId, 20, {});
    const found = await console.query(api.contextLake.search, {
      workspaceId: workspaceId as Id<"workspaces">,
      query: "needle",
      limit: 50,
    });
    expect(found.length).toBeGreaterThan(0);
    expect(found.length).toBeLessThan(ids.length);
  });
});

describe("resolve-run-v1", () => {
  test("returns the latest pack's selected items with their current stored text", async () => {
    const { workspaceId, runId, call, addItem, console } = await setUp();
    expectError(await call("/v1/context-packs/resolve-run-v1", { workspaceId, runId }), 404, "CONTEXT_PACK_NOT_FOUND");
    const note = await addItem({ title: "Run notes", text: "v1", runId });
    const linkOnly = await addItem({ title: "Spec link", url: "https://docs.example.com/spec", runId });
    const older = await ok(call, "/v1/context-packs/build-run-v1", {
      workspaceId,
      runId,
      requestedContextItemIds: ["gone"],
    });
    const latest = await ok(call, "/v1/context-packs/build-run-v1", { workspaceId, runId });
    await console.mutation(api.contextLake.edit, {
      workspaceId,
      contextItemId: note as Id<"contextItems">,
      text: "v2",
    });

    const resolved = await ok(call, "/v1/context-packs/resolve-run-v1", { workspaceId, runId });
    expect(resolved.contextPackId).toBe(latest.contextPackId);
    expect(resolved.items).toEqual([
      {
        id: note,
        status: "selected",
        origin: "run",
        reason: "run_item",
        title: "Run notes",
        kind: "note",
        source: "console",
        url: null,
        content: "v2",
        contentSource: "stored",
        fetchError: null,
      },
      {
        id: linkOnly,
        status: "selected",
        origin: "run",
        reason: "run_item",
        title: "Spec link",
        kind: "note",
        source: "console",
        url: "https://docs.example.com/spec",
        content: null,
        contentSource: "none",
        fetchError: null,
      },
    ]);
    const byId = await ok(call, "/v1/context-packs/resolve-run-v1", {
      workspaceId,
      runId,
      contextPackId: `contextPacks/${older.contextPackId}`,
    });
    expect(byId.items.map((item: Json) => item.id)).toEqual([note, linkOnly]);
  });
});

describe("Console Context Lake", () => {
  test("list, search, pin, promotion state and edit", async () => {
    const { workspaceId, console, addItem, runId } = await setUp();
    const a = (await addItem({ title: "Auth design", text: "Sessions expire after a day." })) as Id<"contextItems">;
    const b = (await addItem({ title: "Billing", text: "Invoices monthly." })) as Id<"contextItems">;
    await console.mutation(api.contextLake.setPinned, { workspaceId, contextItemId: a, pinned: true });
    await console.mutation(api.contextLake.setPromotionState, {
      workspaceId,
      contextItemId: b,
      promotionState: "under_review",
    });
    await console.mutation(api.contextLake.edit, {
      workspaceId,
      contextItemId: b,
      title: "Billing rules",
      url: "https://wiki.example.com/billing",
      runId: runId as Id<"runs">,
    });

    const page = await console.query(api.contextLake.list, {
      workspaceId,
      paginationOpts: { numItems: 10, cursor: null },
    });
    expect(page.page.map((item) => item.title)).toEqual(["Billing rules", "Auth design"]);
    const reviewing = await console.query(api.contextLake.list, {
      workspaceId,
      promotionState: "under_review",
      paginationOpts: { numItems: 10, cursor: null },
    });
    expect(reviewing.page).toEqual([
      expect.objectContaining({ _id: b, url: "https://wiki.example.com/billing", runId }),
    ]);
    expect(
      (await console.query(api.contextLake.search, { workspaceId, query: "sessions" })).map((item) => item._id),
    ).toEqual([a]);
    expect(
      (await console.query(api.contextLake.search, { workspaceId, query: "rules" })).map((item) => item._id),
    ).toEqual([b]);

    await console.mutation(api.contextLake.edit, { workspaceId, contextItemId: a, text: null });
    expect(await console.query(api.contextLake.search, { workspaceId, query: "sessions" })).toEqual([]);
    await expect(
      console.mutation(api.contextLake.edit, { workspaceId, contextItemId: a, url: "javascript:alert(1)" }),
    ).rejects.toThrow(/http/);

    const other = await workspaceWithRun(t, "other");
    await expect(
      other.console.mutation(api.contextLake.setPinned, {
        workspaceId: other.workspaceId as Id<"workspaces">,
        contextItemId: a,
        pinned: false,
      }),
    ).rejects.toThrow(/No Context Lake item/);
  });
});
