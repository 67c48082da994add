// @vitest-environment node
/**
 * The Queue page's pause and cancel grace controls (SPEC §6 "Pause", "Cancel grace"), in headless
 * Chromium against the real local server: an admin pauses one repo, a worker of that repo gets
 * QUEUE_PAUSED while a worker of another repo still claims, resume makes it claimable again; a
 * lane paused from the page stops every repo of it; a viewer sees the state but no controls; the
 * cancel grace set on the page is the one
 * the server then applies (its cancel_requested event and the server's own end of the job), and
 * bad values are refused with a message. Each test's last page is saved as a PNG
 * (test-artifacts/console-queue-controls/).
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { useBrowser } from "../support/browser";
import { api as functions } from "../../convex/_generated/api";
import { consoleJwt, signInToConsole, signUpWithWorkspace } from "../support/console-pages";
import { httpClient, signUp } from "../support/convex-clients";
import { localServerPool, removeTempDirs, type LocalProcess } from "../support/local-process";
import { workerApi } from "../support/worker-api";

const servers = localServerPool();
let server: LocalProcess;
let api: ReturnType<typeof workerApi>;
const browser = useBrowser("console-queue-controls");

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

const controls = (page: Page) => page.getByRole("region", { name: "Pause and cancel grace" });
/** The cell of a repo (or `lane` for the whole lane) in one lane; `data-paused` is the server's state. */
const cell = (page: Page, row: string, lane = "worker") =>
  controls(page).locator(`tr[data-${row === "lane" ? 'queue="lane"' : `repo-id="${row}"`}] td[data-lane="${lane}"]`);
const pausedState = (page: Page, row: string, lane = "worker") => cell(page, row, lane).getAttribute("data-paused");

async function claimReason(workspaceId: string, workerId: string): Promise<string | null> {
  const body = await api.ok("/v1/jobs/claim-next", { workspaceId, workerId });
  return body.jobId === null ? body.reason : null;
}

