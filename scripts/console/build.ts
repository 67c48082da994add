/**
 * Builds the operator Console (scripts/console/app/) into static files with esbuild: no CDN,
 * nothing fetched, every byte from node_modules. The same files serve local mode (served by
 * the local server, talking to its own origin) and any deployment:
 *
 *   npm run console:build -- --convex-url https://x.convex.cloud [--out dist/console]
 *
 * Output: index.html, auth/device/index.html (where deployments' approval URLs land),
 * console/console.js, console/console.css, console/console.js.map, and console/config.js, the
 * runtime config (edit its URL to repoint a build without rebuilding).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_DIR = fileURLToPath(new URL("../../", import.meta.url));
const APP_DIR = join(REPO_DIR, "scripts/console/app");
export const DEFAULT_OUT_DIR = join(REPO_DIR, "dist/console");

export type ConsoleFile = { body: Buffer; contentType: string };
/** Relative path (as served under the Console's root) → file. */
export type ConsoleFiles = Map<string, ConsoleFile>;

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
};

export function contentTypeOf(path: string): string {
  return TYPES[path.slice(path.lastIndexOf("."))] ?? "application/octet-stream";
}

/** A deployment URL the Console may be pointed at: http(s), no path beyond "/", no query. */
export function checkConvexUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`--convex-url: "${url}" is not a URL (expected e.g. https://happy-otter-123.convex.cloud).`);
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw new Error(`--convex-url: must start with https:// (or http:// for a local backend), got "${url}".`);
  }
  if (parsed.search || parsed.hash || parsed.pathname.replace(/\/+$/, "") !== "") {
    throw new Error(`--convex-url: give the deployment's origin only, got "${url}".`);
  }
  return parsed.origin;
}

function page(prefix: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>IAS Console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${prefix}console/console.css">
<script src="${prefix}console/config.js"></script>
<script type="module" src="${prefix}console/console.js"></script>
</head>
<body>
<div id="root"><noscript>The IAS Console needs JavaScript.</noscript></div>
</body>
</html>
`;
}

/** The runtime config file; `null` means "the origin the Console is served from" (local mode). */
export function configScript(convexUrl: string | null): string {
  return `// Which Convex deployment this Console talks to. null: the origin it is served from.\nwindow.IAS_CONSOLE_CONFIG = ${JSON.stringify({ convexUrl })};\n`;
}

/** Bundles the app in memory. `convexUrl` null: same origin (local mode). */
export async function buildConsole(convexUrl: string | null): Promise<ConsoleFiles> {
  const esbuild = await import("esbuild");
  const result = await esbuild.build({
    absWorkingDir: REPO_DIR,
    entryPoints: { console: join(APP_DIR, "main.tsx") },
    bundle: true,
    write: false,
    outdir: join(REPO_DIR, "console-out/console"),
    format: "esm",
    target: "es2020",
    platform: "browser",
    jsx: "automatic",
    minify: true,
    sourcemap: "linked",
    legalComments: "linked",
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "silent",
  });
  const files: ConsoleFiles = new Map();
  for (const output of result.outputFiles) {
    const path = relative(join(REPO_DIR, "console-out"), output.path).split("\\").join("/");
    files.set(path, { body: Buffer.from(output.contents), contentType: contentTypeOf(path) });
  }
  const text = (path: string, body: string) =>
    files.set(path, { body: Buffer.from(body), contentType: contentTypeOf(path) });
  text("index.html", page(""));
  text("auth/device/index.html", page("../../"));
  text("console/config.js", configScript(convexUrl));
  return files;
}

/** Marks a folder as a Console build, so rebuilding may empty it and nothing else gets emptied. */
const MARKER = ".ias-console-build";

/** Replaces `outDir` with the files; refuses a non-empty folder that is not an earlier build. */
export function writeConsoleFiles(files: ConsoleFiles, outDir: string) {
  if (existsSync(outDir) && readdirSync(outDir).length > 0 && !existsSync(join(outDir, MARKER))) {
    throw new Error(`${outDir} is not empty and holds no earlier Console build: choose another --out.`);
  }
  rmSync(outDir, { recursive: true, force: true });
  for (const [path, file] of files) {
    const target = join(outDir, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, file.body);
  }
  writeFileSync(join(outDir, MARKER), "Built by npm run console:build; emptied on the next build.\n");
}

export function readConsoleFiles(dir: string, prefix = ""): ConsoleFiles {
  const files: ConsoleFiles = new Map();
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) for (const [inner, file] of readConsoleFiles(dir, path)) files.set(inner, file);
    else if (entry.name !== MARKER)
      files.set(path, { body: readFileSync(join(dir, path)), contentType: contentTypeOf(path) });
  }
  return files;
}

function sourceFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFilesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

/**
 * What the bundle is made of: the app's sources, this file, convex/ (the app imports its
 * vocabularies and generated api) and the lockfile (dependency versions). A build whose
 * fingerprint differs is stale.
 */
export function sourceFingerprint(): string {
  const hash = createHash("sha256");
  const inputs = [
    ...sourceFilesUnder(APP_DIR),
    fileURLToPath(import.meta.url),
    ...sourceFilesUnder(join(REPO_DIR, "convex")).filter((path) => /\.(ts|js)$/.test(path)),
    join(REPO_DIR, "package-lock.json"),
  ].sort();
  for (const path of inputs) {
    hash.update(relative(REPO_DIR, path)).update("\0");
    try {
      hash.update(readFileSync(path));
    } catch {
      hash.update("(missing)");
    }
    hash.update("\0");
  }
  return hash.digest("hex").slice(0, 16);
}

function parseArguments(argv: string[]): { convexUrl: string | null; outDir: string } {
  let convexUrl: string | null = null;
  let outDir = DEFAULT_OUT_DIR;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = () => {
      const given = inline ?? argv[++i];
      if (!given) throw new Error(`${flag} needs a value.`);
      return given;
    };
    if (flag === "--convex-url") convexUrl = checkConvexUrl(value());
    else if (flag === "--out") outDir = resolve(value());
    else throw new Error(`Unknown argument ${argv[i]}. Usage: console:build -- [--convex-url URL] [--out DIR]`);
  }
  return { convexUrl, outDir };
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  try {
    const { convexUrl, outDir } = parseArguments(process.argv.slice(2));
    writeConsoleFiles(await buildConsole(convexUrl), outDir);
    console.log(
      `Console built into ${relative(process.cwd(), outDir) || outDir} for ${convexUrl ?? "the origin it is served from"}.`,
    );
  } catch (error) {
    console.error(`Error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
