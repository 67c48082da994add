// @vitest-environment node
/**
 * How `ias` starts (scripts/cli/bin.mjs, build.mjs): the bundle `npm install` builds is a working
 * CLI on its own, and the launcher runs it only while it is at least as new as every source it
 * lists, falling back to the TypeScript through tsx when it is missing or older.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, test } from "vitest";
import { makeTempDir, removeTempDirs } from "../support/local-process";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
afterAll(removeTempDirs);

const node = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, args, { encoding: "utf8", env: { ...process.env, ...env } });

describe("the bundle", () => {
  test("build.mjs makes one file that runs the CLI with nothing but Node", () => {
    const out = makeTempDir("ias-bundle-");
    execFileSync(process.execPath, [join(REPO, "scripts/cli/build.mjs"), out], { cwd: REPO });
    const home = makeTempDir("ias-bundle-home-");
    const help = node([join(out, "ias.mjs"), "help"], { IAS_HOME: home });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("ias jobs list");
    expect(help.stdout).toContain("ias worker start");
    const version = node([join(out, "ias.mjs"), "--version"]);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const usage = node([join(out, "ias.mjs"), "jobs", "list", "--limit", "abc"], { IAS_HOME: home });
    expect(usage.status).toBe(2);
  });
});

describe("the launcher", () => {
  /** A tree shaped like the repo: bin.mjs, a stub bundle listing one source, a stub source. */
  function tree() {
    const root = makeTempDir("ias-launcher-");
    const cli = join(root, "scripts", "cli");
    mkdirSync(join(cli, "dist"), { recursive: true });
    copyFileSync(join(REPO, "scripts/cli/bin.mjs"), join(cli, "bin.mjs"));
    symlinkSync(join(REPO, "node_modules"), join(root, "node_modules")); // tsx, for the fallback
    writeFileSync(join(cli, "ias.ts"), 'const from: string = "sources"; console.log(from);\n');
    writeFileSync(join(cli, "dist", "ias.mjs"), 'console.log("bundle");\n');
    writeFileSync(join(cli, "dist", "inputs.json"), JSON.stringify(["scripts/cli/ias.ts"]));
    const age = (path: string, secondsAgo: number) => {
      const at = new Date(Date.now() - secondsAgo * 1000);
      utimesSync(join(cli, path), at, at);
    };
    const run = () => node([join(cli, "bin.mjs")]).stdout.trim();
    return { cli, age, run };
  }

  test("runs the bundle when it is newer than its sources", () => {
    const { age, run } = tree();
    age("ias.ts", 60);
    age("dist/ias.mjs", 10);
    expect(run()).toBe("bundle");
  });

  test("falls back to the sources through tsx when a source is newer, or the bundle is missing", () => {
    const { cli, age, run } = tree();
    age("dist/ias.mjs", 60);
    age("ias.ts", 10); // edited after the build
    expect(run()).toBe("sources");
    age("ias.ts", 120);
    expect(run()).toBe("bundle");
    rmSync(join(cli, "dist", "inputs.json"));
    expect(run()).toBe("sources");
    rmSync(join(cli, "dist"), { recursive: true });
    expect(run()).toBe("sources");
  });
});
