// @vitest-environment node
/**
 * The live Console (issue 18's "must be shown"), in headless Chromium against the real local
 * server over the Convex sync protocol: sign up, create and switch workspaces, a job enqueued
 * over the worker HTTP API appearing without a reload, its log lines arriving, cancel reaching
 * the worker's heartbeat, drain / undrain / remove of a worker reaching its calls, an Inbox answer enqueuing apply_decision, the chart's real numbers,
 * the paginated list growing live, and the page catching up after the server restarts. Each
 * test's last page is saved as a PNG (test-artifacts/console-live/); the chart also alone.
 * The real `ias` worker and CLI are in browser-console-developer.test.ts.
 */
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ARTIFACTS_DIR, PHONE, useBrowser } from "../support/browser";
import { createWorkspaceInConsole, signUpWithWorkspace } from "../support/console-pages";
import { signUp } from "../support/convex-clients";
import { localServerPool, removeTempDirs, type LocalProcess } from "../support/local-process";
import { workerApi } from "../support/worker-api";

const servers = localServerPool();
let server: LocalProcess;
let api: ReturnType<typeof workerApi>;
const browser = useBrowser("console-live");

beforeAll(async () => {
  server = await servers.start();
  api = workerApi(server);
  // The first sign-up in local mode joins workspace local; everyone below signs up after it.
  await signUp(server, "developer@example.com");
});
afterAll(async () => {
  await servers.killAll();
  removeTempDirs();
});

const heading = (page: Page) => page.locator("h1").first().textContent();
const jobRow = (page: Page, jobId: string) => page.locator(`tr[data-job-id="${jobId}"]`);
const countOf = (page: Page, status: string) =>
  page
    .getByRole("list", { name: "Jobs by status" })
    .getByRole("link", { name: status })
    .locator(".count")
    .textContent();

