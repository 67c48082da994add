// @vitest-environment node
/**
 * Accessibility basics of the signed-in Console, checked in headless Chromium against the real
 * local server (SPEC §10, issue 18): every form control and button on every page has a name
 * (a label, not a placeholder); the main flows work from the keyboard alone (enqueue, open a
 * job, cancel, retry, answer a decision) with a visible focus ring; and every page fits 1280×800
 * and a phone width without sideways scrolling. The sign-in page's own checks are in
 * browser-console.test.ts. With IAS_DOC_IMAGES=1 the queue and job pages are also written to
 * docs/images/ (the screenshots docs/console.md shows).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ARTIFACTS_DIR, DESKTOP, PHONE, useBrowser } from "../support/browser";
import { sidewaysOverflow, signInToConsole, signUpInConsole } from "../support/console-pages";
import { removeTempDirs, spawnLocalServer, type LocalProcess } from "../support/local-process";
import { workerApi } from "../support/worker-api";

const DOC_IMAGES = fileURLToPath(new URL("../../docs/images/", import.meta.url));

let server: LocalProcess;
let api: ReturnType<typeof workerApi>;
let workspaceId: string;
let repoId: string;
let runningJobId: string;
let decisionPrompt: string;
let deviceId: string;
const browser = useBrowser("console-a11y");
const EMAIL = "keyboard@example.com";

/** One workspace with something on every page: jobs in several states, a worker, a decision, a device login. */
beforeAll(async () => {
  server = await spawnLocalServer();
  api = workerApi(server);
  const { page } = await browser.newPage();
  await signUpInConsole(page, server, EMAIL); // the first sign-up: an owner of local
  await page.context().close();
  workspaceId = await api.workspaceId("local");
  repoId = await api.repo(workspaceId, "widgets");
  const workerId = await api.worker(workspaceId, repoId, "build-box-with-a-rather-long-display-name-01");
  for (const prompt of ["Fix the flaky login test", "Upgrade the build to Node 22", "Write the release notes"])
    await api.enqueue(workspaceId, repoId, { prompt });
  await (await api.claim(workspaceId, workerId)).complete("done");
  await (await api.claim(workspaceId, workerId)).complete("failed", { message: "tests failed: 3 of 120" });
  const running = await api.claim(workspaceId, workerId);
  runningJobId = running.jobId;
  await running.log(["$ npm test", "  ✓ 118 passed", "  … 2 still running"]);
  await api.enqueue(workspaceId, repoId, { prompt: `A long prompt: ${"words without end ".repeat(30)}` });
  const { runId } = await api.ok("/v1/runs/upsert", { workspaceId, repoId, runRef: "run-a11y", status: "in_progress" });
  decisionPrompt = "Ship the migration today or wait for the backup window?";
  await api.ok("/v1/uncertainties/create-with-auto-promotion", {
    workspaceId,
    runId,
    prompt: decisionPrompt,
    kind: "choice",
    confidence: 0.3,
    impact: "high",
    reversibility: "hard",
    assumedValue: "wait",
    options: [
      { value: "today", label: "Ship today" },
      { value: "wait", label: "Wait for the backup window" },
    ],
  });
  const started = await fetch(`${server.apiUrl}/v1/auth/device/start`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ workspaceSlug: "local", machineName: "laptop" }),
  }).then((response) => response.json() as Promise<{ deviceId: string }>);
  deviceId = started.deviceId;
});
afterAll(async () => {
  await server?.stop();
  removeTempDirs();
});

async function signIn(page: Page) {
  await signInToConsole(page, server, EMAIL);
  await expect.poll(() => page.locator("h1").first().textContent()).toBe("Queue");
}

/** The pages a signed-in member sees, each with what shows that it has loaded. */
function pages() {
  return [
    { name: "queue", path: "/#/w/local/queue", ready: "tr[data-job-id]" },
    { name: "job", path: `/#/w/local/jobs/${runningJobId}`, ready: "pre.log" },
    { name: "workers", path: "/#/w/local/workers", ready: "tr[data-worker-id]" },
    { name: "inbox", path: "/#/w/local/inbox?view=all", ready: "ul.decisions a" },
    { name: "triggers", path: "/#/w/local/triggers", ready: "#trigger-cron" },
    { name: "new-workspace", path: "/#/new-workspace", ready: "#workspace-slug" },
    { name: "device", path: `/auth/device?id=${deviceId}`, ready: ".code" },
  ];
}

async function open(page: Page, path: string, ready: string) {
  await page.goto(`${server.baseUrl}${path}`);
  await page.locator(ready).first().waitFor();
}

