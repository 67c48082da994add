/**
 * The local server's Console (SPEC §10): `/`, `/auth/device` and `/console/*`, answered from a
 * build kept in memory. The build talks to the origin it is served from, which in local mode
 * is the same server. It is cached in `dist/console-local/` with its source fingerprint, made
 * by `npm install` (prepare) or, when missing or stale, on the first request after start.
 * A failed build (no esbuild, say) answers a plain page saying how to build, not a crash.
 */
import { readFileSync, renameSync, rmSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import {
  REPO_DIR,
  buildConsole,
  readConsoleFiles,
  sourceFingerprint,
  writeConsoleFiles,
  type ConsoleFiles,
} from "./build";

export const LOCAL_BUILD_DIR = join(REPO_DIR, "dist/console-local");
const FINGERPRINT_FILE = "fingerprint.txt";

type Loaded = { files: ConsoleFiles } | { problem: string };

/** The cached build when its fingerprint is current, else a fresh one (written back to the cache). */
export async function localConsoleFiles(dir = LOCAL_BUILD_DIR): Promise<ConsoleFiles> {
  const fingerprint = sourceFingerprint();
  try {
    if (readFileSync(join(dir, FINGERPRINT_FILE), "utf8").trim() === fingerprint) {
      const files = readConsoleFiles(dir);
      files.delete(FINGERPRINT_FILE);
      if (files.has("index.html") && files.has("console/console.js")) return files;
    }
  } catch {
    // No cache, or another process is replacing it: build our own.
  }
  const files = await buildConsole(null);
  // Servers starting together may race here; each serves its own in-memory copy anyway.
  const temporary = `${dir}.tmp-${process.pid}-${Date.now()}`;
  try {
    const fingerprinted = new Map(files).set(FINGERPRINT_FILE, {
      body: Buffer.from(`${fingerprint}\n`),
      contentType: "text/plain; charset=utf-8",
    });
    writeConsoleFiles(fingerprinted, temporary);
    rmSync(dir, { recursive: true, force: true });
    renameSync(temporary, dir);
  } catch {
    // The cache is an optimisation: an unwritable repo still serves the fresh build.
    try {
      rmSync(temporary, { recursive: true, force: true });
    } catch {
      // Nothing was written, or it cannot be removed either.
    }
  }
  return files;
}

let loading: Promise<Loaded> | undefined;

function load(): Promise<Loaded> {
  return (loading ??= localConsoleFiles().then(
    (files) => ({ files }),
    (error: unknown) => ({ problem: error instanceof Error ? error.message : String(error) }),
  ));
}

/** The path of the built file a request names, or null when the path is not the Console's. */
export function consolePathOf(pathname: string): string | null {
  if (pathname === "/" || pathname === "/index.html") return "index.html";
  if (pathname === "/auth/device" || pathname === "/auth/device/") return "auth/device/index.html";
  if (/^\/console\/[A-Za-z0-9._-]+$/.test(pathname)) return pathname.slice(1);
  return null;
}

/** The Console is served only under loopback names, like the rest of local mode (DNS rebinding). */
function isLoopbackHost(host: string | undefined): boolean {
  return host !== undefined && /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(host);
}

function securityHeaders(host: string): Record<string, string> {
  return {
    "content-security-policy": [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      // The sync protocol's WebSocket goes to this same server.
      `connect-src 'self' ws://${host}`,
      "base-uri 'none'",
      "form-action 'self'",
      "frame-ancestors 'none'",
    ].join("; "),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
  };
}

/** Answers GET/HEAD of the Console's paths; false leaves every other request to the router. */
export async function answerConsole(request: IncomingMessage, response: ServerResponse): Promise<boolean> {
  const method = request.method ?? "GET";
  if (method !== "GET" && method !== "HEAD") return false;
  const path = consolePathOf(new URL(request.url ?? "/", "http://127.0.0.1").pathname);
  if (path === null) return false;
  const host = request.headers.host;
  if (!isLoopbackHost(host)) {
    response.writeHead(421, { "content-type": "text/plain; charset=utf-8" });
    response.end("The local Console answers only on 127.0.0.1 or localhost.\n");
    return true;
  }
  const loaded = await load();
  const headers = { ...securityHeaders(host!), "cache-control": "no-cache" };
  if ("problem" in loaded) {
    response.writeHead(503, { ...headers, "content-type": "text/plain; charset=utf-8" });
    response.end(
      `The Console could not be built: ${loaded.problem}\nRun "npm install" (or "npm run console:build").\n`,
    );
    return true;
  }
  const file = loaded.files.get(path);
  if (file === undefined) {
    response.writeHead(404, { ...headers, "content-type": "text/plain; charset=utf-8" });
    response.end("No such Console file.\n");
    return true;
  }
  response.writeHead(200, { ...headers, "content-type": file.contentType, "content-length": file.body.length });
  response.end(method === "HEAD" ? undefined : file.body);
  return true;
}
