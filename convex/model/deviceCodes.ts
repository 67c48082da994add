/**
 * Device login (SPEC §5), the parts without a database: session timings, the user code shown
 * on both the CLI and the approval page, a session's status as callers see it, the approval URL.
 */
import { v } from "convex/values";
import { randomSecret } from "./tokens";

export const DEVICE_SESSION_TTL_MS = 10 * 60_000;
/** How often the CLI is told to poll. */
export const DEVICE_POLL_INTERVAL_MS = 5_000;
/** How long a session is kept after it expired, so late polls still learn `expired`/`consumed`. */
export const DEVICE_SESSION_RETENTION_MS = 60 * 60_000;

/**
 * Consonants only: no vowels (no accidental words), no 0/O, 1/I/L-like pairs beyond L itself,
 * readable aloud. 20 letters, 8 of them: 20^8 ≈ 2.6e10 codes.
 */
export const USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ";
export const USER_CODE_PATTERN = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;
/** Largest multiple of the alphabet size that fits a byte: bytes above it are redrawn (no bias). */
const UNBIASED_BYTE_LIMIT = 256 - (256 % USER_CODE_ALPHABET.length);

export type RandomBytes = (count: number) => Uint8Array;

const cryptoBytes: RandomBytes = (count) => crypto.getRandomValues(new Uint8Array(count));

/** `WDJB-MJHT`: matched by eye between the terminal and the approval page, never a secret. */
export function generateUserCode(randomBytes: RandomBytes = cryptoBytes): string {
  const letters: string[] = [];
  while (letters.length < 8) {
    for (const byte of randomBytes(8 - letters.length)) {
      if (byte < UNBIASED_BYTE_LIMIT) letters.push(USER_CODE_ALPHABET[byte % USER_CODE_ALPHABET.length]!);
    }
  }
  return `${letters.slice(0, 4).join("")}-${letters.slice(4).join("")}`;
}

/** The public id of a session: it travels in URLs, so it is random rather than a document id. */
export function newDeviceId(): string {
  return `dev_${randomSecret(18)}`;
}

/**
 * `expired` is written by a function scheduled at `expiresAt` (deviceSessions.ts), so Console
 * queries show it without reading the clock; mutations also apply `deviceStatusAt` for the
 * moments between `expiresAt` and that function.
 */
export const DEVICE_STATUSES = ["pending", "approved", "denied", "consumed", "expired"] as const;
export type DeviceStatus = (typeof DEVICE_STATUSES)[number];
export type StoredDeviceStatus = DeviceStatus;
export const storedDeviceStatusValidator = v.union(...DEVICE_STATUSES.map((status) => v.literal(status)));

/** A session still pending or approved-but-uncollected at `expiresAt` is expired. */
export function deviceStatusAt(stored: StoredDeviceStatus, expiresAt: number, now: number): DeviceStatus {
  if ((stored === "pending" || stored === "approved") && now >= expiresAt) return "expired";
  return stored;
}

export type ApprovalUrlSettings = {
  localMode: boolean;
  localBaseUrl?: string;
  consoleUrl?: string;
};

/**
 * Where the person approves: the Console's device page, or in local mode the local server's
 * own page. Null when a deployment has no `IAS_CONSOLE_URL`, so there is nowhere to approve.
 */
export function approvalUrlFor(settings: ApprovalUrlSettings, deviceId: string): string | null {
  const id = encodeURIComponent(deviceId);
  if (settings.localMode) {
    return `${trimSlash(settings.localBaseUrl || "http://127.0.0.1:3211")}/local/device?id=${id}`;
  }
  return settings.consoleUrl ? `${trimSlash(settings.consoleUrl)}/auth/device?id=${id}` : null;
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}
