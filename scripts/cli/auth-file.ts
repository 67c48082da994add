/**
 * `~/.ias/auth.json`, shared with the deployed IAS runner (SPEC §12): `{version: 1, entries:
 * [{convexDeploymentUrl, workspaceSlug, workspaceId, token, expiresAt?}]}`, mode 0600 in a 0700
 * folder. `ias` adds `source` and `savedAt` to the entries it writes, keeps every field and entry
 * it did not write (another deployment's, another workspace's, one it cannot read) and converts
 * its old `{current, logins}` layout on first use.
 *
 * One deployment, several spellings: `https://x.convex.cloud`, `https://x.convex.site/` and
 * `.../control-plane` are all the same deployment (compared by their site URL, url.ts).
 */
import { join } from "node:path";
import * as z from "zod/mini";
import { checked, readJsonFile, writeJsonFile } from "./files";
import { toSiteUrl } from "./url";

/** A stored login as the rest of the CLI uses it. */
export type Login = {
  /** Where the API is called (url.ts canonical site origin). */
  siteUrl: string;
  /** As stored, the key the runner matches on. */
  convexDeploymentUrl: string;
  workspaceSlug: string;
  workspaceId: string;
  token: string;
  /** `device`: minted by `ias auth login`; `provided`: given with --token; absent: written by another tool. */
  source?: string;
  savedAt?: string;
  /** Epoch ms, when the entry says. */
  expiresAt?: number;
};

const text = z.string().check(z.minLength(1));
const entrySchema = z.looseObject({
  convexDeploymentUrl: text,
  workspaceSlug: text,
  workspaceId: text,
  token: text,
  expiresAt: z.optional(z.union([z.number(), z.string()])),
  source: z.optional(z.string()),
  savedAt: z.optional(z.string()),
});

const fileSchema = z.looseObject({ version: z.literal(1), entries: z.array(z.unknown()) });
type StoredFile = z.infer<typeof fileSchema>;

const oldLayoutSchema = z.looseObject({
  current: z.optional(z.string()),
  logins: z.record(
    z.string(),
    z.looseObject({ siteUrl: z.string(), workspaceSlug: z.string(), workspaceId: z.string(), token: z.string() }),
  ),
});

const HINTS: Array<[RegExp, string]> = [
  [/^version$/, "this layout is version 1"],
  [/^entries$/, "a list of logins; run ias auth login to add one"],
];

/**
 * The file as stored (unknown fields and unreadable entries included), its usable logins, the
 * readable ones that expired, and how many entries `ias` cannot read (kept, never used).
 */
export type AuthStore = { path: string; file: StoredFile; logins: Login[]; expired: Login[]; unreadable: number };

export function authFilePath(home: string): string {
  return join(home, "auth.json");
}

export function readAuthStore(home: string, now = Date.now()): AuthStore {
  const path = authFilePath(home);
  const raw = readJsonFile(path);
  let file: StoredFile;
  if (raw === undefined) file = { version: 1, entries: [] };
  else if (isOldLayout(raw)) {
    file = convertOldLayout(checked(path, raw, oldLayoutSchema));
    writeJsonFile(path, file, 0o600, true); // converted on first use, so the runner finds these logins too
  } else file = checked(path, raw, fileSchema, HINTS);
  const readable = readableLogins(file);
  const expired = (login: Login) => login.expiresAt !== undefined && login.expiresAt <= now;
  return {
    path,
    file,
    logins: readable.filter((login) => !expired(login)),
    expired: readable.filter(expired),
    unreadable: file.entries.length - readable.length,
  };
}

function isOldLayout(raw: unknown): boolean {
  return typeof raw === "object" && raw !== null && "logins" in raw && !("entries" in raw);
}

/** `{current, logins}` → entries; the old `current` is always the login saved last, so order suffices. */
function convertOldLayout(old: z.infer<typeof oldLayoutSchema>): StoredFile {
  const keys = Object.keys(old.logins).sort((a, b) => Number(a === old.current) - Number(b === old.current));
  return {
    version: 1,
    entries: keys.map((key) => {
      const { siteUrl, ...rest } = old.logins[key]!;
      return { convexDeploymentUrl: deploymentUrlFor(siteUrl), ...rest };
    }),
  };
}

