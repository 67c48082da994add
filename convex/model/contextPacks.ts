/**
 * Context pack selection (SPEC §8), pure. Candidates arrive in priority order: requested items,
 * pinned items of the workspace or the run's repo, items tied to the run, then text-search
 * matches for the run's goal. Each distinct item is judged once, at its first (highest) origin.
 */
import { v } from "convex/values";
import type { PromotionState } from "./contextLake";

export const DEFAULT_PACK_MAX_ITEMS = 50;
export const DEFAULT_PACK_MAX_TEXT_BYTES = 64 * 1024;
/** Items a build-run-v1 call may request by id. */
export const MAX_REQUESTED_ITEMS = 100;

/** The expansion hint that fetches items without stored text live from their URL. */
export const FRESH_HINT = "fresh_v1";

export const PACK_ITEM_STATUSES = ["selected", "omitted", "missing"] as const;
export const PACK_ORIGINS = ["requested", "pinned", "run", "search"] as const;
/**
 * Why an item got its status: how it was found (`requested`, `pinned_workspace`, `pinned_repo`,
 * `run_item`, `goal_match`) when selected, else what kept it out. `read_budget`: the item was
 * not read because the call had already read `ITEM_READ_BUDGET_BYTES` of items.
 */
export const PACK_REASONS = [
  "requested",
  "pinned_workspace",
  "pinned_repo",
  "run_item",
  "goal_match",
  "not_found",
  "item_budget",
  "text_budget",
  "rejected",
  "read_budget",
] as const;
export type PackItemStatus = (typeof PACK_ITEM_STATUSES)[number];
export type PackOrigin = (typeof PACK_ORIGINS)[number];
export type PackReason = (typeof PACK_REASONS)[number];

export const packEntryValidator = v.object({
  /** A contextItems id, or the raw string a caller requested when no such item exists. */
  contextItemId: v.string(),
  status: v.union(...PACK_ITEM_STATUSES.map((status) => v.literal(status))),
  origin: v.union(...PACK_ORIGINS.map((origin) => v.literal(origin))),
  reason: v.union(...PACK_REASONS.map((reason) => v.literal(reason))),
  textBytes: v.number(),
});

export type PackCandidate = {
  id: string;
  origin: PackOrigin;
  /** How it was found: the reason it carries when selected. */
  foundBy: PackReason;
  /** null: requested, but no such item in this workspace; "unread": the read budget was spent first. */
  item: { textBytes: number; promotionState: PromotionState } | null | "unread";
};

export type PackEntry = {
  contextItemId: string;
  status: PackItemStatus;
  origin: PackOrigin;
  reason: PackReason;
  textBytes: number;
};

export type PackBudget = { maxItems: number; maxTextBytes: number };

/**
 * Greedy selection in candidate order. An item too large for the remaining text budget is
 * omitted and smaller later items may still fit; once the item budget is spent everything left
 * is omitted. Rejected items only enter a pack when requested by id.
 */
export function selectPackItems(candidates: PackCandidate[], budget: PackBudget): PackEntry[] {
  const entries: PackEntry[] = [];
  const seen = new Set<string>();
  let selected = 0;
  let textBytes = 0;
  for (const candidate of candidates) {
    if (seen.has(candidate.id)) continue;
    seen.add(candidate.id);
    const entry = (status: PackItemStatus, reason: PackReason): PackEntry => ({
      contextItemId: candidate.id,
      status,
      origin: candidate.origin,
      reason,
      textBytes: candidate.item === null || candidate.item === "unread" ? 0 : candidate.item.textBytes,
    });
    const { item } = candidate;
    if (item === "unread") entries.push(entry("omitted", "read_budget"));
    else if (item === null) entries.push(entry("missing", "not_found"));
    else if (item.promotionState === "rejected" && candidate.origin !== "requested")
      entries.push(entry("omitted", "rejected"));
    else if (selected >= budget.maxItems) entries.push(entry("omitted", "item_budget"));
    else if (textBytes + item.textBytes > budget.maxTextBytes) entries.push(entry("omitted", "text_budget"));
    else {
      selected += 1;
      textBytes += item.textBytes;
      entries.push(entry("selected", candidate.foundBy));
    }
  }
  return entries;
}
