// @vitest-environment node
/**
 * One developer's local mode, in headless Chromium against the real local server and the real
 * `ias` CLI: the first person to sign up lands in workspace `local` as an owner; `ias auth
 * login` is approved (and, for another login, denied) on the Console's own device page as that
 * person; then a job enqueued from the Console's form runs on `ias worker start`, its log lines
 * appear on the job page live, and Cancel on the page stops the job's process.
 *
 * The tests run in order on one server: the second and third use the login the first made.
 * Each test's last page is saved as a PNG (test-artifacts/console-developer/).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { useBrowser } from "../support/browser";
import {
  eventually,
  isAlive,
  killCliProcesses,
  killProcessGroups,
  makeCheckout,
  runCli,
  setWorkerSettings,
  startCli,
  startDeviceLogin,
} from "../support/cli-process";
import { consoleJwt, signInToConsole, signUpInConsole } from "../support/console-pages";
import { httpClient } from "../support/convex-clients";
import { makeTempDir, removeTempDirs, spawnLocalServer, type LocalProcess } from "../support/local-process";

/** Prints two lines, records its pid, then waits until it is stopped. */
const JOB_SCRIPT = `#!/bin/bash
echo "$$" > "$SCRATCH/pid-$IAS_JOB_ID"
echo "checking out for job $IAS_JOB_ID"
echo "running the test suite"
sleep 120 &
wait
`;

let server: LocalProcess;
const browser = useBrowser("console-developer");
const home = makeTempDir("ias-console-dev-home-");
const scratch = makeTempDir("ias-console-dev-scratch-");
const checkout = join(makeTempDir("ias-console-dev-repo-"), "widgets");
const cli = { home, cwd: checkout, env: { SCRATCH: scratch } };
const jobPids: number[] = [];

beforeAll(async () => {
  server = await spawnLocalServer();
  makeCheckout(checkout, "git@github.com:acme/widgets.git");
  writeFileSync(join(scratch, "job.sh"), JOB_SCRIPT, { mode: 0o755 });
});
afterAll(async () => {
  await killCliProcesses();
  killProcessGroups(jobPids);
  await server?.stop();
  removeTempDirs();
});

const heading = (page: import("playwright-core").Page) => page.locator("h1").first().textContent();