describe("queue controls on the Queue page", () => {
  test("an admin pauses one repo: its worker gets QUEUE_PAUSED, another repo stays claimable; resume", async () => {
    const { page, problems } = await browser.newPage();
    const { slug } = await signUpWithWorkspace(page, server, "Pause ops");
    const workspaceId = await api.workspaceId(slug);
    const app = await api.repo(workspaceId, "app");
    const site = await api.repo(workspaceId, "site");
    const appWorker = await api.worker(workspaceId, app, "app-box");
    const siteWorker = await api.worker(workspaceId, site, "site-box");
    const appJob = await api.enqueue(workspaceId, app, { prompt: "app work" });
    const siteJob = await api.enqueue(workspaceId, site, { prompt: "site work" });
    await page.reload();
    await expect.poll(() => pausedState(page, app), { timeout: 15_000 }).toBe("false");
    expect(await cell(page, app).locator(".badge").textContent()).toBe("active");

    await page.getByRole("button", { name: "Pause app in the worker lane" }).click();
    await expect.poll(() => pausedState(page, app)).toBe("true");
    expect(await cell(page, app).locator(".badge").textContent()).toBe("paused");
    expect(await pausedState(page, site)).toBe("false");
    expect(await pausedState(page, app, "cloud_ai")).toBe("false");
    expect(await claimReason(workspaceId, appWorker)).toBe("QUEUE_PAUSED");
    const siteClaim = await api.ok("/v1/jobs/claim-next", { workspaceId, workerId: siteWorker });
    expect(siteClaim.jobId).toBe(siteJob);

    await page.getByRole("button", { name: "Resume app in the worker lane" }).click();
    await expect.poll(() => pausedState(page, app)).toBe("false");
    const appClaim = await api.ok("/v1/jobs/claim-next", { workspaceId, workerId: appWorker });
    expect(appClaim.jobId).toBe(appJob);

    // Pausing the whole lane stops every repo of it; a pause over HTTP shows up on the page live.
    await page.getByRole("button", { name: "Pause worker lane" }).click();
    await expect.poll(() => pausedState(page, "lane")).toBe("true");
    await api.enqueue(workspaceId, site, { prompt: "more site work" });
    expect(await claimReason(workspaceId, siteWorker)).toBe("QUEUE_PAUSED");
    await api.ok("/v1/queues/resume", { workspaceId, lane: "worker" });
    await expect.poll(() => pausedState(page, "lane")).toBe("false");
    expect((await api.ok("/v1/jobs/claim-next", { workspaceId, workerId: siteWorker })).jobId).not.toBeNull();

    expect(problems()).toEqual([]);
  });

  test("a viewer sees which queues are paused and the cancel grace, with no buttons or field", async () => {
    const { page: ownerPage } = await browser.newPage();
    const { slug } = await signUpWithWorkspace(ownerPage, server, "Viewer ops");
    const workspaceId = await api.workspaceId(slug);
    const app = await api.repo(workspaceId, "app");
    await api.ok("/v1/queues/pause", { workspaceId, lane: "cloud_ai", repoId: app });
    const email = `viewer-${Date.now()}@example.com`;
    await signUp(server, email);
    const owner = httpClient(server, await consoleJwt(ownerPage));
    await owner.mutation(functions.members.add, { workspaceId: workspaceId as never, email, role: "viewer" });

    const { page, problems } = await browser.newPage();
    await signInToConsole(page, server, email);
    await page.goto(`${server.baseUrl}/#/w/${slug}/queue`);
    await expect.poll(() => pausedState(page, app, "cloud_ai"), { timeout: 15_000 }).toBe("true");
    expect(await cell(page, app, "cloud_ai").locator(".badge").textContent()).toBe("paused");
    expect(await pausedState(page, app)).toBe("false");
    expect(await controls(page).locator("[data-cancel-grace-ms]").getAttribute("data-cancel-grace-ms")).toBe("120000");
    expect(await controls(page).getByRole("button").count()).toBe(0);
    expect(await page.getByLabel("Cancel grace (seconds)").count()).toBe(0);
    expect(problems()).toEqual([]);
  });

  test("the cancel grace set on the page is what the server applies; bad values get a message", async () => {
    const { page, problems } = await browser.newPage();
    const { slug } = await signUpWithWorkspace(page, server, "Grace ops");
    const workspaceId = await api.workspaceId(slug);
    const repoId = await api.repo(workspaceId);
    const shown = () => controls(page).locator("[data-cancel-grace-ms]").getAttribute("data-cancel-grace-ms");
    await expect.poll(shown, { timeout: 15_000 }).toBe("120000");
    expect(await controls(page).locator("[data-cancel-grace-ms]").textContent()).toContain("120 s later (the default)");

    const field = page.getByLabel("Cancel grace (seconds)");
    const save = controls(page).getByRole("button", { name: "Save" });
    const rule = "Enter a whole number of seconds from 0 to 86,400 (24 hours).";
    for (const bad of ["ten", "1.5", "-3", "86401", ""]) {
      await field.fill(bad);
      await save.click();
      await expect.poll(() => controls(page).getByRole("alert").textContent()).toBe(rule);
      expect(await field.getAttribute("aria-invalid")).toBe("true");
    }
    expect(await shown()).toBe("120000");

    await field.fill("2");
    await save.click();
    await expect.poll(shown).toBe("2000");
    expect(await controls(page).getByRole("alert").count()).toBe(0);
    expect(await controls(page).getByRole("status").textContent()).toBe("Saved.");

    // The server uses it: the cancel request announces 2 s, and the job is ended 2 s later.
    await api.enqueue(workspaceId, repoId);
    const lease = await api.claim(workspaceId, await api.worker(workspaceId, repoId));
    await api.ok("/v1/jobs/cancel", { workspaceId, jobId: lease.jobId });
    const events = async () =>
      (await api.ok("/v1/job-events/list-for-job", { workspaceId, jobId: lease.jobId, limit: 50 })).events;
    expect((await events()).find((event: { type: string }) => event.type === "cancel_requested")).toMatchObject({
      data: { graceMs: 2_000 },
    });
    const job = async () => (await api.ok("/v1/jobs/get", { workspaceId, jobId: lease.jobId })).job;
    await expect.poll(async () => (await job()).status, { timeout: 30_000, interval: 250 }).toBe("canceled");
    expect((await job()).outcomeReason).toMatchObject({ code: "cancel_grace" });
    expect(problems()).toEqual([]);
  });
});