function readableLogins(file: StoredFile): Login[] {
  return file.entries.flatMap((entry) => {
    const parsed = z.safeParse(entrySchema, entry);
    const siteUrl = parsed.success ? siteUrlOrNull(parsed.data.convexDeploymentUrl) : null;
    if (!parsed.success || siteUrl === null) return []; // kept in the file, not used
    const { convexDeploymentUrl, workspaceSlug, workspaceId, token, source, savedAt } = parsed.data;
    const expiresAt = expiryMs(parsed.data.expiresAt);
    return [{ siteUrl, convexDeploymentUrl, workspaceSlug, workspaceId, token, source, savedAt, expiresAt }];
  });
}

/** Epoch ms from a number (seconds when it is too small to be ms) or a date string; undefined if unreadable. */
export function expiryMs(value: number | string | undefined): number | undefined {
  if (typeof value === "number") return value < 1e11 ? value * 1000 : value;
  if (typeof value === "string") {
    const parsed = Date.parse(value);
    return Number.isNaN(parsed) ? undefined : parsed;
  }
  return undefined;
}

/** Whether `url` names the deployment of `siteUrl` (any spelling, trailing slashes ignored). */
export function sameDeployment(url: string, siteUrl: string): boolean {
  return siteUrlOrNull(url) === siteUrl;
}

function siteUrlOrNull(url: string): string | null {
  try {
    return toSiteUrl(url);
  } catch {
    return null;
  }
}

/**
 * The URL written as `convexDeploymentUrl`: a Convex deployment's `.convex.cloud` URL (what the
 * runner is configured with), any other host (the local server) as its origin.
 */
export function deploymentUrlFor(siteUrl: string): string {
  return siteUrl.replace(/\.convex\.site$/, ".convex.cloud");
}

/**
 * Saves `login`: every entry of the same deployment and workspace gets the new token (keeping its
 * spelling and its other fields; an old `expiresAt` no longer applies), or a new entry is added.
 */
export function saveLogin(home: string, login: Omit<Login, "convexDeploymentUrl" | "expiresAt">): Login {
  const { path, file } = readAuthStore(home);
  const fresh = { workspaceId: login.workspaceId, token: login.token, source: login.source, savedAt: login.savedAt };
  let convexDeploymentUrl: string | undefined;
  const entries = file.entries.map((entry) => {
    if (!isEntryOf(entry, login.siteUrl, login.workspaceSlug)) return entry;
    const { expiresAt: _stale, ...kept } = entry as Record<string, unknown>;
    convexDeploymentUrl ??= String(kept.convexDeploymentUrl);
    return { ...kept, ...fresh };
  });
  if (convexDeploymentUrl === undefined) {
    convexDeploymentUrl = deploymentUrlFor(login.siteUrl);
    entries.push({ convexDeploymentUrl, workspaceSlug: login.workspaceSlug, ...fresh });
  }
  writeJsonFile(path, { ...file, entries }, 0o600, true);
  return { ...login, convexDeploymentUrl };
}

/** Removes the entries of one deployment and workspace (logout); every other entry stays. */
export function forgetLogin(home: string, siteUrl: string, workspaceSlug: string) {
  const { path, file } = readAuthStore(home);
  writeJsonFile(
    path,
    { ...file, entries: file.entries.filter((entry) => !isEntryOf(entry, siteUrl, workspaceSlug)) },
    0o600,
    true,
  );
}

function isEntryOf(entry: unknown, siteUrl: string, workspaceSlug: string): boolean {
  const fields = (typeof entry === "object" && entry !== null ? entry : {}) as Record<string, unknown>;
  return (
    typeof fields.convexDeploymentUrl === "string" &&
    fields.workspaceSlug === workspaceSlug &&
    sameDeployment(fields.convexDeploymentUrl, siteUrl)
  );
}
