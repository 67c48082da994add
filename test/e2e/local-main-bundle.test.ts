// @vitest-environment node
/**
 * `npm start` (scripts/start.mjs) runs the server's main thread from one esbuild bundle of its
 * sources and convex/ (scripts/local/mainBundle.mjs), so the process has no tsx loader-hooks
 * thread; it falls back to the sources through tsx when the bundle cannot be built. Every other
 * e2e suite starts its servers the same way (test/support/local-process.ts).
 */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, test } from "vitest";
import { mainEntry } from "../../scripts/local/mainBundle.mjs";
import { convexModuleMap } from "../../scripts/local/modules";
import { makeTempDir, removeTempDirs, spawnLocalServer, type LocalProcess } from "../support/local-process";

const servers: LocalProcess[] = [];
afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  removeTempDirs();
});

const threadsOf = (pid: number) => readdirSync(`/proc/${pid}/task`).length;

test("npm start serves from the bundle, with one thread fewer than the sources through tsx", async () => {
  const bundled = await spawnLocalServer();
  servers.push(bundled);
  const throughTsx = await spawnLocalServer({ throughTsx: true });
  servers.push(throughTsx);
  for (const server of [bundled, throughTsx]) {
    const health = await fetch(`${server.apiUrl}/health`);
    expect(health.status).toBe(200);
  }
  expect(bundled.output()).not.toMatch(/through tsx/);
  // tsx's loader hooks run on a thread (and V8 isolate) of their own; the bundle needs none.
  expect(threadsOf(bundled.proc.pid!)).toBe(threadsOf(throughTsx.proc.pid!) - 1);
});

test("the bundle holds the server and every convex/ module; only package and Node imports remain", () => {
  const cacheDir = join(makeTempDir(), "cache");
  const logged: string[] = [];
  const first = mainEntry((line) => logged.push(line), cacheDir);
  expect(first).not.toBeNull();
  const file = fileURLToPath(first!);
  expect(dirname(file)).toBe(cacheDir);
  expect(basename(file)).toMatch(/^main-[0-9a-f]{16}\.mjs$/);
  const code = readFileSync(file, "utf8");
  const specifiers = [...code.matchAll(/^import .* from "([^"]+)";$/gm)].map((match) => match[1]!);
  expect(specifiers).toEqual(expect.arrayContaining(["convex/values", "node:fs"]));
  expect(specifiers.filter((specifier) => specifier.startsWith(".") || /\.(ts|mts)$/.test(specifier))).toEqual([]);
  // convex/ modules are imported lazily (auth.config.ts reads the environment), yet bundled.
  const dynamic = [...code.matchAll(/\bimport\("([^"]+)"\)/g)].map((match) => match[1]!);
  expect(dynamic).toContain("convex-test");
  expect(dynamic.filter((specifier) => /^[./]|^file:|\.(ts|mts)$/.test(specifier))).toEqual([]);
  // Each file's import.meta.url was replaced by its own source URL (paths from it stay right).
  expect(code).not.toContain("import.meta.url");
  expect(code).toContain(JSON.stringify(new URL("../../scripts/local/modules.ts", import.meta.url).href));
  // The static module map has the same keys modules.ts walks for convex-test.
  const keys = Object.keys(convexModuleMap());
  expect(keys).toEqual(expect.arrayContaining(["../convex/leases.ts", "../convex/_generated/api.js"]));
  expect(keys.filter((key) => !code.includes(JSON.stringify(key)))).toEqual([]);

  // The same sources give the same file, and the build's temporary files are gone.
  const second = mainEntry((line) => logged.push(line), cacheDir);
  expect(second!.href).toBe(first!.href);
  expect(readdirSync(cacheDir)).toEqual([basename(file)]);
  expect(logged).toEqual([]);
});

test("where the bundle cannot be written, it says so and npm start runs the sources through tsx", () => {
  const notADirectory = join(makeTempDir(), "file");
  writeFileSync(notADirectory, "");
  const logged: string[] = [];
  expect(mainEntry((line) => logged.push(line), join(notADirectory, "cache"))).toBeNull();
  expect(logged).toHaveLength(1);
  expect(logged[0]).toMatch(/^Local server: running the sources through tsx \(bundling them failed: .+\)\.$/);
});
