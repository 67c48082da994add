/**
 * Outbound webhooks (SPEC §9b), the pure parts: event types, the retry schedule, the signature
 * (`x-ias-signature: t=<unix seconds>,v1=<hex HMAC-SHA256 over "<t>.<body>">`) and the
 * encryption of endpoint secrets at rest. Web Crypto only: runs in mutations, actions and Node.
 *
 * Secrets are encrypted, not hashed: signing needs the secret itself, and a hash cannot sign.
 * AES-256-GCM with the deployment key `IAS_WEBHOOK_SECRET_KEY` (32 random bytes, base64url); the
 * workspace id is the additional data, so a ciphertext copied to another workspace's row does
 * not decrypt there. Stored as `v1.<key id>.<iv>.<ciphertext>`; the key id (8 hex characters of
 * the key's SHA-256) tells which key a secret needs once keys are changed.
 */
import { v, type Infer } from "convex/values";
import { base64Url, hex, hmacSha256Hex, randomSecret } from "./tokens";

export const WEBHOOK_EVENT_TYPES = ["job.finished", "job.failed", "decision.opened", "run.finished"] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
/** What "send test event" delivers; no endpoint subscribes to it. */
export const WEBHOOK_TEST_EVENT = "webhook.test";
export const webhookEventTypeValidator = v.union(...WEBHOOK_EVENT_TYPES.map((type) => v.literal(type)));
export const webhookDeliveryTypeValidator = v.union(webhookEventTypeValidator, v.literal(WEBHOOK_TEST_EVENT));
export type WebhookDeliveryType = Infer<typeof webhookDeliveryTypeValidator>;

export const WEBHOOK_DELIVERY_STATES = ["pending", "delivered", "failed"] as const;
export const webhookDeliveryStateValidator = v.union(...WEBHOOK_DELIVERY_STATES.map((state) => v.literal(state)));

export const MAX_WEBHOOK_ENDPOINTS = 10;
/** Deliveries kept per endpoint, newest first, with their status code and latency. */
export const WEBHOOK_DELIVERIES_KEPT = 100;
export const WEBHOOK_TIMEOUT_MS = 10_000;
/** Retries go on this long after the first attempt. */
export const WEBHOOK_RETRY_WINDOW_MS = 24 * 60 * 60 * 1000;
const FIRST_RETRY_MS = 30_000;
const MAX_RETRY_MS = 60 * 60 * 1000;

/**
 * When to try again after `attemptsMade` failed attempts of a delivery created at `createdAt`:
 * 30 s, then doubling up to an hour between attempts; null once that would pass 24 hours.
 */
export function nextAttemptAt(createdAt: number, attemptsMade: number, now: number): number | null {
  const delay = Math.min(FIRST_RETRY_MS * 2 ** (attemptsMade - 1), MAX_RETRY_MS);
  const next = now + delay;
  return next <= createdAt + WEBHOOK_RETRY_WINDOW_MS ? next : null;
}

export const WEBHOOK_SECRET_PREFIX = "whsec_";
/** Characters of a secret kept in clear for the Console list ("whsec_" plus 4). */
const VISIBLE_SECRET_LENGTH = 10;

export function mintWebhookSecret(): { secret: string; prefix: string } {
  const secret = WEBHOOK_SECRET_PREFIX + randomSecret(32);
  return { secret, prefix: secret.slice(0, VISIBLE_SECRET_LENGTH) };
}

/** The `x-ias-signature` header value for `body` signed at `unixSeconds`. */
export async function signatureHeader(secret: string, body: string, unixSeconds: number): Promise<string> {
  return `t=${unixSeconds},v1=${await hmacSha256Hex(secret, `${unixSeconds}.${body}`)}`;
}

/** The deployment key from `IAS_WEBHOOK_SECRET_KEY`, or null when it is unset or not 32 bytes. */
export function webhookKeyBytes(env: Record<string, string | undefined>): Uint8Array<ArrayBuffer> | null {
  const text = env.IAS_WEBHOOK_SECRET_KEY;
  if (!text) return null;
  try {
    const bytes = fromBase64Url(text.trim());
    return bytes.length === 32 ? bytes : null;
  } catch {
    return null;
  }
}

export async function encryptSecret(keyBytes: Uint8Array<ArrayBuffer>, secret: string, workspaceId: string) {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await aesKey(keyBytes, "encrypt");
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: utf8(workspaceId) },
    key,
    utf8(secret),
  );
  return `v1.${await keyId(keyBytes)}.${base64Url(iv)}.${base64Url(new Uint8Array(sealed))}`;
}

/** The secret, or null when this key (or workspace) cannot open the ciphertext. */
export async function decryptSecret(
  keyBytes: Uint8Array<ArrayBuffer>,
  sealed: string,
  workspaceId: string,
): Promise<string | null> {
  const [version, id, iv, data] = sealed.split(".");
  if (version !== "v1" || id !== (await keyId(keyBytes)) || iv === undefined || data === undefined) return null;
  try {
    const key = await aesKey(keyBytes, "decrypt");
    const opened = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromBase64Url(iv), additionalData: utf8(workspaceId) },
      key,
      fromBase64Url(data),
    );
    return new TextDecoder().decode(opened);
  } catch {
    return null;
  }
}

async function aesKey(keyBytes: Uint8Array<ArrayBuffer>, use: "encrypt" | "decrypt") {
  return await crypto.subtle.importKey("raw", keyBytes, { name: "AES-GCM" }, false, [use]);
}

async function keyId(keyBytes: Uint8Array<ArrayBuffer>): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-256", keyBytes)).slice(0, 8);
}

const utf8 = (text: string) => new TextEncoder().encode(text);

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}
