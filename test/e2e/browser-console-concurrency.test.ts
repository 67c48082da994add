// @vitest-environment node
/**
 * Concurrency limits in the Console (SPEC §6 "Concurrency"), in headless Chromium against the
 * real local server: jobs of one key enqueued over the worker HTTP API wait behind the default
 * limit of 1; the admin raises the key's limit on the Queue page and the waiting jobs become
 * claimable, seen over HTTP; clearing the limit shows the default again. The last page is saved
 * as a PNG (test-artifacts/console-concurrency/).
 */
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ARTIFACTS_DIR, useBrowser } from "../support/browser";
import { signUpWithWorkspace } from "../support/console-pages";
import { signUp } from "../support/convex-clients";
import { localServerPool, removeTempDirs, type LocalProcess } from "../support/local-process";
import { workerApi } from "../support/worker-api";

const servers = localServerPool();
let server: LocalProcess;
let api: ReturnType<typeof workerApi>;
const browser = useBrowser("console-concurrency");

beforeAll(async () => {
  server = await servers.start();
  api = workerApi(server);
  await signUp(server, "developer@example.com");
});
afterAll(async () => {
  await servers.killAll();
  removeTempDirs();
});

const keyRow = (page: Page, key: string) => page.locator(`tr[data-key="${key}"]`);
const cells = (page: Page, key: string) => keyRow(page, key).locator("td").allTextContents();

describe("concurrency limits in the Console", () => {
  test("an admin raises a key's limit and its waiting jobs become claimable; clearing it shows the default", async () => {
    const { page, problems } = await browser.newPage();
    const { slug } = await signUpWithWorkspace(page, server, "Keyed Ops");
    const workspaceId = await api.workspaceId(slug);
    const repoId = await api.repo(workspaceId);
    const jobs: string[] = [];
    for (let i = 0; i < 3; i++) jobs.push(await api.enqueue(workspaceId, repoId, { concurrencyKey: "deploy" }));
    const statuses = async () =>
      await Promise.all(
        jobs.map(async (jobId) => (await api.ok("/v1/jobs/get", { workspaceId, jobId })).job.status as string),
      );
    expect(await statuses()).toEqual(["pending", "waiting", "waiting"]);

    const section = page.getByRole("region", { name: "Concurrency limits" });
    await expect.poll(() => cells(page, "deploy"), { timeout: 30_000 }).toEqual(["deploy", "1 (default)", "1", ""]);
    const form = section.getByRole("form", { name: "Set a concurrency limit" });
    await form.getByLabel("Key").fill("deploy");
    await form.getByLabel("Limit").fill("3");
    await form.getByRole("button", { name: "Set limit" }).click();
    await expect.poll(() => cells(page, "deploy"), { timeout: 30_000 }).toEqual(["deploy", "3", "3", "Clear limit"]);
    expect(await statuses()).toEqual(["pending", "pending", "pending"]);

    await keyRow(page, "deploy").getByRole("button", { name: "Clear limit" }).click();
    await expect.poll(() => cells(page, "deploy"), { timeout: 30_000 }).toEqual(["deploy", "1 (default)", "3", ""]);
    // A limit out of range is refused by the server and shown.
    await form.getByLabel("Limit").fill("5000");
    await form.evaluate((element) => ((element as HTMLFormElement).noValidate = true));
    await form.getByRole("button", { name: "Set limit" }).click();
    await expect.poll(() => section.getByRole("alert").textContent(), { timeout: 30_000 }).toContain("INVALID_REQUEST");
    await page.screenshot({ path: join(ARTIFACTS_DIR, "console-concurrency", "limits.png"), fullPage: true });
    expect(problems()).toEqual([
      expect.stringMatching(/^console: \[CONVEX M\(concurrency:setLimit\)\] .*INVALID_REQUEST/),
    ]);
  });
});
