/**
 * Local mode file URLs (SPEC §8, §10). convex-test's storage has no URLs of its own, so the local
 * server serves uploads and downloads itself at these paths. A URL is valid until `expires`
 * (ms since epoch) and carries an HMAC of what it grants, keyed with the service token that
 * every local server has, so URLs cannot be guessed or altered and survive a restart.
 */
import { secretsEqual } from "./tokens";

export const LOCAL_FILES_PATH = "/local/files";
export const LOCAL_UPLOAD_PATH = `${LOCAL_FILES_PATH}/upload`;
export const LOCAL_FILE_URL_TTL_MS = 60 * 60 * 1000;

export type LocalFileGrant = { kind: "download"; storageId: string } | { kind: "upload" };

async function signatureOf(serviceToken: string, grant: LocalFileGrant, expiresAt: number): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(serviceToken),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const target = grant.kind === "download" ? grant.storageId : "";
  const mac = await crypto.subtle.sign(
    "HMAC",
    key,
    encoder.encode(`ias-local-files:v1:${grant.kind}:${target}:${expiresAt}`),
  );
  let binary = "";
  for (const byte of new Uint8Array(mac)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export async function localFileUrl(
  baseUrl: string,
  serviceToken: string,
  grant: LocalFileGrant,
  expiresAt: number,
): Promise<string> {
  const path =
    grant.kind === "download" ? `${LOCAL_FILES_PATH}/${encodeURIComponent(grant.storageId)}` : LOCAL_UPLOAD_PATH;
  const signature = await signatureOf(serviceToken, grant, expiresAt);
  return `${baseUrl}${path}?expires=${expiresAt}&signature=${signature}`;
}

/** Whether `url`'s query grants `grant` now. */
export async function localFileUrlGrants(
  url: URL,
  serviceToken: string,
  grant: LocalFileGrant,
  nowMs: number,
): Promise<boolean> {
  if (serviceToken === "") return false;
  const expires = url.searchParams.get("expires") ?? "";
  const signature = url.searchParams.get("signature") ?? "";
  if (!/^\d{1,16}$/.test(expires) || Number(expires) < nowMs) return false;
  const expected = await signatureOf(serviceToken, grant, Number(expires));
  return await secretsEqual(signature, expected);
}
