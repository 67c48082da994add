#!/usr/bin/env node
/**
 * Bundles the CLI (scripts/cli/ias.ts and what it imports) into one JavaScript file,
 * scripts/cli/dist/ias.mjs, so `ias` starts in plain Node instead of compiling TypeScript through
 * tsx at every call. Run by `npm install` / `npm ci` (the `prepare` script) and `npm run build:cli`;
 * the output is not committed. Next to it, inputs.json lists the sources it was built from, so
 * bin.mjs can tell a bundle older than the sources and fall back to tsx.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = new URL("../../", import.meta.url);
// Another output folder may be given (tests build into a temporary one).
const dist = process.argv[2] ? pathToFileURL(`${resolve(process.argv[2])}/`) : new URL("./dist/", import.meta.url);

let esbuild;
try {
  esbuild = await import("esbuild");
} catch {
  // Without esbuild (an install that skipped it) `ias` still works, through tsx.
  console.warn("build:cli: esbuild is not installed; ias will run through tsx (slower to start).");
  process.exit(0);
}

mkdirSync(dist, { recursive: true });
const result = await esbuild.build({
  absWorkingDir: fileURLToPath(root), // metafile paths relative to the repo root
  entryPoints: [fileURLToPath(new URL("./ias.ts", import.meta.url))],
  outfile: fileURLToPath(new URL("ias.mjs", dist)),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  metafile: true,
  legalComments: "none",
  // Less to parse at every start (about 25 ms of CPU on a 2-core machine); errors print messages, not stacks.
  minify: true,
  logLevel: "warning",
});
const inputs = Object.keys(result.metafile.inputs).filter((path) => !path.includes("node_modules/"));
writeFileSync(new URL("inputs.json", dist), `${JSON.stringify(inputs, null, 2)}\n`);
console.log(`build:cli: ${fileURLToPath(new URL("ias.mjs", dist))} from ${inputs.length} sources`);
