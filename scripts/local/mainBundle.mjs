/**
 * The local server's main thread as one plain JavaScript module, so `npm start` runs it without
 * tsx. tsx compiles TypeScript in loader hooks that Node 20 runs on a thread and isolate of their
 * own (~35 MiB of resident memory, for code the server loads once); the HTTP front already runs
 * from a bundle for that reason (frontBundle.ts). Plain JavaScript, since it runs before any
 * TypeScript can be loaded.
 *
 * At each start (~0.3 s, in a child process: esbuild's JavaScript API keeps memory in the
 * process that calls it) esbuild bundles scripts/local-server.ts, what it imports from the repo,
 * and every module under convex/ (as a static module map: there is no loader left to import
 * them one by one), packages left to Node. Each file's `import.meta.url` becomes its own source
 * URL, so paths computed from it stay what they are unbundled. The bundle goes to
 * node_modules/.cache/ias-local/ named by its content's hash (concurrent starts write the same
 * file). If anything fails, `npm start` runs the sources through tsx as before, with one line
 * saying why.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SERVER = join(ROOT, "scripts", "local-server.ts");
const CONVEX_DIR = join(ROOT, "convex");
/** Where the HTTP front's bundle goes too (frontBundle.ts removes what is a day old there). */
export const MAIN_CACHE_DIR = join(ROOT, "node_modules", ".cache", "ias-local");
/** The global the bundle's module map is handed over in (read by modules.ts). */
export const MODULES_KEY = "ias.local.convexModules";
const SOURCE_FILE = /\.(ts|js|mjs|cjs)$/;
/** Spelled in pieces: this file is bundled too, and its own text must not be replaced. */
const IMPORT_META_URL = ["import", "meta", "url"].join(".");

/**
 * Builds the main thread's bundle; returns its URL, or null after `log` heard why not.
 * @param {(line: string) => void} log
 * @param {string} [cacheDir]
 * @returns {URL | null}
 */
export function mainEntry(log, cacheDir = MAIN_CACHE_DIR) {
  const temporary = join(cacheDir, `main-${process.pid}-${Date.now()}.tmp`);
  try {
    mkdirSync(cacheDir, { recursive: true });
    execFileSync(process.execPath, [fileURLToPath(import.meta.url), temporary], {
      cwd: ROOT,
      stdio: ["ignore", "ignore", "pipe"],
    });
    const name = `main-${createHash("sha256").update(readFileSync(temporary)).digest("hex").slice(0, 16)}.mjs`;
    renameSync(temporary, join(cacheDir, name)); // atomic: a concurrent start reads the whole file or none
    return pathToFileURL(join(cacheDir, name));
  } catch (error) {
    try {
      rmSync(temporary, { force: true });
    } catch {
      // The folder itself is unusable.
    }
    const message = error instanceof Error ? error.stderr?.toString() || error.message : String(error);
    log(`Local server: running the sources through tsx (bundling them failed: ${message.trim().split("\n")[0]}).`);
    return null;
  }
}

/**
 * Every module under convex/, keyed as convex-test expects (`../convex/<path>`, as modules.ts),
 * each evaluated when first asked for, as unbundled: some read the environment at evaluation
 * (auth.config.ts), which local-server.ts loads from .env.local first.
 */
function moduleMapSource() {
  const entries = sourceFiles(CONVEX_DIR).map((file) => {
    const key = `../convex/${relative(CONVEX_DIR, file).split(sep).join("/")}`;
    return `  ${JSON.stringify(key)}: () => import(${JSON.stringify(file)}),`;
  });
  return `globalThis[Symbol.for(${JSON.stringify(MODULES_KEY)})] = {\n${entries.join("\n")}\n};\n`;
}

/**
 * The module files under `dir` (convex/), sorted: what convex-test's module map holds, bundled
 * or not (modules.ts uses this too).
 * @param {string} dir
 * @returns {string[]}
 */
export function sourceFiles(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "node_modules") found.push(...sourceFiles(path));
    } else if (SOURCE_FILE.test(entry.name) && !entry.name.endsWith(".d.ts") && !entry.name.includes(".test.")) {
      found.push(path);
    }
  }
  return found.sort();
}

/** The entry: the module map first, so it is set before local-server.ts (and the engine) runs. */
const VIRTUAL = {
  entry: () => `import "ias-main:modules";\nimport ${JSON.stringify(SERVER)};\n`,
  modules: moduleMapSource,
};

/** The child process: `node mainBundle.mjs OUTFILE`. */
async function build(outfile) {
  const esbuild = await import(createRequire(import.meta.url).resolve("esbuild"));
  await esbuild.build({
    entryPoints: ["ias-main:entry"],
    outfile,
    bundle: true,
    packages: "external", // Node loads them from node_modules, as for the sources
    platform: "node",
    format: "esm",
    target: "node20",
    legalComments: "none",
    logLevel: "error",
    absWorkingDir: ROOT,
    plugins: [
      {
        name: "virtual-entry",
        setup(plugin) {
          plugin.onResolve({ filter: /^ias-main:/ }, (args) => ({ path: args.path.slice(9), namespace: "ias-main" }));
          plugin.onLoad({ filter: /.*/, namespace: "ias-main" }, (args) => ({
            contents: VIRTUAL[args.path](),
            loader: "js",
            resolveDir: ROOT,
          }));
        },
      },
      {
        name: "own-import-meta-url",
        setup(plugin) {
          plugin.onLoad({ filter: /\.(ts|mts|js|mjs)$/ }, (args) => {
            if (args.path.includes(`${sep}node_modules${sep}`)) return undefined;
            const source = readFileSync(args.path, "utf8");
            if (!source.includes(IMPORT_META_URL)) return undefined;
            return {
              contents: source.replaceAll(IMPORT_META_URL, JSON.stringify(pathToFileURL(args.path).href)),
              loader: /\.m?ts$/.test(args.path) ? "ts" : "js",
              resolveDir: dirname(args.path),
            };
          });
        },
      },
    ],
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await build(process.argv[2]);
