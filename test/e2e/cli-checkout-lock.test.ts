// @vitest-environment node
/** The per-checkout job lock of `ias worker`: exclusive, and stale locks are taken over exactly once. */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { lockCheckout } from "../../scripts/cli/checkout-lock";
import { makeTempDir, removeTempDirs } from "../support/local-process";

afterAll(removeTempDirs);

/** A git checkout; its lock lives at .git/ias-job.lock. */
function checkout(): { dir: string; lockFile: string } {
  const dir = makeTempDir("ias-lock-");
  spawnSync("git", ["init", "-q"], { cwd: dir });
  return { dir, lockFile: join(dir, ".git", "ias-job.lock") };
}

/** A pid that certainly belongs to no running process. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString());
}

const never = new AbortController().signal;

async function attempt(dir: string, waitMs = 600) {
  const controller = new AbortController();
  const busy: number[] = [];
  setTimeout(() => controller.abort(), waitMs);
  const lock = await lockCheckout(dir, controller.signal, (pid) => busy.push(pid));
  return { lock, busy };
}

test("one holder at a time; released on release", async () => {
  const { dir, lockFile } = checkout();
  const first = await lockCheckout(dir, never, () => undefined);
  expect(readFileSync(lockFile, "utf8").trim()).toBe(String(process.pid));
  const second = await attempt(dir);
  expect(second.lock).toBeNull();
  expect(second.busy).toEqual([process.pid]);
  first!.release();
  expect(existsSync(lockFile)).toBe(false);
  const third = await attempt(dir);
  expect(third.lock).not.toBeNull();
  third.lock!.release();
});

test("a lock of a dead process, or one naming this process that it does not hold, is taken over", async () => {
  for (const holder of [deadPid(), process.pid]) {
    const { dir, lockFile } = checkout();
    writeFileSync(lockFile, `${holder}\n`);
    const { lock } = await attempt(dir);
    expect(lock).not.toBeNull();
    expect(readFileSync(lockFile, "utf8").trim()).toBe(String(process.pid));
    lock!.release();
  }
});

test("a lock from before the last boot is stale even if its pid runs now", async () => {
  const { dir, lockFile } = checkout();
  writeFileSync(lockFile, "1\n"); // pid 1 always runs
  const beforeBoot = new Date(Date.now() - 10 * 365 * 86_400_000);
  utimesSync(lockFile, beforeBoot, beforeBoot);
  const { lock } = await attempt(dir);
  expect(lock).not.toBeNull();
  lock!.release();
});

test("while another worker is taking a stale lock over, nobody else does; a crashed takeover expires", async () => {
  const { dir, lockFile } = checkout();
  writeFileSync(lockFile, `${deadPid()}\n`);
  writeFileSync(`${lockFile}.takeover`, "12345\n"); // someone else is mid-takeover
  expect((await attempt(dir)).lock).toBeNull();
  const longAgo = new Date(Date.now() - 60_000);
  utimesSync(`${lockFile}.takeover`, longAgo, longAgo);
  const { lock } = await attempt(dir);
  expect(lock).not.toBeNull();
  expect(existsSync(`${lockFile}.takeover`)).toBe(false);
  lock!.release();
});