/** Controls without a name: inputs, selects and textareas need a label (aria-label counts), buttons and links text. */
function unnamedControls(page: Page) {
  return page.evaluate(() => {
    const named = (element: Element) => {
      if (element.getAttribute("aria-label")?.trim() || element.getAttribute("aria-labelledby")) return true;
      if (
        element instanceof HTMLInputElement ||
        element instanceof HTMLSelectElement ||
        element instanceof HTMLTextAreaElement
      )
        return [...(element.labels ?? [])].some((label) => label.textContent!.trim() !== "");
      return (element.textContent ?? "").trim() !== "";
    };
    const controls = [
      ...document.querySelectorAll("input:not([type=hidden]), select, textarea, button, a[href], summary"),
    ];
    return {
      checked: controls.length,
      unnamed: controls.filter((element) => !named(element)).map((element) => element.outerHTML.slice(0, 120)),
    };
  });
}

/** Presses Tab until the focused element's text (or its label) is `name`; how many presses it took. */
async function tabTo(page: Page, name: string | RegExp, max = 60): Promise<number> {
  for (let presses = 1; presses <= max; presses++) {
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(() => {
      const element = document.activeElement as HTMLElement | null;
      if (element === null) return "";
      const label = (element as HTMLInputElement).labels?.[0]?.textContent;
      return (label ?? element.getAttribute("aria-label") ?? element.textContent ?? "").trim();
    });
    if (typeof name === "string" ? focused === name : name.test(focused)) return presses;
  }
  throw new Error(`Tab never reached "${name}" in ${max} presses.`);
}

/** The focused element draws the focus ring (the :focus-visible outline of styles.css). */
function focusRing(page: Page) {
  return page.evaluate(() => {
    const style = getComputedStyle(document.activeElement!);
    return `${style.outlineStyle} ${style.outlineWidth}`;
  });
}

describe("labels", () => {
  test("every input, select, textarea, button and link on the signed-in pages has a name", async () => {
    const { page, problems } = await browser.newPage();
    await signIn(page);
    let checked = 0;
    for (const { name, path, ready } of pages()) {
      await open(page, path, ready);
      if (name === "queue") await page.getByText("Enqueue a job").click(); // the form, open
      if (name === "inbox") await page.getByRole("link", { name: decisionPrompt }).click();
      if (name === "inbox") await page.getByRole("radio", { name: "Ship today" }).waitFor();
      const result = await unnamedControls(page);
      expect(result.unnamed, name).toEqual([]);
      checked += result.checked;
    }
    expect(checked).toBeGreaterThan(60); // the check saw the pages' controls, not an empty document
    // Labels are what assistive technology uses: reach the fields by role and name.
    await open(page, "/#/w/local/queue", "tr[data-job-id]");
    await page.getByText("Enqueue a job").click();
    for (const [role, name] of [
      ["combobox", "Workspace"],
      ["combobox", "Repo"],
      ["combobox", "Kind"],
      ["textbox", "Role"],
      ["spinbutton", "Priority"],
      ["textbox", "Prompt"],
    ] as const)
      expect(
        await page
          .getByRole("form", { name: "Enqueue a job" })
          .or(page.locator("header"))
          .getByRole(role, { name, exact: true })
          .count(),
        name,
      ).toBe(1);
    expect(problems()).toEqual([]);
  });
});

