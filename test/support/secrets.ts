/** Secrets for tests of constant-time comparison (`secretsEqual` hashes both sides first). */
import { sha256Hex } from "../../convex/model/tokens";

/**
 * A string other than `secret` whose SHA-256 digest starts with the same byte, found by search
 * (about 256 tries): a comparison that stops after the first digest byte would accept it.
 */
export async function secretSharingDigestPrefix(secret: string): Promise<string> {
  const prefix = (await sha256Hex(secret)).slice(0, 2);
  for (let i = 0; ; i++) {
    const candidate = `${secret}-${i}`;
    if ((await sha256Hex(candidate)).startsWith(prefix)) return candidate;
  }
}
