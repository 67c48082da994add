// @vitest-environment node
/**
 * The device login as a person does it (SPEC §5, §10), in headless Chromium against the real
 * local server: `ias auth login` prints a URL and a code, the URL opens the local approval
 * page, the page shows the same code, a click on Approve (or Deny) posts the page's own form
 * the way a browser does (its Origin and Sec-Fetch-* headers, not ones a test made up), and
 * the CLI ends logged in (or denied).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { useBrowser } from "../support/browser";
import { killCliProcesses, startDeviceLogin } from "../support/cli-process";
import { makeTempDir, removeTempDirs, spawnLocalServer, type LocalProcess } from "../support/local-process";

let server: LocalProcess;
const browser = useBrowser("device-login");

beforeAll(async () => {
  server = await spawnLocalServer();
});
afterAll(async () => {
  await killCliProcesses();
  await server?.stop();
  removeTempDirs();
});

const startLogin = (home: string) => startDeviceLogin(server, { home });

describe("device login in a real browser", () => {
  test("the page shows the terminal's code; clicking Approve logs the CLI in", async () => {
    const home = makeTempDir("ias-browser-approve-");
    const { login, approvalUrl, userCode } = await startLogin(home);
    const { page, problems } = await browser.newPage();

    const shown = await page.goto(approvalUrl);
    expect(shown?.status()).toBe(200);
    expect((await page.locator(".code").textContent())?.trim()).toBe(userCode);
    expect(await page.locator("dd").nth(1).textContent()).toBe("ci");

    const posted = page.waitForRequest((request) => request.method() === "POST");
    await page.getByRole("button", { name: "Approve" }).click();
    const request = await posted;
    // What Chromium really sends from this page: the reason the old Origin check refused it.
    expect(await request.headerValue("sec-fetch-site")).toBe("same-origin");
    await expect.poll(() => page.locator("h1").textContent()).toBe("Device approved");
    expect((await request.response())?.status()).toBe(200);

    expect(await login.exited).toEqual({ code: 0, signal: null });
    expect(login.stdout()).toContain(`Logged in to workspace "local"`);
    expect(existsSync(join(home, "auth.json"))).toBe(true);
    expect(readFileSync(join(home, "auth.json"), "utf8")).toMatch(/"token":\s*"ias_/);

    // Reloading the approval URL now says it is decided, and by whom.
    await page.goto(approvalUrl);
    await expect.poll(() => page.locator("body").textContent()).toContain("already approved by Local owner");
    expect(problems()).toEqual([]);
  });

  test("clicking Deny: the CLI says denied and stores nothing", async () => {
    const home = makeTempDir("ias-browser-deny-");
    const { login, approvalUrl, userCode } = await startLogin(home);
    const { page, problems } = await browser.newPage();

    await page.goto(approvalUrl);
    expect((await page.locator(".code").textContent())?.trim()).toBe(userCode);
    await page.getByRole("button", { name: "Deny" }).click();
    await expect.poll(() => page.locator("h1").textContent()).toBe("Device login denied");

    expect((await login.exited).code).toBe(3);
    expect(login.stdout() + login.stderr()).toMatch(/denied/i);
    expect(existsSync(join(home, "auth.json"))).toBe(false);
    expect(problems()).toEqual([]);
  });

  test("keyboard only: Tab reaches Approve, Enter approves", async () => {
    const home = makeTempDir("ias-browser-keyboard-");
    const { login, approvalUrl } = await startLogin(home);
    const { page } = await browser.newPage();
    await page.goto(approvalUrl);
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Approve");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("h1").textContent()).toBe("Device approved");
    expect((await login.exited).code).toBe(0);
  });
});
