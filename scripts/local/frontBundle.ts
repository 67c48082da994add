/**
 * The HTTP front's code as one plain JavaScript module. A worker thread started on the
 * TypeScript (httpFrontEntry.mjs) registers tsx's loader hooks, which Node 20 runs on a thread and
 * isolate of their own: ~37 MiB of resident memory for compiling code the front loads once. So the
 * front (httpFront.ts and what it imports from the repo, `convex/http.ts` included) is bundled by
 * esbuild at each start (~0.1 s), packages left to Node, into `node_modules/.cache/ias-local/`,
 * named by its content's hash (concurrent starts write the same file; a changed source gets a new
 * one). Without esbuild, or where that folder cannot be written, the front runs through tsx as
 * before.
 */
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { messageOf } from "./messageOf";

export type FrontEntry = { url: URL; bundled: boolean };

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ENTRY = fileURLToPath(new URL("./httpFront.ts", import.meta.url));
const THROUGH_TSX = new URL("./httpFrontEntry.mjs", import.meta.url);
/** Inside the repo's node_modules, so the bundle's package imports resolve as the sources' do. */
export const FRONT_CACHE_DIR = join(ROOT, "node_modules", ".cache", "ias-local");
const FLAGS = [
  "--bundle",
  "--packages=external", // Node loads them from node_modules, as for the sources
  "--platform=node",
  "--format=esm",
  "--target=node20",
  "--legal-comments=none",
  "--log-level=error",
];
/** Other files there (bundles of other sources, left-overs of failed builds) are removed once this old. */
const STALE_MS = 24 * 60 * 60 * 1000;

/** Builds (or finds) the front's bundle; `log` hears why not, if it falls back to tsx. */
export function frontEntry(log: (line: string) => void, cacheDir = FRONT_CACHE_DIR): FrontEntry {
  const temporary = join(cacheDir, `build-${process.pid}-${Date.now()}.tmp`);
  try {
    mkdirSync(cacheDir, { recursive: true });
    // esbuild's binary rather than its JavaScript API: buildSync keeps ~16 MiB of this process.
    const esbuild = createRequire(import.meta.url).resolve("esbuild/bin/esbuild");
    execFileSync(esbuild, [ENTRY, ...FLAGS, `--outfile=${temporary}`], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe"],
    });
    const name = `httpFront-${createHash("sha256").update(readFileSync(temporary)).digest("hex").slice(0, 16)}.mjs`;
    const file = join(cacheDir, name);
    renameSync(temporary, file); // atomic: a concurrent start reads the whole file or none
    removeStale(cacheDir, name);
    return { url: pathToFileURL(file), bundled: true };
  } catch (error) {
    try {
      rmSync(temporary, { force: true });
    } catch {
      // The folder itself is unusable.
    }
    log(`Local server: the HTTP front runs through tsx (bundling it failed: ${messageOf(error).split("\n")[0]}).`);
    return { url: THROUGH_TSX, bundled: false };
  }
}

function removeStale(cacheDir: string, keep: string) {
  const now = Date.now();
  for (const other of readdirSync(cacheDir)) {
    if (other === keep) continue; // anything else here is an older bundle or a failed build's file
    const path = join(cacheDir, other);
    try {
      if (now - statSync(path).mtimeMs > STALE_MS) rmSync(path, { force: true });
    } catch {
      // Another start removed it first.
    }
  }
}