describe("the live Console", () => {
  test("sign up, create a workspace, switch between workspaces", async () => {
    const { page, problems } = await browser.newPage();
    const first = await signUpWithWorkspace(page, server, "Acme Ops");
    await page.getByLabel("Workspace").selectOption("+new");
    await expect.poll(() => heading(page)).toBe("New workspace");
    // A taken slug: the server's ConvexError arrives over the socket and is shown as written.
    await page.getByLabel("Name").fill("Copycat");
    await page.getByLabel("Slug").fill(first.slug);
    await page.getByRole("button", { name: "Create workspace" }).click();
    await expect
      .poll(() => page.getByRole("alert").textContent())
      .toBe(`The slug "${first.slug}" is taken. (CONFLICT)`);
    await createWorkspaceInConsole(page, "Second team", `second-${first.slug}`);
    const options = await page.getByLabel("Workspace").locator("option").allTextContents();
    expect(options).toEqual([`Acme Ops (${first.slug})`, `Second team (second-${first.slug})`, "+ New workspace…"]);
    await page.getByLabel("Workspace").selectOption(first.slug);
    await expect.poll(() => page.evaluate(() => location.hash)).toBe(`#/w/${first.slug}/queue`);
    // "/" goes back to the workspace opened last in this browser.
    await page.goto(`${server.baseUrl}/`);
    await expect.poll(() => page.evaluate(() => location.hash)).toBe(`#/w/${first.slug}/queue`);
    // The one console error is the convex client's own report of the refused mutation.
    expect(problems()).toEqual([expect.stringMatching(/^console: \[CONVEX M\(workspaces:create\)\] .*CONFLICT/)]);
  });

  test("sign-in problems read as a person would say them; sign out goes back to the form", async () => {
    const { page } = await browser.newPage();
    await page.goto(`${server.baseUrl}/`);
    const submit = async (email: string, password: string, button: string) => {
      await page.getByLabel("Email").fill(email);
      await page.getByLabel("Password").fill(password);
      await page.getByRole("button", { name: button }).click();
    };
    const problem = () => page.getByRole("alert").textContent();
    await submit("developer@example.com", "not the password", "Sign in");
    expect(await problem()).toBe("Wrong email or password.");
    await submit("nobody@example.com", "correct horse battery staple", "Sign in");
    expect(await problem()).toBe("Wrong email or password.");
    await page.getByRole("button", { name: "No account yet? Create one" }).click();
    // (With the right password @convex-dev/auth signs the person in instead.)
    await submit("developer@example.com", "another password", "Create account");
    expect(await problem()).toBe("An account with this email already exists: sign in instead.");
    await page.getByRole("button", { name: "I have an account: sign in" }).click();
    await submit("developer@example.com", "correct horse battery staple", "Sign in");
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect.poll(() => heading(page)).toBe("Sign in to the IAS Console");
    // Signed out for real: a reload does not bring the session back.
    await page.reload();
    await expect.poll(() => heading(page)).toBe("Sign in to the IAS Console");
  });

  test("a job enqueued over the worker HTTP API appears in the list without a reload", async () => {
    const { page, problems } = await browser.newPage();
    const { slug } = await signUpWithWorkspace(page, server, "Live list");
    const workspaceId = await api.workspaceId(slug);
    const repoId = await api.repo(workspaceId);
    await expect.poll(() => page.getByText(/^No jobs match\.$/).count()).toBe(1);
    const jobId = await api.enqueue(workspaceId, repoId, { prompt: "appears by itself" });
    await expect.poll(() => jobRow(page, jobId).textContent(), { timeout: 15_000 }).toContain("appears by itself");
    expect(await jobRow(page, jobId).locator(".badge").textContent()).toBe("pending");
    await expect.poll(() => countOf(page, "pending")).toBe("1");
    // A claim over HTTP moves the row and the counts, still without a reload.
    await api.claim(workspaceId, await api.worker(workspaceId, repoId));
    await expect.poll(() => jobRow(page, jobId).locator(".badge").textContent()).toBe("running");
    await expect.poll(() => countOf(page, "running")).toBe("1");
    expect(await countOf(page, "pending")).toBe("0");
    expect(problems()).toEqual([]);
  });

  test("a worker claims it and its log lines appear on the job page live", async () => {
    const { page, problems } = await browser.newPage();
    const { slug } = await signUpWithWorkspace(page, server, "Live logs");
    const workspaceId = await api.workspaceId(slug);
    const repoId = await api.repo(workspaceId);
    const jobId = await api.enqueue(workspaceId, repoId);
    await page.goto(`${server.baseUrl}/#/w/${slug}/jobs/${jobId}`);
    await expect.poll(() => heading(page)).toMatch(/pending$/);
    const workerId = await api.worker(workspaceId, repoId);
    const lease = await api.claim(workspaceId, workerId);
    await expect.poll(() => heading(page)).toMatch(/running$/);
    await lease.log(["compiling…", "tests: 12 passed"]);
    await expect.poll(() => page.locator("pre.log").allTextContents()).toEqual(["compiling…\ntests: 12 passed"]);
    await lease.log(["done in 3 s"]);
    await expect
      .poll(() => page.locator("pre.log").allTextContents())
      .toEqual(["compiling…\ntests: 12 passed", "done in 3 s"]);
    await lease.complete("done");
    await expect.poll(() => heading(page)).toMatch(/done$/);
    expect(await page.locator(".timeline .badge").allTextContents()).toEqual([
      "enqueued",
      "claimed",
      "log",
      "log",
      "completed",
    ]);
    expect(problems()).toEqual([]);
  });

  test("cancel from the job page reaches the worker: its next heartbeat answers cancelRequested", async () => {
    const { page, problems } = await browser.newPage();
    const { slug } = await signUpWithWorkspace(page, server, "Cancel");
    const workspaceId = await api.workspaceId(slug);
    const repoId = await api.repo(workspaceId);
    const jobId = await api.enqueue(workspaceId, repoId);
    const lease = await api.claim(workspaceId, await api.worker(workspaceId, repoId));
    expect(await lease.heartbeat()).toMatchObject({ cancelRequested: false });
    await page.goto(`${server.baseUrl}/#/w/${slug}/jobs/${jobId}`);
    await page.getByLabel("Cancel reason (optional)").fill("wrong branch");
    await page.getByRole("button", { name: "Cancel job" }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Cancel requested");
    expect(await lease.heartbeat()).toMatchObject({ cancelRequested: true });
    await lease.complete("canceled");
    await expect.poll(() => heading(page)).toMatch(/canceled$/);
    await expect.poll(() => page.getByRole("button", { name: "Retry" }).isVisible()).toBe(true);
    // Retry from the page puts it back in the queue.
    await page.getByRole("button", { name: "Retry" }).click();
    await expect.poll(() => heading(page)).toMatch(/pending$/);
    expect(problems()).toEqual([]);
  });

  test("an owner drains, undrains and removes a worker on the Workers page; the worker's calls follow", async () => {
    const { page, problems } = await browser.newPage();
    const { slug } = await signUpWithWorkspace(page, server, "Drain");
    const workspaceId = await api.workspaceId(slug);
    const repoId = await api.repo(workspaceId);
    const workerId = await api.worker(workspaceId, repoId, "laptop");
    await page.goto(`${server.baseUrl}/#/w/${slug}/workers`);
    const row = page.locator(`tr[data-worker-id="${workerId}"]`);
    await row.getByRole("button", { name: "Drain" }).click();
    await expect.poll(() => row.textContent()).toContain("drained by an admin");
    // The drain beats the worker's own `online`: its heartbeat says so and claim-next refuses.
    await api.enqueue(workspaceId, repoId);
    expect((await api.workerHeartbeat(workspaceId, repoId, "laptop")).drainRequested).toBe(true);
    expect(await api.ok("/v1/jobs/claim-next", { workspaceId, workerId })).toMatchObject({
      jobId: null,
      reason: "WORKER_DRAINING",
    });

    await row.getByRole("button", { name: "Undrain" }).click();
    await expect.poll(() => row.textContent()).not.toContain("drained by an admin");
    const lease = await api.claim(workspaceId, workerId);

    // Remove (after the confirm dialog) recovers the running job at once.
    page.once("dialog", (dialog) => void dialog.accept());
    await row.getByRole("button", { name: "Remove" }).click();
    await expect.poll(() => row.count()).toBe(0);
    const { job } = await api.ok("/v1/jobs/get", { workspaceId, jobId: lease.jobId });
    expect(job.status).toBe("pending");
    expect(problems()).toEqual([]);
  });

  test("a decision raised over HTTP appears in the Inbox; answering enqueues apply_decision", async () => {
    const { page, problems } = await browser.newPage({ viewport: PHONE });
    const { slug } = await signUpWithWorkspace(page, server, "Inbox");
    const workspaceId = await api.workspaceId(slug);
    const repoId = await api.repo(workspaceId);
    const { runId } = await api.ok("/v1/runs/upsert", { workspaceId, repoId, runRef: "run-1", status: "in_progress" });
    await page.goto(`${server.baseUrl}/#/w/${slug}/inbox`);
    await expect
      .poll(() => page.getByRole("region", { name: "Decision requests" }).textContent())
      .toContain("Nothing waits for a decision.");
    const raised = await api.ok("/v1/uncertainties/create-with-auto-promotion", {
      workspaceId,
      runId,
      prompt: "Which database engine should we use?",
      kind: "choice",
      confidence: 0.4,
      impact: "high",
      reversibility: "hard",
      assumedValue: "PostgreSQL",
      options: ["PostgreSQL", { value: "sqlite", label: "SQLite" }],
    });
    expect(raised).toMatchObject({ promoted: true, tier: "blocker" });
    const link = page.getByRole("link", { name: "Which database engine should we use?" });
    await link.waitFor();
    expect(await page.locator("h2.tier").allTextContents()).toEqual(["blocker"]);
    await link.click();
    expect(await page.getByRole("region", { name: "Which database engine should we use?" }).textContent()).toContain(
      "PostgreSQL",
    );
    await page.getByLabel("SQLite").check();
    await page.getByRole("button", { name: "Answer" }).click();
    await expect.poll(() => page.locator(".apply-job").textContent()).toContain("apply_decision");
    const applyJobs = await api.jobsOfKind(workspaceId, "apply_decision");
    expect(applyJobs).toHaveLength(1);
    expect(applyJobs[0]!.prompt).toContain("sqlite");
    // The answered request leaves the open Inbox; its apply_decision job is in the queue.
    await expect
      .poll(() => page.getByRole("region", { name: "Decision requests" }).textContent())
      .toContain("Nothing waits for a decision.");
    await page.locator(".apply-job a").click();
    await expect.poll(() => heading(page)).toMatch(/pending$/);
    expect(await page.locator("dl.fields").textContent()).toContain("apply_decision");
    await page.goto(`${server.baseUrl}/#/w/${slug}/queue?kind=apply_decision`);
    await expect.poll(() => jobRow(page, applyJobs[0]!._id).count()).toBe(1);
    expect(problems()).toEqual([]);
  });

  test("the chart draws the last hour's real jobs by status, with the same numbers as a table", async () => {
    const { page, problems } = await browser.newPage();
    const { slug } = await signUpWithWorkspace(page, server, "Chart");
    const workspaceId = await api.workspaceId(slug);
    const repoId = await api.repo(workspaceId);
    const figure = page.locator("figure.chart");
    await expect
      .poll(() => figure.locator("figcaption").textContent())
      .toBe("Jobs created in the last hour, by status now: 0");
    const workerId = await api.worker(workspaceId, repoId);
    for (let i = 0; i < 5; i++) await api.enqueue(workspaceId, repoId, { prompt: `job ${i}` });
    await (await api.claim(workspaceId, workerId)).complete("done");
    await (await api.claim(workspaceId, workerId)).complete("failed", { message: "broke" });
    await api.claim(workspaceId, workerId);
    // 5 jobs, all created in the current (last) 5-minute bar: 2 pending, 1 running, 1 done, 1 failed.
    await expect
      .poll(() => figure.locator("figcaption").textContent())
      .toBe("Jobs created in the last hour, by status now: 5");
    expect(await figure.locator("svg").getAttribute("aria-label")).toBe("Bar chart of 5 jobs in 5-minute bars");
    const table = figure.getByRole("table", { name: "Jobs created per 5 minutes, by status" });
    expect(await table.locator("thead th").allTextContents()).toEqual([
      "From",
      "scheduled",
      "waiting",
      "pending",
      "running",
      "done",
      "failed",
      "blocked",
      "canceled",
    ]);
    const rows = table.locator("tbody tr");
    expect(await rows.count()).toBe(12);
    await expect
      .poll(() => rows.last().locator("td").allTextContents())
      .toEqual(["0", "0", "2", "1", "1", "1", "0", "0"]);
    for (let i = 0; i < 11; i++) expect(await rows.nth(i).locator("td").allTextContents()).toEqual(Array(8).fill("0"));
    // The bars: one per status present, in the last slot, each titled with its number.
    const bars = figure.locator("rect.bar");
    expect(await bars.evaluateAll((rects) => rects.map((rect) => rect.getAttribute("class")))).toEqual([
      "bar bar-pending",
      "bar bar-running",
      "bar bar-done",
      "bar bar-failed",
    ]);
    const heights = await bars.evaluateAll((rects) => rects.map((rect) => Number(rect.getAttribute("height"))));
    expect(heights[0]).toBeCloseTo(heights[1]! * 2, 5); // 2 pending against 1 running
    expect(await figure.locator("rect.bar title").allTextContents()).toEqual([
      expect.stringMatching(/^\d\d:\d\d: 2 pending$/),
      expect.stringMatching(/: 1 running$/),
      expect.stringMatching(/: 1 done$/),
      expect.stringMatching(/: 1 failed$/),
    ]);
    // The bar's total is written above it: readable without hovering.
    expect(await figure.locator("text.total").allTextContents()).toEqual(["5"]);
    await figure.screenshot({ path: join(ARTIFACTS_DIR, "console-live", "chart.png") });
    expect(problems()).toEqual([]);
  });

  test("the paginated job list loads more on request and still grows live at the top", async () => {
    const { page, problems } = await browser.newPage();
    const { slug } = await signUpWithWorkspace(page, server, "Pages");
    const workspaceId = await api.workspaceId(slug);
    const repoId = await api.repo(workspaceId);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push(await api.enqueue(workspaceId, repoId, { prompt: `bulk ${i}` }));
    const rows = page.locator("tr[data-job-id]");
    // A fresh subscription: the first page is 25 jobs, newest first.
    await page.reload();
    await expect.poll(() => rows.count()).toBe(25);
    expect(await rows.first().getAttribute("data-job-id")).toBe(ids[29]);
    await page.getByRole("button", { name: "Load more" }).click();
    await expect.poll(() => rows.count()).toBe(30);
    await expect.poll(() => page.getByRole("button", { name: "Load more" }).count()).toBe(0);
    const newest = await api.enqueue(workspaceId, repoId, { prompt: "newest" });
    await expect.poll(() => rows.first().getAttribute("data-job-id")).toBe(newest);
    const shown = await rows.evaluateAll((all) => all.map((row) => row.getAttribute("data-job-id")));
    expect(shown).toEqual([newest, ...[...ids].reverse()]); // no gap, no duplicate
    // The status filter is an index range: the page shows only what matches.
    await page.getByLabel("Status", { exact: true }).selectOption("running");
    await expect.poll(() => page.getByText(/^No jobs match\.$/).count()).toBe(1);
    expect(problems()).toEqual([]);
  });

  test("a device login of a workspace you are not in is not shown to you", async () => {
    const { page } = await browser.newPage();
    await signUpWithWorkspace(page, server, "Outsider");
    const started = await fetch(`${server.apiUrl}/v1/auth/device/start`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ workspaceSlug: "local", machineName: "laptop" }),
    }).then((response) => response.json() as Promise<Record<string, any>>);
    await page.goto(`${server.baseUrl}/auth/device?id=${started.deviceId}`);
    await expect
      .poll(() => page.getByRole("alert").textContent())
      .toBe("No device login with this id in your workspaces. (DEVICE_SESSION_NOT_FOUND)");
    expect(await page.getByRole("button", { name: "Approve" }).count()).toBe(0);
  });

  test("after the server restarts, the open page reconnects and is live again", async () => {
    const own = await servers.start();
    const ownApi = workerApi(own);
    await signUp(own, "developer@example.com");
    const { page } = await browser.newPage();
    const { slug } = await signUpWithWorkspace(page, own, "Restart");
    const workspaceId = await ownApi.workspaceId(slug);
    const repoId = await ownApi.repo(workspaceId);
    const before = await ownApi.enqueue(workspaceId, repoId, { prompt: "before the restart" });
    await expect.poll(() => jobRow(page, before).count()).toBe(1);

    await own.stop();
    const again = await servers.start({
      port: own.port,
      dataDir: own.dataDir,
      cwd: own.cwd, // the same .env.local: the same sign-in keys, so the session stays valid
      serviceToken: own.serviceToken,
    });
    const after = await workerApi(again).enqueue(workspaceId, repoId, { prompt: "after the restart" });
    await expect.poll(() => jobRow(page, after).textContent(), { timeout: 30_000 }).toContain("after the restart");
    expect(await jobRow(page, before).count()).toBe(1);
    expect(await page.getByRole("button", { name: "Sign out" }).count()).toBe(1);
  });
});
