/**
 * The Context Lake (SPEC §8). Owns `contextItems`. Ingest upserts items through
 * `upsertIntegrationItem`; pack building reads them through the helpers below; the Console lists,
 * searches, creates, edits, pins and moves items between promotion states.
 */
import { paginationOptsValidator } from "convex/server";
import { v } from "convex/values";
import type { Doc, Id } from "./_generated/dataModel";
import type { MutationCtx, QueryCtx } from "./_generated/server";
import { workspaceMutation, workspaceQuery } from "./functions";
import {
  MAX_ITEM_TEXT_BYTES,
  MAX_TITLE_LENGTH,
  ReadBudget,
  promotionStateValidator,
  searchTextOf,
} from "./model/contextLake";
import type { IncomingItem } from "./model/dataPolicy";
import { apiError } from "./model/errors";
import { utf8Bytes } from "./model/jobs";
import { requireRepo } from "./repos";
import { requireRun } from "./runs";
import { boundedPage } from "./model/pages";

/** Ingest: one item per (workspace, source, externalId); a repeat refreshes its content, keeps its curation. */
export async function upsertIntegrationItem(
  ctx: MutationCtx,
  workspaceId: Id<"workspaces">,
  source: string,
  item: IncomingItem,
): Promise<Id<"contextItems">> {
  const existing = await ctx.db
    .query("contextItems")
    .withIndex("by_workspace_source_external", (q) =>
      q.eq("workspaceId", workspaceId).eq("source", source).eq("externalId", item.externalId),
    )
    .first();
  // Text the policy kept out is cleared, not left from an older version of the item.
  const content = {
    title: item.title,
    text: item.text,
    url: item.url,
    searchText: searchTextOf(item),
    updatedAt: Date.now(),
  };
  if (existing !== null) {
    await ctx.db.patch("contextItems", existing._id, { ...content, kind: item.kind ?? existing.kind });
    return existing._id;
  }
  return await ctx.db.insert("contextItems", {
    workspaceId,
    source,
    kind: item.kind ?? "integration_event",
    externalId: item.externalId,
    pinned: false,
    promotionState: "proposed",
    ...content,
  });
}

/** The item `rawId` names in this workspace, or null (also for ids that are not item ids). */
export async function itemOfWorkspace(ctx: QueryCtx, workspaceId: Id<"workspaces">, rawId: string) {
  const id = ctx.db.normalizeId("contextItems", rawId);
  const item = id === null ? null : await ctx.db.get("contextItems", id);
  return item !== null && item.workspaceId === workspaceId ? item : null;
}

/**
 * Up to `limit` items, read one at a time while `budget` allows: an item may hold 256 KiB of
 * text twice, so a fixed count alone could pass Convex's per-transaction read limit.
 */
export async function readWithin(
  items: AsyncIterable<Doc<"contextItems">> | Iterable<Doc<"contextItems">>,
  limit: number,
  budget: ReadBudget,
): Promise<Doc<"contextItems">[]> {
  const read: Doc<"contextItems">[] = [];
  if (!budget.allowsMore()) return read;
  for await (const item of items) {
    budget.charge(item);
    read.push(item);
    if (read.length >= limit || !budget.allowsMore()) break;
  }
  return read;
}

// The queries below are single index (or search) ranges, read through `readWithin`.

/** Pinned items of the whole workspace (`repoId` undefined) or of one repo. */
export function pinnedItems(ctx: QueryCtx, workspaceId: Id<"workspaces">, repoId: Id<"repos"> | undefined) {
  return ctx.db
    .query("contextItems")
    .withIndex("by_workspace_pinned_repo", (q) =>
      q.eq("workspaceId", workspaceId).eq("pinned", true).eq("repoId", repoId),
    );
}

export function itemsOfRun(ctx: QueryCtx, workspaceId: Id<"workspaces">, runId: Id<"runs">) {
  return ctx.db
    .query("contextItems")
    .withIndex("by_workspace_run", (q) => q.eq("workspaceId", workspaceId).eq("runId", runId));
}

/** Best text-search matches (title and stored text) for `query`, best first; none for a blank query. */
export function searchItems(ctx: QueryCtx, workspaceId: Id<"workspaces">, query: string) {
  if (query.trim() === "") return [];
  return ctx.db
    .query("contextItems")
    .withSearchIndex("search_text", (q) => q.search("searchText", query).eq("workspaceId", workspaceId));
}

// ---- Console ---------------------------------------------------------------------------------

function invalid(path: string, message: string) {
  return apiError("INVALID_REQUEST", `${path}: ${message}`, { issues: [{ path, message }] });
}

function checkContent(fields: { title?: string; text?: string | null; url?: string | null; kind?: string }) {
  if (fields.title !== undefined && (fields.title.trim() === "" || fields.title.length > MAX_TITLE_LENGTH)) {
    throw invalid("title", `must be 1–${MAX_TITLE_LENGTH} characters.`);
  }
  if (typeof fields.text === "string" && utf8Bytes(fields.text) > MAX_ITEM_TEXT_BYTES) {
    throw invalid("text", `must be at most ${MAX_ITEM_TEXT_BYTES} bytes.`);
  }
  if (typeof fields.url === "string" && !/^https?:\/\/\S+$/.test(fields.url))
    throw invalid("url", "must be an http(s) URL.");
  if (fields.kind !== undefined && (fields.kind.trim() === "" || fields.kind.length > 100)) {
    throw invalid("kind", "must be 1–100 characters.");
  }
}

