/**
 * Token minting, hashing and constant-time comparison. Pure Web Crypto: runs in the Convex
 * runtime, in HTTP actions and in Node alike.
 */

export const TOKEN_PREFIX = "ias_";
/** Characters of a token kept in clear for listing ("ias_" plus 8). */
export const VISIBLE_PREFIX_LENGTH = 12;
export const DEFAULT_TOKEN_TTL_MS = 90 * 24 * 60 * 60 * 1000;
/** `lastUsedAt` is refreshed at most this often, so requests do not write on every call. */
export const LAST_USED_RESOLUTION_MS = 60_000;

export function randomSecret(bytes = 32): string {
  const buffer = new Uint8Array(bytes);
  crypto.getRandomValues(buffer);
  return base64Url(buffer);
}

export function mintToken(): { token: string; prefix: string } {
  const token = TOKEN_PREFIX + randomSecret(32);
  return { token, prefix: token.slice(0, VISIBLE_PREFIX_LENGTH) };
}

export async function sha256Hex(text: string): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** HMAC-SHA256 of `message` keyed with `secret` (both UTF-8), in hex: Slack's and our webhooks' signatures. */
export async function hmacSha256Hex(secret: string, message: string): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return hex(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
}

export function hex(bytes: ArrayBuffer | Uint8Array): string {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Compares two secrets without leaking where they differ: both are hashed first, so the
 * loop always runs over 32 bytes whatever the inputs' lengths.
 */
export async function secretsEqual(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([digest(given), digest(expected)]);
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
}

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

export function base64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
