/** Page bounds for every list, HTTP or Console, so no answer nears Convex's read limits. */
import type { PaginationOptions } from "convex/server";

/**
 * Lists stop a page once it has read this much, so a response stays far below Convex's 16 MiB
 * per-function read and return limits however large the documents are; the cursor goes on.
 */
export const MAX_PAGE_BYTES = 4 * 1024 * 1024;

/** The most items a Console page holds, whatever `numItems` the client asks for. */
export const MAX_CONSOLE_PAGE_ITEMS = 200;

/** A client's pagination options within the bounds above. */
export function boundedPage(options: PaginationOptions): PaginationOptions {
  return {
    ...options,
    numItems: Math.min(Math.max(1, Math.floor(options.numItems)), MAX_CONSOLE_PAGE_ITEMS),
    maximumBytesRead: Math.min(options.maximumBytesRead ?? MAX_PAGE_BYTES, MAX_PAGE_BYTES),
  };
}
