/**
 * The workspace data policy applied to an integration event before anything is stored (SPEC §8).
 *   full           everything: metadata, item text, payload
 *   metadata_only  title, url and ids (no item text, no payload)
 *   none           nothing beyond the idempotency record (source, event type, key); no item
 */
import type { DataPolicy } from "./roles";

export type IncomingItem = { externalId: string; title: string; text?: string; url?: string; kind?: string };

export type IncomingEvent = {
  occurredAt?: number;
  /** The payload as JSON text (any keys allowed, which Convex field names are not). */
  payloadJson?: string;
  item?: IncomingItem;
};

export type StorableEvent = {
  event: {
    occurredAt?: number;
    externalId?: string;
    title?: string;
    url?: string;
    text?: string;
    payloadJson?: string;
  };
  /** What may go into the Context Lake, or null when nothing may. */
  item: IncomingItem | null;
};

export function applyDataPolicy(policy: DataPolicy, incoming: IncomingEvent): StorableEvent {
  if (policy === "none") return { event: {}, item: null };
  const item = incoming.item;
  const metadata = {
    occurredAt: incoming.occurredAt,
    externalId: item?.externalId,
    title: item?.title,
    url: item?.url,
  };
  if (policy === "metadata_only") {
    return { event: metadata, item: item === undefined ? null : { ...item, text: undefined } };
  }
  return {
    event: {
      ...metadata,
      text: item?.text,
      payloadJson: incoming.payloadJson,
    },
    item: item ?? null,
  };
}
