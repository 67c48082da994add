// @vitest-environment node
/**
 * Schedule run triggers on the real local server (SPEC §6 "Scheduling"): an admin adds one on the
 * Console's Run triggers page in headless Chromium and sees its next 3 runs in its own zone; a
 * firing missed while local mode was stopped fires once when it starts again (the data dir keeps
 * the pending call, scripts/local/scheduled.ts re-arms it), then the next future time.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { nextRunAfter } from "../../convex/model/cronSchedule";
import { zoneTime } from "../../scripts/console/app/pages/RunTriggers";
import { useBrowser } from "../support/browser";
import { signInToConsole } from "../support/console-pages";
import { httpClient, signUp, type Session } from "../support/convex-clients";
import {
  callAsService,
  makeTempDir,
  removeTempDirs,
  spawnLocalServer,
  type LocalProcess,
} from "../support/local-process";

const EMAIL = "owner@example.com";
const dataDir = makeTempDir("ias-schedule-triggers-");
let server: LocalProcess;
let session: Session;
let workspaceId: Id<"workspaces">;
let repoId: Id<"repos">;
const browser = useBrowser("schedule-triggers");

beforeAll(async () => {
  server = await spawnLocalServer({ dataDir });
  session = await signUp(server, EMAIL); // the first sign-up owns workspace local
  const [local] = await httpClient(server, session.token).query(api.workspaces.listMine, {});
  workspaceId = local!._id as Id<"workspaces">;
  const repo = await callAsService(server, "/v1/repos/upsert", {
    workspaceId,
    remoteUrlHash: "hash-of-widgets",
    label: "widgets",
    status: "active",
  });
  repoId = repo.repoId as Id<"repos">;
});
afterAll(async () => {
  await server?.stop();
  removeTempDirs();
});

const listTriggers = async () =>
  (
    await httpClient(server, session.token).query(api.runTriggers.list, {
      workspaceId,
      paginationOpts: { numItems: 50, cursor: null },
    })
  ).page;

describe("schedule run triggers in local mode", () => {
  test("an admin adds a schedule trigger on the Console page and sees its next 3 runs", async () => {
    const { page, problems } = await browser.newPage();
    await signInToConsole(page, server, EMAIL);
    await page.getByRole("link", { name: "Triggers" }).click();
    await expect.poll(() => page.locator("h1").first().textContent()).toBe("Run triggers");
    const form = page.getByRole("form", { name: "Add a schedule trigger" });
    await form.getByLabel("Name").fill("Morning sweep");
    await form.getByLabel("Cron (5 fields)").fill("0 9 * * 1-5 *");
    await form.getByLabel("Time zone").fill("Europe/Berlin");
    await form.getByLabel("Prompt of the job it enqueues").fill("Sweep the backlog");
    await form.getByRole("button", { name: "Add schedule trigger" }).click();
    // Six fields: refused with the server's message, nothing stored.
    await expect
      .poll(() => page.getByRole("alert").textContent())
      .toMatch(/schedule\.cron: must have exactly 5 fields/);
    await form.getByLabel("Cron (5 fields)").fill("0 9 * * 1-5");
    const before = Date.now();
    await form.getByRole("button", { name: "Add schedule trigger" }).click();
    const runs = page.getByRole("list", { name: "Next runs of Morning sweep" }).getByRole("listitem");
    await expect.poll(() => runs.count()).toBe(3);

    const [stored] = await listTriggers();
    expect(stored).toMatchObject({ type: "schedule", schedule: { cron: "0 9 * * 1-5", timeZone: "Europe/Berlin" } });
    expect(stored!.upcomingRuns).toHaveLength(3);
    expect(stored!.upcomingRuns[0]).toBe(nextRunAfter(stored!.schedule!, before));
    const shown = await runs.allTextContents();
    expect(shown).toEqual(stored!.upcomingRuns.map((at) => zoneTime(at, "Europe/Berlin")));
    for (const text of shown) expect(text).toMatch(/^\d{4}-\d\d-\d\d 09:00 Europe\/Berlin$/);
    const row = page.getByRole("row", { name: /Morning sweep/ });
    expect(await row.textContent()).toContain("0 9 * * 1-5 in Europe/Berlin");
    expect(problems()).toEqual([expect.stringMatching(/runTriggers:create.*INVALID_REQUEST/)]);
  });

  test("a firing missed while local mode was stopped fires once at start, then the next future time", async () => {
    // Leave room before the next minute so the server is down when it passes.
    while (new Date().getSeconds() > 40) await sleep(1_000);
    const runTriggerId = await httpClient(server, session.token).mutation(api.runTriggers.create, {
      workspaceId,
      name: "Every minute",
      type: "schedule",
      schedule: { cron: "* * * * *", timeZone: "UTC" },
      action: { repoId, enqueueJob: { kind: "work", promptTemplate: "tick {{event.occurredAt}}" } },
    });
    const due = (await listTriggers()).find((trigger) => trigger._id === runTriggerId)!.nextRunAt!;
    await server.stop();
    expect(Date.now()).toBeLessThan(due);
    await sleep(due + 1_500 - Date.now());
    // The same port and cwd: the session token names the origin as its issuer and is signed by the keys there.
    server = await spawnLocalServer({ dataDir, port: server.port, cwd: server.cwd });
    const ticks = async () =>
      ((await callAsService(server, "/v1/jobs/list", { workspaceId, limit: 50 })).jobs as { prompt?: string }[])
        .map((job) => job.prompt ?? "")
        .filter((prompt) => prompt.startsWith("tick "));
    await expect.poll(ticks, { timeout: 30_000 }).toEqual([`tick ${due}`]);
    const trigger = (await listTriggers()).find((candidate) => candidate._id === runTriggerId)!;
    expect(trigger.lastRun).toMatchObject({ at: due, status: "done" });
    expect(trigger.nextRunAt).toBeGreaterThan(due);
    expect(trigger.nextRunAt! % 60_000).toBe(0);
    expect(trigger.nextRunAt).toBeGreaterThan(trigger.lastRun!.firedAt);
  }, 180_000);
});

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
