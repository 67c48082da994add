/**
 * Upgrades documents written by earlier versions of this project as local mode loads them, so
 * an old data directory keeps working. Each rule names the version that changed the shape.
 */
import type { Value } from "convex/values";
import { tableOf } from "./convexTestInternals";

type Document = Record<string, Value>;

/** The document as this version stores it (the same object when nothing changes). */
export function upgradeDocument(id: string, document: Document): Document {
  // SPEC §6: the status `claimed` was renamed `running` (the event type `claimed` stays).
  if (tableOf(id) === "jobs" && document.status === "claimed") return { ...document, status: "running" };
  return document;
}
