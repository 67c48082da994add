// @vitest-environment node
/**
 * Building the Console (scripts/console/build.ts): `npm run console:build -- --convex-url URL`
 * writes static files that talk to that deployment (checked in Chromium: served by a plain
 * static server, its client dials the configured URL and nothing else), refuses bad URLs and
 * folders it did not make; local mode's cache is reused while current and rebuilt when stale.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, test } from "vitest";
import { contentTypeOf } from "../../scripts/console/build";
import { localConsoleFiles } from "../../scripts/console/serve";
import { useBrowser } from "../support/browser";
import { makeTempDir, removeTempDirs } from "../support/local-process";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const run = promisify(execFile);
const browser = useBrowser("console-build");
const servers: Server[] = [];

afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  removeTempDirs();
});

async function consoleBuild(...args: string[]) {
  try {
    const { stdout, stderr } = await run("npm", ["run", "--silent", "console:build", "--", ...args], { cwd: REPO });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, output: failed.stdout + failed.stderr };
  }
}

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

/** A plain static file server for a built folder, as any host would serve it. */
function staticServer(dir: string) {
  return createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://x").pathname;
    const file = join(dir, path.endsWith("/") ? `${path}index.html` : path);
    if (!file.startsWith(dir) || !existsSync(file)) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": contentTypeOf(file) }).end(readFileSync(file));
  });
}

describe("npm run console:build", () => {
  test("writes static files for the given deployment; the URL lives in the runtime config only", async () => {
    const out = join(makeTempDir("ias-console-build-"), "site");
    const built = await consoleBuild("--convex-url", "https://happy-otter-123.convex.cloud/", "--out", out);
    expect(built.code, built.output).toBe(0);
    expect(built.output).toContain("for https://happy-otter-123.convex.cloud");
    for (const file of [
      "index.html",
      "auth/device/index.html",
      "console/console.js",
      "console/console.css",
      "console/config.js",
    ]) {
      expect(existsSync(join(out, file)), file).toBe(true);
    }
    expect(readFileSync(join(out, "console/config.js"), "utf8")).toContain(
      '{"convexUrl":"https://happy-otter-123.convex.cloud"}',
    );
    expect(readFileSync(join(out, "index.html"), "utf8")).not.toMatch(/https?:\/\//);
    // Rebuilding into the same folder replaces it.
    expect((await consoleBuild("--convex-url", "https://other-deployment-456.convex.cloud", "--out", out)).code).toBe(
      0,
    );
    expect(readFileSync(join(out, "console/config.js"), "utf8")).toContain("other-deployment-456");
  });

  test("a bad URL, or a folder it did not make, is refused and nothing is written", async () => {
    const bad = await consoleBuild("--convex-url", "happy-otter-123.convex.cloud");
    expect(bad.code).toBe(1);
    expect(bad.output).toContain("is not a URL");

    const precious = makeTempDir("ias-console-precious-");
    writeFileSync(join(precious, "notes.txt"), "keep me");
    const refused = await consoleBuild("--convex-url", "https://x.convex.cloud", "--out", precious);
    expect(refused.code).toBe(1);
    expect(refused.output).toContain("holds no earlier Console build");
    expect(readFileSync(join(precious, "notes.txt"), "utf8")).toBe("keep me");
  });

  test("in Chromium, a build served by any static host dials the configured deployment", async () => {
    const dials: string[] = [];
    const deployment = createServer((_request, response) => response.writeHead(404).end());
    deployment.on("upgrade", (request, socket) => {
      dials.push(request.url ?? "");
      socket.destroy();
    });
    const deploymentPort = await listen(deployment);
    const out = join(makeTempDir("ias-console-static-"), "site");
    expect((await consoleBuild("--convex-url", `http://127.0.0.1:${deploymentPort}`, "--out", out)).code).toBe(0);
    const sitePort = await listen(staticServer(out));

    const { page, requests } = await browser.newPage();
    await page.goto(`http://127.0.0.1:${sitePort}/`);
    await page.getByLabel("Email").fill("ada@example.com");
    await page.getByLabel("Password").fill("correct horse battery");
    await page.getByRole("button", { name: "Sign in" }).click();
    // Signing in is the client's first call: it opens the sync WebSocket to the deployment.
    await expect.poll(() => dials, { timeout: 30_000 }).toContainEqual(expect.stringMatching(/^\/api\/[\d.]+\/sync$/));
    const origins = new Set(requests().map((url) => new URL(url).host));
    expect([...origins].sort()).toEqual([`127.0.0.1:${deploymentPort}`, `127.0.0.1:${sitePort}`].sort());
  });
});

describe("local mode's cached build", () => {
  test("is reused while its fingerprint is current and rebuilt when it is not", async () => {
    const cache = join(makeTempDir("ias-console-cache-"), "console-local");
    const first = await localConsoleFiles(cache);
    expect(first.get("console/config.js")!.body.toString()).toContain('{"convexUrl":null}');
    expect(readFileSync(join(cache, "fingerprint.txt"), "utf8")).toMatch(/^[0-9a-f]{16}\n$/);

    // A current cache is served as it is on disk (the edit surviving proves no rebuild happened).
    writeFileSync(join(cache, "index.html"), "<!-- cached -->");
    expect((await localConsoleFiles(cache)).get("index.html")!.body.toString()).toBe("<!-- cached -->");

    // A stale fingerprint (sources changed since) rebuilds and replaces the cache.
    writeFileSync(join(cache, "fingerprint.txt"), "0000000000000000\n");
    const rebuilt = await localConsoleFiles(cache);
    expect(rebuilt.get("index.html")!.body.toString()).toContain('<div id="root">');
    expect(readFileSync(join(cache, "index.html"), "utf8")).toContain('<div id="root">');
    expect(rebuilt.has("fingerprint.txt")).toBe(false);
  });

  test("an unwritable cache still yields a build", async () => {
    const blocked = makeTempDir("ias-console-blocked-");
    // The cache path sits under a regular file, so nothing can be written there.
    writeFileSync(join(blocked, "plain"), "");
    const files = await localConsoleFiles(join(blocked, "plain", "console-local"));
    expect(files.get("index.html")!.body.toString()).toContain('<div id="root">');
  });
});
