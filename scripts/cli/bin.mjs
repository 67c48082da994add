#!/usr/bin/env node
// Launcher for `ias`. Runs the bundle that `npm install` builds (dist/ias.mjs, see build.mjs)
// when it is at least as new as every source it was built from; otherwise (never built, or
// sources edited since) the TypeScript through tsx, which is correct but slower to start. Either
// way in this same process, so signals (Ctrl-C drains a worker) and exit codes need no forwarding.
import { readFileSync, statSync } from "node:fs";

const dist = new URL("./dist/", import.meta.url);
const root = new URL("../../", import.meta.url);

function bundleIsFresh() {
  try {
    const builtAt = statSync(new URL("ias.mjs", dist)).mtimeMs;
    const inputs = JSON.parse(readFileSync(new URL("inputs.json", dist), "utf8"));
    return inputs.length > 0 && inputs.every((path) => statSync(new URL(path, root)).mtimeMs <= builtAt);
  } catch {
    return false; // missing, or a source it lists is gone
  }
}

if (bundleIsFresh()) {
  await import(new URL("ias.mjs", dist).href);
} else {
  const { tsImport } = await import("tsx/esm/api");
  await tsImport("./ias.ts", import.meta.url);
}
