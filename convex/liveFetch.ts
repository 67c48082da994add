/**
 * Live fetch for `fresh_v1` context packs (SPEC §8): each URL within a timeout and a byte cap
 * read while streaming, redirects refused (they could leave the allowed hosts), text content
 * types only. A failure describes that one item; it never fails the call. Which URLs may be
 * fetched, and which content types count as text, is decided by model/liveFetch.ts.
 */
import { readBodyWithin } from "./api/httpUtil";
import {
  LIVE_FETCH_CONCURRENCY,
  LIVE_FETCH_MAX_BYTES,
  LIVE_FETCH_TIMEOUT_MS,
  LIVE_FETCH_TOTAL_BYTES,
  checkLiveFetchUrl,
  isTextualContentType,
  textDecoderFor,
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
      return {
        ok: false,
        error: "REDIRECT_NOT_FOLLOWED",
        message: `The source answered a redirect (${response.status}).`,
      };
    }
    if (!response.ok) {
      await response.body?.cancel();
      return { ok: false, error: "HTTP_STATUS", message: `The source answered HTTP ${response.status}.` };
    }
    const contentType = response.headers.get("content-type");
    if (!isTextualContentType(contentType)) {
      await response.body?.cancel();
      return {
        ok: false,
        error: "NOT_TEXT",
        message: `The content type ${JSON.stringify(contentType ?? "(none)")} is not text.`,
      };
    }
    const bytes = await readBodyWithin(response, limits.maxBytes);
    if (bytes === "too_large") {
      return { ok: false, error: "TOO_LARGE", message: `The content is larger than ${limits.maxBytes} bytes.` };
    }
    return { ok: true, text: textDecoderFor(contentType).decode(bytes), bytes: bytes.byteLength };
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
 * Fetches the URLs of many items, a few at a time. Each fetch first reserves its byte cap from
 * the call's total live budget (less when less is left) and returns what it did not read, so
 * the call never reads more than `totalBytes`; an item that finds the budget spent fails with
 * TOTAL_BUDGET_EXHAUSTED instead of being fetched.
 */
export async function fetchLiveAll(
  urls: string[],
  policy: LiveFetchPolicy,
  limits: LiveFetchLimits = DEFAULT_LIMITS,
  totalBytes = LIVE_FETCH_TOTAL_BYTES,
): Promise<LiveFetchResult[]> {
  const results: LiveFetchResult[] = [];
  const exhausted: LiveFetchResult = {
    ok: false,
    error: "TOTAL_BUDGET_EXHAUSTED",
    message: `This call's live budget of ${totalBytes} bytes is spent.`,
  };
  let unreserved = totalBytes;
  let next = 0;
  const fetchNext = async () => {
    while (next < urls.length) {
      const index = next++;
      const checked = checkLiveFetchUrl(urls[index]!, policy);
      if (!checked.ok) {
        results[index] = checked;
        continue;
      }
      const reserved = Math.min(limits.maxBytes, unreserved);
      if (reserved === 0) {
        results[index] = exhausted;
        continue;
      }
      unreserved -= reserved;
      const result = await fetchLive(urls[index]!, policy, { ...limits, maxBytes: reserved });
      unreserved += reserved - (result.ok ? result.bytes : 0);
      // Too large only for what was left of the budget, not for the per-item cap.
      const cutByBudget = !result.ok && result.error === "TOO_LARGE" && reserved < limits.maxBytes;
      results[index] = cutByBudget ? exhausted : result;
    }
  };
  await Promise.all(Array.from({ length: Math.min(LIVE_FETCH_CONCURRENCY, urls.length) }, fetchNext));
  return results;
}
