/**
 * Prints the two env vars @convex-dev/auth needs to sign Console sessions (`npm run auth-keys`):
 *   JWT_PRIVATE_KEY  an RS256 private key (PKCS#8, newlines folded to spaces)
 *   JWKS             the matching public key set
 * Set both on the deployment with `npx convex env set`. Keep the private key secret.
 */
import { exportJWK, exportPKCS8, generateKeyPair } from "jose";

export async function generateAuthKeys(): Promise<{ JWT_PRIVATE_KEY: string; JWKS: string }> {
  const keys = await generateKeyPair("RS256", { extractable: true });
  const privateKey = await exportPKCS8(keys.privateKey);
  const publicKey = await exportJWK(keys.publicKey);
  return {
    JWT_PRIVATE_KEY: privateKey.trimEnd().replace(/\n/g, " "),
    JWKS: JSON.stringify({ keys: [{ use: "sig", ...publicKey }] }),
  };
}

if (process.argv[1]?.endsWith("auth-keys.ts")) {
  const keys = await generateAuthKeys();
  console.log(`JWT_PRIVATE_KEY="${keys.JWT_PRIVATE_KEY}"`);
  console.log(`JWKS=${keys.JWKS}`);
}
