/** Context Lake vocabulary (SPEC §8): promotion states, item limits and the searchable text. */
import { v } from "convex/values";

export const PROMOTION_STATES = ["proposed", "under_review", "approved", "rejected", "promoted"] as const;
export type PromotionState = (typeof PROMOTION_STATES)[number];
export const promotionStateValidator = v.union(...PROMOTION_STATES.map((state) => v.literal(state)));

/** Stored text of one item; matches the ingest body limit, so anything ingested fits. */
export const MAX_ITEM_TEXT_BYTES = 256 * 1024;
export const MAX_TITLE_LENGTH = 500;

/**
 * What the search index covers: the title and, when stored, the text. Items whose text the
 * data policy kept out stay findable by title, and never by text they do not hold.
 */
export function searchTextOf(item: { title: string; text?: string }): string {
  return item.text === undefined ? item.title : `${item.title}\n${item.text}`;
}
