/**
 * Which URLs `fresh_v1` may fetch live (SPEC §8): https only, and only hosts listed in
 * `IAS_LIVE_FETCH_ALLOWED_HOSTS` (comma-separated, exact host names; none listed: nothing). A
 * bare host allows only the default https port; `host:port` allows that one port. Only textual
 * content types are decoded (`isTextualContentType`).
 *
 * Test-only escape hatch: with `IAS_LIVE_FETCH_ALLOW_INSECURE_LOCALHOST=true`, plain `http` is
 * also accepted for `127.0.0.1` and `localhost`, and still only when that host is listed. It
 * exists so tests can stand a local HTTP server in for a source; never set it in production.
 */

export const LIVE_FETCH_TIMEOUT_MS = 10_000;
export const LIVE_FETCH_MAX_BYTES = 1024 * 1024;
/** Live content one resolve call may add in total, so its answer stays well under Convex's limits. */
export const LIVE_FETCH_TOTAL_BYTES = 8 * 1024 * 1024;
/** Fetches in flight at once per resolve call. */
export const LIVE_FETCH_CONCURRENCY = 4;

/** Why a live fetch of one item failed; the item carries it, the call still succeeds. */
export const LIVE_FETCH_ERRORS = [
  "INVALID_URL",
  "NOT_HTTPS",
  "HOST_NOT_ALLOWED",
  "TIMEOUT",
  "TOO_LARGE",
  "TOTAL_BUDGET_EXHAUSTED",
  "HTTP_STATUS",
  "NOT_TEXT",
  "REDIRECT_NOT_FOLLOWED",
  "NETWORK_ERROR",
] as const;
export type LiveFetchError = (typeof LIVE_FETCH_ERRORS)[number];
export type LiveFetchFailure = { ok: false; error: LiveFetchError; message: string };

export type LiveFetchPolicy = { allowedHosts: string[]; allowInsecureLocalhost: boolean };

const LOCALHOSTS = new Set(["127.0.0.1", "localhost"]);

export function liveFetchPolicyOf(env: Record<string, string | undefined>): LiveFetchPolicy {
  return {
    allowedHosts: (env.IAS_LIVE_FETCH_ALLOWED_HOSTS ?? "")
      .split(",")
      // `host:443` is the bare host, as URL.host writes an https URL on its default port.
      .map((host) => host.trim().toLowerCase().replace(/:443$/, ""))
      .filter(Boolean),
    allowInsecureLocalhost: env.IAS_LIVE_FETCH_ALLOW_INSECURE_LOCALHOST === "true",
  };
}

/** The URL to fetch, or why it may not be fetched. `url.host` carries the port unless it is the default. */
export function checkLiveFetchUrl(raw: string, policy: LiveFetchPolicy): { ok: true; url: URL } | LiveFetchFailure {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, error: "INVALID_URL", message: "The item's url is not a valid URL." };
  }
  const hostname = url.hostname.toLowerCase();
  const allowed = policy.allowedHosts.includes(url.host.toLowerCase());
  const insecureLocal = url.protocol === "http:" && policy.allowInsecureLocalhost && LOCALHOSTS.has(hostname);
  if (url.protocol !== "https:" && !insecureLocal) {
    return { ok: false, error: "NOT_HTTPS", message: "Only https URLs are fetched live." };
  }
  if (!allowed) {
    return { ok: false, error: "HOST_NOT_ALLOWED", message: `${url.host} is not in IAS_LIVE_FETCH_ALLOWED_HOSTS.` };
  }
  return { ok: true, url };
}

const TEXTUAL_APPLICATION_TYPE =
  /^application\/(?:json|x-ndjson|xml|yaml|x-yaml|toml|javascript|ecmascript|x-sh|sql|graphql|[\w.-]+\+(?:json|xml|yaml))$/;

/**
 * Whether a `Content-Type` names text a pack can carry: `text/*`, JSON, XML, YAML and similar.
 * A missing type is not text: binary bodies would only decode to noise.
 */
export function isTextualContentType(header: string | null): boolean {
  const essence = (header ?? "").split(";")[0]!.trim().toLowerCase();
  return /^text\/[\w.+-]+$/.test(essence) || TEXTUAL_APPLICATION_TYPE.test(essence);
}

/** The decoder for a textual `Content-Type`: its charset when known, else UTF-8. */
export function textDecoderFor(header: string | null): TextDecoder {
  const charset = /;\s*charset="?([\w.:-]+)"?/i.exec(header ?? "")?.[1];
  try {
    return new TextDecoder(charset ?? "utf-8");
  } catch {
    return new TextDecoder("utf-8");
  }
}