describe("a developer's local mode in the Console", () => {
  test("the first person to sign up is an owner of local and approves `ias auth login` on the Console's device page", async () => {
    const { page, problems } = await browser.newPage();
    await signUpInConsole(page, server, "dev@example.com");
    // No "create your first workspace": the CLI's default workspace is already theirs.
    await expect.poll(() => heading(page)).toBe("Queue");
    expect(await page.getByLabel("Workspace").inputValue()).toBe("local");

    const { login, approvalUrl, deviceId, userCode } = await startDeviceLogin(server, { home, machineName: "laptop" });
    // The URL the terminal prints is the local page; it links to the Console's page for members.
    await page.goto(approvalUrl);
    await page.getByRole("link", { name: "decide there" }).click();
    await expect.poll(() => page.url()).toBe(`${server.baseUrl}/auth/device?id=${deviceId}`);
    await expect.poll(() => page.locator(".code").textContent()).toBe(userCode);
    await page.getByRole("button", { name: "Approve" }).click();
    await expect.poll(() => page.getByRole("status").textContent()).toMatch(/^You decided at \d{4}-\d\d-\d\d /);

    expect(await login.exited).toEqual({ code: 0, signal: null });
    expect(login.stdout()).toContain(`Logged in to workspace "local"`);
    // The CLI collected the token: the page follows the session to "consumed" without a reload.
    await expect.poll(() => page.locator(".badge").textContent()).toBe("consumed");
    // The token is the signed-in person's own, not the bootstrap owner's.
    const tokens = await httpClient(server, await consoleJwt(page)).query(api.tokens.listMine, {});
    expect(tokens).toEqual([expect.objectContaining({ kind: "device", label: "laptop", status: "active" })]);
    expect(problems()).toEqual([]);
  });

  test("Deny on the Console's device page: the CLI says denied and stores nothing", async () => {
    const { page } = await browser.newPage();
    await signInToConsole(page, server, "dev@example.com");
    await expect.poll(() => heading(page)).toBe("Queue");

    const otherHome = makeTempDir("ias-console-dev-deny-");
    const { login, deviceId, userCode } = await startDeviceLogin(server, { home: otherHome, machineName: "stranger" });
    await page.goto(`${server.baseUrl}/auth/device?id=${deviceId}`);
    await expect.poll(() => page.locator(".code").textContent()).toBe(userCode);
    await page.getByRole("button", { name: "Deny" }).click();
    expect((await login.exited).code).toBe(3);
    expect(login.stdout() + login.stderr()).toMatch(/denied/i);
    expect(existsSync(join(otherHome, "auth.json"))).toBe(false);
    await expect.poll(() => page.locator(".badge").textContent()).toBe("denied");
    expect(await page.getByRole("status").textContent()).toMatch(/^You decided at/);
  });

  test("a job enqueued on the Console runs on `ias worker`: logs arrive live, Cancel on the page stops it", async () => {
    const linked = await runCli(["repo", "link", "--json"], cli);
    expect(linked.code, linked.stderr).toBe(0);
    setWorkerSettings(home, {
      command: ["bash", join(scratch, "job.sh")],
      leaseMs: 6_000,
      cancelGraceMs: 1_000,
      idleBackoffMs: { min: 100, max: 300 },
    });

    const { page, problems } = await browser.newPage();
    await signInToConsole(page, server, "dev@example.com");
    await expect.poll(() => heading(page)).toBe("Queue");

    await page.getByText("Enqueue a job").click();
    const form = page.getByRole("form", { name: "Enqueue a job" });
    await form.getByLabel("Repo").selectOption({ label: "widgets" });
    await form.getByLabel("Prompt").fill("run the test suite");
    await page.getByRole("button", { name: "Enqueue" }).click();
    await page.getByRole("status").getByRole("link").click();
    await expect.poll(() => heading(page)).toMatch(/pending$/);
    const jobId = decodeURIComponent(/\/jobs\/([^/?]+)$/.exec(page.url())![1]!);

    const worker = startCli(["worker", "start", "--once", "--json", "--name", "laptop-worker"], cli);
    await expect.poll(() => heading(page), { timeout: 30_000 }).toMatch(/running$/);
    await expect
      .poll(() => page.locator("pre.log").allTextContents(), { timeout: 30_000 })
      .toEqual([`checking out for job ${jobId}\nrunning the test suite`]);
    const pid = await eventually(
      () =>
        existsSync(join(scratch, `pid-${jobId}`))
          ? Number(readFileSync(join(scratch, `pid-${jobId}`), "utf8"))
          : undefined,
      "the job's process to start",
    );
    jobPids.push(pid);
    expect(isAlive(pid)).toBe(true);

    await page.getByLabel("Cancel reason (optional)").fill("wrong branch");
    await page.getByRole("button", { name: "Cancel job" }).click();
    await expect.poll(() => page.getByRole("status").first().textContent()).toContain("Cancel requested");
    // The worker hears it at its next job heartbeat, stops the process group and reports canceled.
    expect((await worker.exited).code).toBe(1);
    expect(worker.events().map((event) => event.event)).toContain("finished");
    expect(isAlive(pid)).toBe(false);
    await expect.poll(() => heading(page)).toMatch(/canceled$/);
    const fields = page.locator("dl.fields");
    await expect.poll(() => fields.textContent()).toContain("cancel_requested");
    // Times are compared with the clock of this render, not a tick seconds old ("finished in 5 s").
    expect(await fields.textContent()).not.toMatch(/\(in \d+ s\)/);
    expect(await page.locator(".timeline").textContent()).toContain("wrong branch");
    await expect.poll(() => page.getByRole("button", { name: "Retry" }).isVisible()).toBe(true);
    expect(problems()).toEqual([]);
    expect(execFileSync("git", ["status", "--porcelain"], { cwd: checkout, encoding: "utf8" })).toBe("");
  });
});