async function requireItem(ctx: QueryCtx, workspaceId: Id<"workspaces">, itemId: Id<"contextItems">) {
  const item = await ctx.db.get("contextItems", itemId);
  if (item === null || item.workspaceId !== workspaceId) {
    throw apiError("CONTEXT_ITEM_NOT_FOUND", "No Context Lake item with this id in this workspace.");
  }
  return item;
}

/** Items of a workspace, most recently updated first, optionally in one promotion state. */
export const list = workspaceQuery({
  args: { promotionState: v.optional(promotionStateValidator), paginationOpts: paginationOptsValidator },
  handler: async (ctx, { promotionState, paginationOpts }) => {
    const { workspaceId } = ctx.workspace;
    const items =
      promotionState === undefined
        ? ctx.db.query("contextItems").withIndex("by_workspace_updated", (q) => q.eq("workspaceId", workspaceId))
        : ctx.db
            .query("contextItems")
            .withIndex("by_workspace_state_updated", (q) =>
              q.eq("workspaceId", workspaceId).eq("promotionState", promotionState),
            );
    return await items.order("desc").paginate(boundedPage(paginationOpts));
  },
});

/** Full-text search over titles and stored text, best matches first (at most 50, within the read budget). */
export const search = workspaceQuery({
  args: { query: v.string(), limit: v.optional(v.number()) },
  handler: async (ctx, { query, limit }) =>
    await readWithin(
      searchItems(ctx, ctx.workspace.workspaceId, query),
      Math.min(Math.max(limit ?? 20, 1), 50),
      new ReadBudget(),
    ),
});

/** A hand-written item (a note, a link). Tied to a repo or run when given. */
export const create = workspaceMutation({
  args: {
    title: v.string(),
    text: v.optional(v.string()),
    url: v.optional(v.string()),
    kind: v.optional(v.string()),
    repoId: v.optional(v.id("repos")),
    runId: v.optional(v.id("runs")),
    pinned: v.optional(v.boolean()),
  },
  returns: v.id("contextItems"),
  handler: async (ctx, { title, text, url, kind, repoId, runId, pinned }) => {
    const { workspaceId } = ctx.workspace;
    checkContent({ title, text, url, kind });
    if (repoId !== undefined) await requireRepo(ctx, workspaceId, repoId);
    if (runId !== undefined) await requireRun(ctx, workspaceId, runId);
    return await ctx.db.insert("contextItems", {
      workspaceId,
      repoId,
      runId,
      source: "console",
      kind: kind ?? "note",
      title,
      text,
      url,
      pinned: pinned ?? false,
      promotionState: "proposed",
      searchText: searchTextOf({ title, text }),
      updatedAt: Date.now(),
    });
  },
});

/** Changes the fields sent; `null` clears text, url, repo or run. */
export const edit = workspaceMutation({
  args: {
    contextItemId: v.id("contextItems"),
    title: v.optional(v.string()),
    text: v.optional(v.union(v.string(), v.null())),
    url: v.optional(v.union(v.string(), v.null())),
    kind: v.optional(v.string()),
    repoId: v.optional(v.union(v.id("repos"), v.null())),
    runId: v.optional(v.union(v.id("runs"), v.null())),
  },
  handler: async (ctx, { contextItemId, ...changes }) => {
    const { workspaceId } = ctx.workspace;
    const item = await requireItem(ctx, workspaceId, contextItemId);
    checkContent(changes);
    if (changes.repoId) await requireRepo(ctx, workspaceId, changes.repoId);
    if (changes.runId) await requireRun(ctx, workspaceId, changes.runId);
    const patch: Partial<Doc<"contextItems">> = { updatedAt: Date.now() };
    if (changes.title !== undefined) patch.title = changes.title;
    if (changes.kind !== undefined) patch.kind = changes.kind;
    for (const field of ["text", "url", "repoId", "runId"] as const) {
      if (changes[field] !== undefined) (patch as Record<string, unknown>)[field] = changes[field] ?? undefined;
    }
    const title = patch.title ?? item.title;
    const text = "text" in patch ? patch.text : item.text;
    await ctx.db.patch("contextItems", item._id, { ...patch, searchText: searchTextOf({ title, text }) });
  },
});

export const setPinned = workspaceMutation({
  args: { contextItemId: v.id("contextItems"), pinned: v.boolean() },
  handler: async (ctx, { contextItemId, pinned }) => {
    const item = await requireItem(ctx, ctx.workspace.workspaceId, contextItemId);
    await ctx.db.patch("contextItems", item._id, { pinned, updatedAt: Date.now() });
  },
});

/** Moves an item between proposed, under_review, approved, rejected and promoted (any order). */
export const setPromotionState = workspaceMutation({
  args: { contextItemId: v.id("contextItems"), promotionState: promotionStateValidator },
  handler: async (ctx, { contextItemId, promotionState }) => {
    const item = await requireItem(ctx, ctx.workspace.workspaceId, contextItemId);
    await ctx.db.patch("contextItems", item._id, { promotionState, updatedAt: Date.now() });
  },
});
