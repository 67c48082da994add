/**
 * Which URL the CLI talks to. People paste the deployment URL (`https://x.convex.cloud`), the
 * site URL (`https://x.convex.site`), the API base (`.../control-plane`) or the local server;
 * all of them become one canonical site origin, which also keys the stored logins.
 */

const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);
const API_PREFIX = "/control-plane";

/** A URL the user gave that we refuse, with the reason worded for them. */
export class SiteUrlError extends Error {
  override name = "SiteUrlError";
}

/**
 * The canonical site origin for `input`: lower-case host, `.convex.cloud` turned into
 * `.convex.site`, no trailing slash or `/control-plane`. https is required except on loopback
 * hosts, where plain http is allowed (the local server). A missing scheme means https, or http
 * on loopback.
 */
export function toSiteUrl(input: string): string {
  const trimmed = input.trim();
  if (trimmed === "") throw new SiteUrlError("The URL is empty.");
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `${defaultScheme(trimmed)}://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new SiteUrlError(`"${input}" is not a URL.`);
  }
  if (url.username || url.password) throw new SiteUrlError("The URL must not contain a user name or password.");
  if (url.search || url.hash) throw new SiteUrlError("The URL must not contain a query or fragment.");
  const loopback = LOOPBACK_HOSTS.has(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
    throw new SiteUrlError(
      `Use https:// (plain http is only allowed for localhost and 127.0.0.1), got "${url.protocol}//".`,
    );
  }
  const path = url.pathname.replace(/\/+$/, "");
  if (path !== "" && path !== API_PREFIX) {
    throw new SiteUrlError(`Give the deployment's base URL, without a path (got "${url.pathname}").`);
  }
  const host = url.host.replace(/\.convex\.cloud$/, ".convex.site");
  return `${url.protocol}//${host}`;
}

/** `https://x.convex.site/control-plane`: the prefix of every API route. */
export function apiBaseUrl(siteUrl: string): string {
  return `${siteUrl}${API_PREFIX}`;
}

function defaultScheme(hostAndRest: string): "http" | "https" {
  const host = hostAndRest.split(/[/:]/, 1)[0]!.toLowerCase();
  return LOOPBACK_HOSTS.has(host) || hostAndRest.startsWith("[::1]") ? "http" : "https";
}
