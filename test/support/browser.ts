/**
 * Headless Chromium for end-to-end tests (Debian's `/usr/bin/chromium`, driven by
 * playwright-core; `.ci/run` installs it). `useBrowser(suite)` launches one browser per test
 * file, hands each test fresh pages, and after every test saves a PNG of the page it used last
 * to `test-artifacts/<suite>/<test>.png` (gitignored) before closing its context.
 *
 *   const browser = useBrowser("device-page");
 *   test("...", async () => {
 *     const { page, problems } = await browser.newPage();
 *     await page.goto(url);
 *     expect(problems()).toEqual([]);
 *   });
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll } from "vitest";

export const CHROMIUM_PATH = process.env.IAS_CHROMIUM ?? "/usr/bin/chromium";
export const ARTIFACTS_DIR = fileURLToPath(new URL("../../test-artifacts/", import.meta.url));

/**
 * The closed network makes Chromium's background services (updates, sync, QUIC probes) stall
 * or crash it; these flags switch them off. playwright-core adds --headless and a fresh
 * temporary --user-data-dir itself (launch() always starts from an empty profile).
 */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export type BrowserPage = {
  page: Page;
  context: BrowserContext;
  /** Console errors, uncaught page errors and failed requests so far, as readable lines. */
  problems(): string[];
  /** Every URL the page requested (documents, scripts, styles, fetches, WebSockets). */
  requests(): string[];
};

export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`No Chromium at ${CHROMIUM_PATH}: run "apt-get install -y chromium" (as .ci/run does).`);
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/** File names from test names: readable, no path separators. */
export function artifactName(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .slice(0, 80)
      .replace(/^-|-$/g, "") || "page"
  );
}

export function useBrowser(suite: string) {
  let browser: Browser | undefined;
  let last: BrowserPage | undefined;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterEach(async ({ task }) => {
    if (last !== undefined && !last.page.isClosed()) {
      const dir = join(ARTIFACTS_DIR, suite);
      mkdirSync(dir, { recursive: true });
      await last.page.screenshot({ path: join(dir, `${artifactName(task.name)}.png`), fullPage: true });
    }
    last = undefined;
    await Promise.all(contexts.splice(0).map((context) => context.close()));
  });
  afterAll(async () => {
    await browser?.close();
  });

  return {
    /** A page in a new context (its own storage); the last one a test opens is screenshotted. */
    async newPage(options: { viewport?: { width: number; height: number } } = {}): Promise<BrowserPage> {
      if (browser === undefined) throw new Error("useBrowser: the browser is not running (beforeAll failed?).");
      const context = await browser.newContext({ viewport: options.viewport ?? DESKTOP });
      contexts.push(context);
      const page = await context.newPage();
      const problems: string[] = [];
      const requests: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error") problems.push(`console: ${message.text()}`);
      });
      page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
      page.on("requestfailed", (request) =>
        problems.push(`request failed: ${request.url()} (${request.failure()?.errorText ?? "?"})`),
      );
      page.on("request", (request) => requests.push(request.url()));
      page.on("websocket", (socket) => requests.push(socket.url()));
      last = { page, context, problems: () => [...problems], requests: () => [...requests] };
      return last;
    },
  };
}
