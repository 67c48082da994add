/**
 * SHA-256 digests for the local runtime without Node's Web Crypto job queue. Every HTTP request
 * hashes its bearer token (convex/model/tokens.ts); Node runs `crypto.subtle.digest` as a
 * thread-pool job, which cost about 0.15 ms of main-thread CPU per call under the server's load,
 * against a few microseconds for `createHash`. The answer is the same bytes in a fresh
 * ArrayBuffer; any other algorithm or input goes to the original.
 */
import { createHash } from "node:crypto";

const INSTALLED = Symbol.for("ias.local.fastDigest");

/** Shadows `digest` on this process's SubtleCrypto instance (idempotent). */
export function installFastDigest(subtle: SubtleCrypto = globalThis.crypto.subtle) {
  const holder = subtle as SubtleCrypto & { [INSTALLED]?: true };
  if (holder[INSTALLED]) return;
  const original = subtle.digest.bind(subtle);
  const digest = (algorithm: AlgorithmIdentifier, data: BufferSource): Promise<ArrayBuffer> => {
    const bytes = isSha256(algorithm) ? bytesOf(data) : null;
    if (bytes === null) return original(algorithm, data);
    const hash = createHash("sha256").update(bytes).digest();
    const out = new ArrayBuffer(hash.length);
    new Uint8Array(out).set(hash);
    return Promise.resolve(out);
  };
  Object.defineProperty(subtle, "digest", { value: digest, configurable: true, writable: true });
  Object.defineProperty(subtle, INSTALLED, { value: true });
}

function isSha256(algorithm: AlgorithmIdentifier): boolean {
  const name = typeof algorithm === "string" ? algorithm : (algorithm as { name?: unknown } | null)?.name;
  return typeof name === "string" && name.toUpperCase() === "SHA-256";
}

/** The bytes of a BufferSource, or null for anything Web Crypto would have to judge itself. */
function bytesOf(data: BufferSource): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}
