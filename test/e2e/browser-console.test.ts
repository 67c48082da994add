// @vitest-environment node
/**
 * The operator Console as served by `npm start` (SPEC §10), in headless Chromium: the page and
 * its bundle are served from the local server with nothing from any other origin, the sign-in
 * form renders without errors, is labelled and keyboard-navigable, and fits a phone.
 * What needs the Convex sync protocol is in browser-console-live.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { request } from "node:http";
import { PHONE, useBrowser } from "../support/browser";
import { removeTempDirs, spawnLocalServer, type LocalProcess } from "../support/local-process";

let server: LocalProcess;
const browser = useBrowser("console");

beforeAll(async () => {
  server = await spawnLocalServer();
});
afterAll(async () => {
  await server?.stop();
  removeTempDirs();
});

async function get(path: string, init: RequestInit = {}) {
  const response = await fetch(`${server.baseUrl}${path}`, init);
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/** fetch will not send a foreign Host header (what DNS rebinding produces); node:http will. */
function statusWithHost(host: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const sent = request({ host: "127.0.0.1", port: server.port, path, headers: { host } }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode!));
    });
    sent.on("error", reject);
    sent.end();
  });
}

/** Every src/href of the HTML and every url()/@import of the CSS. */
function references(html: string, css: string): string[] {
  return [
    ...[...html.matchAll(/\s(?:src|href)="([^"]*)"/g)].map((match) => match[1]!),
    ...[...css.matchAll(/url\(\s*['"]?([^'")]*)/g)].map((match) => match[1]!),
    ...[...css.matchAll(/@import\s+['"]([^'"]*)/g)].map((match) => match[1]!),
  ];
}

describe("the Console is served by the local server", () => {
  test("/ is the Console's page; its files are served with types and a strict CSP", async () => {
    expect(server.output()).toContain(`Console:     ${server.baseUrl}/`);
    const page = await get("/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.text).toContain('<div id="root">');
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain(`connect-src 'self' ws://127.0.0.1:${server.port}`);
    expect(page.headers.get("x-frame-options")).toBe("DENY");

    const script = await get("/console/console.js");
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(script.text.length).toBeGreaterThan(50_000); // React, convex/react and the app, bundled
    expect((await get("/console/console.css")).headers.get("content-type")).toBe("text/css; charset=utf-8");
    // Local mode's build talks to the origin it is served from.
    expect((await get("/console/config.js")).text).toContain('window.IAS_CONSOLE_CONFIG = {"convexUrl":null}');

    const device = await get("/auth/device?id=dev_x");
    expect(device.status).toBe(200);
    expect(device.text).toContain('src="../../console/console.js"');
    expect((await get("/console/nothing.js")).status).toBe(404);
    expect((await get("/console/../package.json")).status).not.toBe(200);
  });

  test("the API is untouched: other paths and methods still reach the router", async () => {
    expect((await get("/control-plane/health")).status).toBe(200);
    const posted = await get("/", { method: "POST", body: "{}" });
    expect(posted.headers.get("content-type")).toContain("application/json");
    expect((await get("/local/device?id=dev_unknown")).status).toBe(404);
  });

  test("only loopback host names get the Console (DNS rebinding)", async () => {
    expect(await statusWithHost(`rebound.example:${server.port}`, "/")).toBe(421);
    expect(await statusWithHost(`localhost:${server.port}`, "/")).toBe(200);
  });

  test("no asset comes from another origin: relative references only, no remote imports", async () => {
    const html = (await get("/")).text;
    const css = (await get("/console/console.css")).text;
    const js = (await get("/console/console.js")).text;
    const refs = references(html, css);
    expect(refs).toEqual(expect.arrayContaining(["console/console.css", "console/config.js", "console/console.js"]));
    expect(refs.filter((ref) => /^(https?:)?\/\//i.test(ref))).toEqual([]);
    // A bundle that loads code from a URL would say so in one of these forms.
    expect(js).not.toMatch(/import\s*\(\s*["'`]https?:|from\s*["']https?:|importScripts\(|new Worker\(\s*["'`]https?:/);
  });
});

describe("the sign-in page in Chromium", () => {
  test("renders the sign-in form, labelled, without errors, requesting nothing from elsewhere", async () => {
    const { page, problems, requests } = await browser.newPage();
    await page.goto(`${server.baseUrl}/`);
    await expect.poll(() => page.locator("h1").textContent()).toBe("Sign in to the IAS Console");
    await expect.poll(() => page.getByLabel("Email").getAttribute("type")).toBe("email");
    expect(await page.getByLabel("Password").getAttribute("type")).toBe("password");
    expect(await page.getByRole("button", { name: "Sign in" }).isVisible()).toBe(true);
    expect(problems()).toEqual([]);
    expect(requests().length).toBeGreaterThanOrEqual(4);
    expect(requests().filter((url) => !url.startsWith(`${server.baseUrl}/`))).toEqual([]);
  });

  test("keyboard: Tab goes skip link, email, password, submit, then the sign-up switch; Enter switches", async () => {
    const { page } = await browser.newPage();
    await page.goto(`${server.baseUrl}/`);
    await page.getByLabel("Email").waitFor();
    const focused = () =>
      page.evaluate(() => {
        const element = document.activeElement as HTMLElement | null;
        return element?.id || element?.textContent || element?.tagName || "";
      });
    const order: string[] = [];
    for (let i = 0; i < 5; i++) {
      await page.keyboard.press("Tab");
      order.push(await focused());
    }
    expect(order).toEqual(["Skip to content", "email", "password", "Sign in", "No account yet? Create one"]);
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("h1").textContent()).toBe("Create your IAS Console account");
    expect(await page.getByLabel("Password").getAttribute("autocomplete")).toBe("new-password");
    expect(await page.getByLabel("Password").getAttribute("minlength")).toBe("8");
  });

  test("the skip link moves focus to the page without changing the route", async () => {
    const { page } = await browser.newPage();
    await page.goto(`${server.baseUrl}/#/w/acme/workers`);
    await page.getByLabel("Email").waitFor();
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    expect(await page.evaluate(() => [document.activeElement?.id, location.hash])).toEqual([
      "main",
      "#/w/acme/workers",
    ]);
  });

  test("phone width: the form fits without sideways scrolling", async () => {
    const { page, problems } = await browser.newPage({ viewport: PHONE });
    await page.goto(`${server.baseUrl}/`);
    await page.getByLabel("Email").waitFor();
    const layout = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      innerWidth: window.innerWidth,
      input: document.getElementById("email")!.getBoundingClientRect().width,
    }));
    expect(layout.scrollWidth).toBeLessThanOrEqual(layout.innerWidth);
    expect(layout.input).toBeGreaterThan(250);
    expect(problems()).toEqual([]);
  });

  test("desktop width 1280×800: the form is centred in a readable column", async () => {
    const { page } = await browser.newPage();
    await page.goto(`${server.baseUrl}/`);
    await page.getByLabel("Email").waitFor();
    const box = (await page.locator("main").boundingBox())!;
    expect(box.width).toBeLessThanOrEqual(420);
    expect(box.x).toBeGreaterThan(300);
  });
});
