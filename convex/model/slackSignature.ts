/**
 * Slack request signing, version 0: `X-Slack-Signature: v0=<hex HMAC-SHA256 of
 * "v0:<timestamp>:<raw body>">` keyed with the app's signing secret. Pure Web Crypto.
 */
import { hmacSha256Hex, secretsEqual } from "./tokens";

/** Requests whose `X-Slack-Request-Timestamp` is further than this from now are refused (replays). */
export const SLACK_MAX_SKEW_SECONDS = 5 * 60;

export async function slackSignatureOf(secret: string, timestamp: string, rawBody: string): Promise<string> {
  return "v0=" + (await hmacSha256Hex(secret, `v0:${timestamp}:${rawBody}`));
}

export type SlackVerification = { ok: true } | { ok: false; reason: "missing" | "stale" | "mismatch" };

/** Checks a request's signature headers against its raw body at time `nowMs`. */
export async function verifySlackRequest(request: {
  secret: string;
  timestamp: string | null;
  signature: string | null;
  rawBody: string;
  nowMs: number;
}): Promise<SlackVerification> {
  const { timestamp, signature } = request;
  if (timestamp === null || signature === null || !/^\d{1,12}$/.test(timestamp))
    return { ok: false, reason: "missing" };
  if (Math.abs(request.nowMs / 1000 - Number(timestamp)) > SLACK_MAX_SKEW_SECONDS)
    return { ok: false, reason: "stale" };
  const expected = await slackSignatureOf(request.secret, timestamp, request.rawBody);
  return (await secretsEqual(signature, expected)) ? { ok: true } : { ok: false, reason: "mismatch" };
}
