/**
 * Context packs (SPEC §8). Owns `contextPacks`. `build` gathers candidates from the Context Lake
 * in priority order and lets `selectPackItems` (model/contextPacks.ts) apply the budget; `pack`
 * reads a pack for resolve-run-v1, and `resolvePackWithLiveContent` (run by that route's HTTP
 * action, since fetching needs one) adds live content (liveFetch.ts) for `fresh_v1`.
 */
import type { z } from "zod";
import type { Doc, Id } from "./_generated/dataModel";
import { internal } from "./_generated/api";
import type { ActionCtx, QueryCtx } from "./_generated/server";
import { requireId, type Caller } from "./access";
import { requestArgs } from "./api/convexArgs";
import { buildPackRequest, resolvePackRequest } from "./api/requests/contextPacks";
import { workspaceInternalMutation, workspaceInternalQuery } from "./functions";
import { itemOfWorkspace, itemsOfRun, pinnedItems, readWithin, searchItems } from "./contextLake";
import { ReadBudget } from "./model/contextLake";
import {
  DEFAULT_PACK_MAX_ITEMS,
  DEFAULT_PACK_MAX_TEXT_BYTES,
  FRESH_HINT,
  selectPackItems,
  type PackCandidate,
  type PackEntry,
} from "./model/contextPacks";
import { apiError } from "./model/errors";
import { liveFetchPolicyOf } from "./model/liveFetch";
import { fetchLiveAll } from "./liveFetch";
import { utf8Bytes } from "./model/jobs";
import { requireRun } from "./runs";

/** Candidates read per source (pinned, run, search): bounds every build's reads. */
const CANDIDATES_PER_SOURCE = 100;
const SEARCH_MATCHES = 50;
/** Convex text search uses at most this many terms of a query. */
const SEARCH_TERMS = 16;

function candidate(
  item: Doc<"contextItems">,
  origin: PackCandidate["origin"],
  foundBy: PackCandidate["foundBy"],
): PackCandidate {
  const textBytes = item.text === undefined ? 0 : utf8Bytes(item.text);
  return { id: item._id, origin, foundBy, item: { textBytes, promotionState: item.promotionState } };
}

/**
 * Every candidate for a run's pack, highest priority first (duplicates are dropped by selection).
 * Reading stops once `reads` is spent: requested ids left unread become `read_budget` candidates,
 * lower-priority sources are not read further (`reads.reached` tells the caller).
 */
async function candidatesFor(
  ctx: QueryCtx,
  run: Doc<"runs">,
  requestedIds: string[],
  reads: ReadBudget,
): Promise<PackCandidate[]> {
  const { workspaceId } = run;
  const candidates: PackCandidate[] = [];
  for (const rawId of requestedIds) {
    if (!reads.allowsMore()) {
      candidates.push({ id: rawId, origin: "requested", foundBy: "requested", item: "unread" });
      continue;
    }
    const item = await itemOfWorkspace(ctx, workspaceId, rawId);
    if (item !== null) reads.charge(item);
    candidates.push(
      item === null
        ? { id: rawId, origin: "requested", foundBy: "requested", item: null }
        : candidate(item, "requested", "requested"),
    );
  }
  const add = (items: Doc<"contextItems">[], origin: PackCandidate["origin"], foundBy: PackCandidate["foundBy"]) =>
    candidates.push(...items.map((item) => candidate(item, origin, foundBy)));
  add(
    await readWithin(pinnedItems(ctx, workspaceId, undefined), CANDIDATES_PER_SOURCE, reads),
    "pinned",
    "pinned_workspace",
  );
  add(
    await readWithin(pinnedItems(ctx, workspaceId, run.repoId), CANDIDATES_PER_SOURCE, reads),
    "pinned",
    "pinned_repo",
  );
  add(await readWithin(itemsOfRun(ctx, workspaceId, run._id), CANDIDATES_PER_SOURCE, reads), "run", "run_item");
  const goalTerms = (run.goal ?? "").split(/\s+/).filter(Boolean).slice(0, SEARCH_TERMS).join(" ");
  const matches = await readWithin(searchItems(ctx, workspaceId, goalTerms), SEARCH_MATCHES, reads);
  // Items of another repo are not context for this run, however well they match.
  add(
    matches.filter((item) => item.repoId === undefined || item.repoId === run.repoId),
    "search",
    "goal_match",
  );
  return candidates;
}

function entryView(entry: PackEntry) {
  return {
    id: entry.contextItemId,
    status: entry.status,
    origin: entry.origin,
    reason: entry.reason,
    textBytes: entry.textBytes,
  };
}