describe("keyboard", () => {
  test("signing in leaves the focus at the start of the page, not lost where the form was", async () => {
    const { page } = await browser.newPage();
    await signIn(page);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("main");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.closest("main")?.id)).toBe("main");
    // Following a link inside the page (it goes away with the page): the new page gets the focus.
    await tabTo(page, /^…/); // the first job link of the list
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("h1").textContent()).toMatch(/^Job /);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("main");
    // A header link stays focused after it is followed: Tab goes on from there.
    await page.locator("header").getByRole("link", { name: "Workers" }).focus();
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("h1").textContent()).toBe("Workers");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Workers");
  });

  test("the header comes first: skip link, brand, workspace, sections, sign out", async () => {
    const { page } = await browser.newPage();
    await signIn(page);
    await page.reload(); // a fresh load: Tab starts at the top
    await page.locator("tr[data-job-id]").first().waitFor();
    const order: string[] = [];
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press("Tab");
      order.push(await page.evaluate(() => (document.activeElement as HTMLElement).innerText.split("\n")[0]!.trim()));
    }
    expect(order.slice(0, 2)).toEqual(["Skip to content", "IAS Console"]);
    expect(order[2]).toMatch(/^Local workspace \(local\)/); // the switcher shows its choice
    expect(order.slice(3)).toEqual(["Queue", "Workers", "Inbox", "Triggers", "Sign out"]);
  });

  test("enqueue, open the job, cancel and retry it with the keyboard alone", async () => {
    const { page } = await browser.newPage();
    await signIn(page);
    await tabTo(page, "Enqueue a job");
    expect(await focusRing(page)).toBe("solid 3px");
    await page.keyboard.press("Enter"); // opens the <details>
    await tabTo(page, "Repo");
    await page.keyboard.press("Tab"); // Kind: keep "work"
    await tabTo(page, "Prompt");
    await page.keyboard.type("Typed without a mouse");
    await tabTo(page, "Enqueue");
    await page.keyboard.press("Enter");
    const enqueued = page.getByRole("status").filter({ hasText: "Enqueued" });
    await enqueued.waitFor();
    await tabTo(page, /^job …/);
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("h1").textContent()).toMatch(/pending$/);
    expect(await page.locator(".prompt-full").textContent()).toBe("Typed without a mouse");

    await tabTo(page, "Cancel reason (optional)");
    await page.keyboard.type("typed by mistake");
    await page.keyboard.press("Enter"); // submits the cancel form
    await expect.poll(() => page.locator("h1").textContent()).toMatch(/canceled$/);
    await tabTo(page, "Retry");
    expect(await focusRing(page)).toBe("solid 3px");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator("h1").textContent()).toMatch(/pending$/);
  });

  test("answer a decision with the keyboard alone: arrows choose, Enter answers", async () => {
    const { page } = await browser.newPage();
    await signIn(page);
    await tabTo(page, "Inbox");
    await page.keyboard.press("Enter");
    await page.getByRole("link", { name: decisionPrompt }).waitFor();
    await tabTo(page, decisionPrompt);
    await page.keyboard.press("Enter");
    await page.getByRole("radio", { name: "Ship today" }).waitFor();
    await tabTo(page, "Ship today"); // the radio group: its checked option takes the focus
    await page.keyboard.press("ArrowDown");
    expect(await page.getByRole("radio", { name: "Wait for the backup window" }).isChecked()).toBe(true);
    await tabTo(page, "Answer");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.locator(".apply-job").textContent()).toContain("apply_decision");
    expect(await page.locator("dl.fields").textContent()).toContain("wait");
  });

  test("the skip link takes the focus past the header to the page", async () => {
    const { page } = await browser.newPage();
    await signIn(page);
    await page.reload();
    await page.locator("tr[data-job-id]").first().waitFor();
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe("Skip to content");
    await page.keyboard.press("Enter");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("main");
    await page.keyboard.press("Tab");
    // The first stop in the page is in the queue's overview, not the header.
    expect(await page.evaluate(() => document.activeElement?.closest("header") === null)).toBe(true);
  });
});

describe("widths", () => {
  for (const [label, viewport] of [
    ["1280×800", DESKTOP],
    ["phone width (390 px)", PHONE],
  ] as const) {
    test(`every signed-in page fits ${label} without sideways scrolling`, async () => {
      const { page, problems } = await browser.newPage({ viewport });
      await signIn(page);
      for (const { name, path, ready } of pages()) {
        await open(page, path, ready);
        expect(await sidewaysOverflow(page), name).toBeLessThanOrEqual(0);
        // Nothing the person needs is cut off at the right edge (wide tables scroll inside their panel).
        const clipped = await page.evaluate(() =>
          [...document.querySelectorAll("button, a, input, select, textarea, h1")]
            .filter((element) => element.closest(".table-wrap") === null)
            .filter((element) => element.getBoundingClientRect().right > window.innerWidth + 0.5)
            .map((element) => element.outerHTML.slice(0, 100)),
        );
        expect(clipped, name).toEqual([]);
        const main = (await page.locator("main").boundingBox())!;
        expect(main.width, name).toBeLessThanOrEqual(Math.min(1200, viewport.width));
        if (viewport === DESKTOP) expect(main.x, name).toBeGreaterThan(0); // a centred column
        if (viewport === PHONE) expect(main.width, name).toBeGreaterThan(viewport.width * 0.9); // the whole width
        if (name === "queue") {
          // The chart's labels stay readable when its SVG is scaled down to the width.
          const sizes = await page
            .locator("figure.chart text")
            .evaluateAll((texts) => texts.map((text) => text.getBoundingClientRect().height));
          expect(sizes.length, name).toBeGreaterThanOrEqual(5); // four time labels and a total
          expect(Math.min(...sizes), name).toBeGreaterThanOrEqual(10);
        }
        const dir = join(ARTIFACTS_DIR, "console-a11y");
        mkdirSync(dir, { recursive: true });
        await page.screenshot({ path: join(dir, `${name}-${viewport.width}px.png`), fullPage: true });
      }
      expect(problems()).toEqual([]);
    });
  }

  test("the queue and a job page, as the docs show them", async () => {
    const { page } = await browser.newPage();
    await signIn(page);
    const write = process.env.IAS_DOC_IMAGES === "1";
    if (write) mkdirSync(DOC_IMAGES, { recursive: true });
    await open(page, "/#/w/local/queue", "tr[data-job-id]");
    await page.locator("figure.chart text.total").first().waitFor();
    if (write) await page.screenshot({ path: join(DOC_IMAGES, "console-queue.png") });
    await open(page, `/#/w/local/jobs/${runningJobId}`, "pre.log");
    if (write) await page.screenshot({ path: join(DOC_IMAGES, "console-job.png"), fullPage: true });
    expect(await page.locator("pre.log").textContent()).toContain("118 passed");
  });
});
