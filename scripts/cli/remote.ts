/**
 * Repo identity without sending the remote URL anywhere: the control plane only sees the
 * SHA-256 of the normalised `origin` URL, so every clone of one repository must normalise to
 * the same string however it was cloned.
 *
 * Normalisation (`host/path`):
 *   - scheme dropped (`https://`, `http://`, `ssh://`, `git://`, `git+ssh://`, scp-style `host:path`)
 *   - credentials dropped (`user:token@`, `git@`)
 *   - host lower-cased; the scheme's default port dropped (22, 80, 443, 9418), other ports kept
 *   - path: repeated and trailing slashes and one trailing `.git` removed; case kept (some
 *     hosts have case-sensitive paths)
 *   - local remotes (`/srv/repo.git`, `file:///srv/repo.git`) become `file:/srv/repo`
 *
 * So `git@GitHub.com:acme/widgets.git`, `https://user:tok@github.com/acme/widgets` and
 * `ssh://git@github.com:22/acme/widgets.git/` all become `github.com/acme/widgets`.
 */
import { createHash } from "node:crypto";

const DEFAULT_PORTS: Record<string, string> = {
  "ssh:": "22",
  "git+ssh:": "22",
  "ssh+git:": "22",
  "http:": "80",
  "https:": "443",
  "git:": "9418",
};

export class RemoteUrlError extends Error {
  override name = "RemoteUrlError";
}

export function normalizeRemoteUrl(raw: string): string {
  const remote = raw.trim();
  if (remote === "") throw new RemoteUrlError("The remote URL is empty.");
  if (/^file:\/\//i.test(remote)) return `file:${cleanPath(decodePath(remote, remote.slice("file://".length)))}`;
  if (remote.startsWith("/")) return `file:${cleanPath(remote)}`;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(remote)) return fromUrl(remote);
  // scp-like syntax: [user@]host:path, where host has no slash (else git treats it as a local path).
  const scp = /^(?:[^@/]+@)?(\[[^\]]+\]|[^:/]+):(.+)$/.exec(remote);
  if (scp) return joinHostPath(scp[1]!.toLowerCase(), scp[2]!);
  throw new RemoteUrlError(
    `Cannot read the remote URL "${redactCredentials(remote)}"; use an absolute URL or host:path.`,
  );
}

/** SHA-256 (hex) of the normalised remote: what `/v1/repos/*` calls `remoteUrlHash`. */
export function remoteUrlHash(raw: string): string {
  return createHash("sha256").update(normalizeRemoteUrl(raw), "utf8").digest("hex");
}

/** A short human label for a repo (its last path segment), which reveals no host or owner. */
export function repoLabel(raw: string): string {
  const normalized = normalizeRemoteUrl(raw);
  return normalized.slice(normalized.lastIndexOf("/") + 1) || normalized;
}

/** The URL without `user:password@`, safe to print in an error message. */
export function redactCredentials(remote: string): string {
  return remote.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, "$1");
}

function fromUrl(remote: string): string {
  let url: URL;
  try {
    url = new URL(remote);
  } catch {
    throw new RemoteUrlError(`Cannot read the remote URL "${redactCredentials(remote)}".`);
  }
  const port = url.port && url.port !== DEFAULT_PORTS[url.protocol.toLowerCase()] ? `:${url.port}` : "";
  return joinHostPath(`${url.hostname.toLowerCase()}${port}`, decodePath(remote, url.pathname));
}

function decodePath(remote: string, path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    throw new RemoteUrlError(`The remote URL "${redactCredentials(remote)}" has an invalid percent-encoding (%XX).`);
  }
}

function joinHostPath(host: string, path: string): string {
  const cleaned = cleanPath(path).replace(/^\/+/, "");
  if (cleaned === "") throw new RemoteUrlError(`The remote URL has no repository path after "${host}".`);
  return `${host}/${cleaned}`;
}

function cleanPath(path: string): string {
  return path
    .replace(/\/{2,}/g, "/")
    .replace(/\/+$/, "")
    .replace(/\.git$/, "")
    .replace(/\/+$/, "");
}