/** `POST /v1/context-packs/build-run-v1`: selects, stores and returns a pack for the run. */
export const build = workspaceInternalMutation({
  minRole: "member",
  args: requestArgs(buildPackRequest),
  handler: async (ctx, args) => {
    const { workspaceId } = ctx.access;
    const run = await requireRun(ctx, workspaceId, args.runId);
    const budget = {
      maxItems: args.maxItems ?? DEFAULT_PACK_MAX_ITEMS,
      maxTextBytes: args.maxTextBytes ?? DEFAULT_PACK_MAX_TEXT_BYTES,
    };
    const reads = new ReadBudget();
    const entries = selectPackItems(await candidatesFor(ctx, run, args.requestedContextItemIds ?? [], reads), budget);
    const contextPackId = await ctx.db.insert("contextPacks", {
      workspaceId,
      runId: run._id,
      items: entries,
      ...budget,
      expansionHints: args.expansionHints ?? [],
    });
    return { contextPackId, readBudgetReached: reads.reached, items: entries.map(entryView) };
  },
});

async function requirePack(ctx: QueryCtx, run: Doc<"runs">, rawPackId: string | undefined) {
  const pack =
    rawPackId === undefined
      ? await ctx.db
          .query("contextPacks")
          .withIndex("by_workspace_run", (q) => q.eq("workspaceId", run.workspaceId).eq("runId", run._id))
          .order("desc")
          .first()
      : await ctx.db.get("contextPacks", requireId(ctx, "contextPacks", rawPackId, "contextPackId"));
  if (pack === null || pack.workspaceId !== run.workspaceId || pack.runId !== run._id) {
    throw apiError(
      "CONTEXT_PACK_NOT_FOUND",
      rawPackId === undefined
        ? "This run has no context pack yet; build one first."
        : "No context pack with this id for this run.",
    );
  }
  return pack;
}

/**
 * resolve-run-v1 without live content: the pack's selected items with their current stored
 * text. An item deleted since the build is reported `missing`; items left once the read budget
 * is spent (their text may have grown since the build) are `omitted` with `read_budget`.
 */
const { expansionHints: _appliedByTheAction, ...packLookup } = requestArgs(resolvePackRequest);

export const pack = workspaceInternalQuery({
  minRole: "viewer",
  args: packLookup,
  handler: async (ctx, args) => {
    const { workspaceId } = ctx.access;
    const run = await requireRun(ctx, workspaceId, args.runId);
    const found = await requirePack(ctx, run, args.contextPackId);
    const reads = new ReadBudget();
    const items = [];
    for (const entry of found.items.filter((entry) => entry.status === "selected")) {
      const base = {
        id: entry.contextItemId,
        origin: entry.origin,
        title: null,
        kind: null,
        source: null,
        url: null,
        content: null,
      };
      if (!reads.allowsMore()) {
        items.push({ ...base, status: "omitted" as const, reason: "read_budget" as const });
        continue;
      }
      const item = await ctx.db.get("contextItems", entry.contextItemId as Id<"contextItems">);
      if (item === null) {
        items.push({ ...base, status: "missing" as const, reason: "not_found" as const });
        continue;
      }
      reads.charge(item);
      items.push({
        ...base,
        status: "selected" as const,
        reason: entry.reason,
        title: item.title,
        kind: item.kind,
        source: item.source,
        url: item.url ?? null,
        content: item.text ?? null,
      });
    }
    return { contextPackId: found._id, expansionHints: found.expansionHints, items };
  },
});

/**
 * `POST /v1/context-packs/resolve-run-v1`: the pack's selected items with their stored text, and
 * with `fresh_v1` (asked now or at build) live text for items that have none but have a URL.
 * A failed fetch marks its item, never the call.
 */
export async function resolvePackWithLiveContent(
  ctx: ActionCtx,
  { expansionHints = [], ...lookup }: { caller: Caller } & z.output<typeof resolvePackRequest>,
) {
  const pack = await ctx.runQuery(internal.contextPacks.pack, lookup);
  const fresh = expansionHints.includes(FRESH_HINT) || pack.expansionHints.includes(FRESH_HINT);
  const live = pack.items.filter((item) => fresh && item.content === null && item.url !== null);
  const fetched = await fetchLiveAll(
    live.map((item) => item.url!),
    liveFetchPolicyOf(process.env),
  );
  const liveResults = new Map(live.map((item, index) => [item, fetched[index]!]));
  return {
    contextPackId: pack.contextPackId,
    items: pack.items.map((item) => {
      const result = liveResults.get(item);
      if (result === undefined) {
        return {
          ...item,
          contentSource: item.content === null ? ("none" as const) : ("stored" as const),
          fetchError: null,
        };
      }
      return result.ok
        ? { ...item, content: result.text, contentSource: "live" as const, fetchError: null }
        : { ...item, contentSource: "none" as const, fetchError: { code: result.error, message: result.message } };
    }),
  };
}
