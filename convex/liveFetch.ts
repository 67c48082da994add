/**
 * Live fetch for `fresh_v1` context packs (SPEC §8): one URL at a time within a timeout and a
 * byte cap read while streaming, redirects refused (they could leave the allowed hosts). A
 * failure describes that one item; it never fails the call. Which URLs may be fetched is
 * decided by model/liveFetch.ts.
 */
import { readBodyWithin } from "./api/http-util";
import {
  LIVE_FETCH_CONCURRENCY,
  LIVE_FETCH_MAX_BYTES,
  LIVE_FETCH_TIMEOUT_MS,
  LIVE_FETCH_TOTAL_BYTES,
  checkLiveFetchUrl,
  type LiveFetchFailure,
  type LiveFetchPolicy,
} from "./model/liveFetch";

export type LiveFetchResult = { ok: true; text: string; bytes: number } | LiveFetchFailure;

export type LiveFetchLimits = { timeoutMs: number; maxBytes: number };
const DEFAULT_LIMITS: LiveFetchLimits = { timeoutMs: LIVE_FETCH_TIMEOUT_MS, maxBytes: LIVE_FETCH_MAX_BYTES };

export async function fetchLive(
  rawUrl: string,
  policy: LiveFetchPolicy,
  limits: LiveFetchLimits = DEFAULT_LIMITS,
): Promise<LiveFetchResult> {
  const checked = checkLiveFetchUrl(rawUrl, policy);
  if (!checked.ok) return checked;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), limits.timeoutMs);
  try {
    const response = await fetch(checked.url, { signal: controller.signal, redirect: "manual" });
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      return { ok: false, error: "REDIRECT_NOT_FOLLOWED", message: `The source answered a redirect (${response.status}).` };
    }
    if (!response.ok) {
      await response.body?.cancel();
      return { ok: false, error: "HTTP_STATUS", message: `The source answered HTTP ${response.status}.` };
    }
    const bytes = await readBodyWithin(response, limits.maxBytes);
    if (bytes === "too_large") {
      return { ok: false, error: "TOO_LARGE", message: `The content is larger than ${limits.maxBytes} bytes.` };
    }
    return { ok: true, text: new TextDecoder().decode(bytes), bytes: bytes.byteLength };
  } catch {
    if (controller.signal.aborted) {
      return { ok: false, error: "TIMEOUT", message: `The source did not answer within ${limits.timeoutMs} ms.` };
    }
    return { ok: false, error: "NETWORK_ERROR", message: "The source could not be reached." };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Fetches the URLs of many items, a few at a time. Once the call's total live budget is spent,
 * the remaining items fail with TOTAL_BUDGET_EXHAUSTED instead of being fetched.
 */
export async function fetchLiveAll(
  urls: string[],
  policy: LiveFetchPolicy,
  limits: LiveFetchLimits = DEFAULT_LIMITS,
): Promise<LiveFetchResult[]> {
  const results: LiveFetchResult[] = [];
  let total = 0;
  for (let start = 0; start < urls.length; start += LIVE_FETCH_CONCURRENCY) {
    const batch = urls.slice(start, start + LIVE_FETCH_CONCURRENCY);
    if (total >= LIVE_FETCH_TOTAL_BYTES) {
      results.push(
        ...batch.map((): LiveFetchResult => ({
          ok: false,
          error: "TOTAL_BUDGET_EXHAUSTED",
          message: `This call already fetched ${LIVE_FETCH_TOTAL_BYTES} bytes live.`,
        })),
      );
      continue;
    }
    const fetched = await Promise.all(batch.map((url) => fetchLive(url, policy, limits)));
    for (const result of fetched) if (result.ok) total += result.bytes;
    results.push(...fetched);
  }
  return results;
}
