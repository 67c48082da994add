/** Context Lake vocabulary (SPEC §8): promotion states, item limits and the searchable text. */
import { v } from "convex/values";
import { utf8Bytes } from "./jobs";

export const PROMOTION_STATES = ["proposed", "under_review", "approved", "rejected", "promoted"] as const;
export type PromotionState = (typeof PROMOTION_STATES)[number];
export const promotionStateValidator = v.union(...PROMOTION_STATES.map((state) => v.literal(state)));

/** Stored text of one item; matches the ingest body limit, so anything ingested fits. */
export const MAX_ITEM_TEXT_BYTES = 256 * 1024;
export const MAX_TITLE_LENGTH = 500;
/**
 * Bytes of items one function reads before it stops reading (pack build and resolve, Console
 * search): half of Convex's 16 MiB per-transaction read limit, so the function's other reads
 * and the document that crosses the line (1 MiB at most) always fit. One item may hold its text
 * twice (`text` and `searchText`): about 512 KiB.
 */
export const ITEM_READ_BUDGET_BYTES = 8 * 1024 * 1024;

/**
 * What the search index covers: the title and, when stored, the text. Items whose text the
 * data policy kept out stay findable by title, and never by text they do not hold.
 */
export function searchTextOf(item: { title: string; text?: string }): string {
  return item.text === undefined ? item.title : `${item.title}\n${item.text}`;
}

/**
 * Counts the bytes of documents a call reads (their JSON size: close to what Convex counts) so
 * it stops reading before Convex's per-transaction limit would fail it.
 */
export class ReadBudget {
  private bytesRead = 0;
  /** Set once reading stopped, or was skipped, because the budget was spent. */
  reached = false;

  constructor(private readonly maxBytes: number = ITEM_READ_BUDGET_BYTES) {}

  /** Whether another document may be read; records that reading stopped when not. */
  allowsMore(): boolean {
    if (this.bytesRead >= this.maxBytes) this.reached = true;
    return !this.reached;
  }

  charge(doc: object): void {
    this.bytesRead += utf8Bytes(JSON.stringify(doc));
  }
}
