/**
 * How long `ias --help` takes to start and exit, as a whole process: through the launcher with
 * the bundle `npm install` builds (what users run), the TypeScript through tsx (what the launcher
 * falls back to when the bundle is missing or stale), and bare `node` as the floor. Runs
 * alternate between the three, so drift in the machine's speed hits them alike.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

export const STARTUP_TARGET_MS = 300;

const COMMANDS: Array<[name: string, args: string[]]> = [
  ["ias --help (bundle, via scripts/cli/bin.mjs)", ["scripts/cli/bin.mjs", "--help"]],
  ["ias --help (TypeScript through tsx)", ["--import", TSX, "scripts/cli/ias.ts", "--help"]],
  ["node -e 0 (bare Node, the floor)", ["-e", "0"]],
];

export type StartupFigure = { name: string; medianMs: number; minMs: number; maxMs: number };

export function measureCliStartup(runs = 15): StartupFigure[] {
  execFileSync(process.execPath, ["scripts/cli/build.mjs"], { cwd: ROOT, stdio: "ignore" }); // as after npm install
  const times = COMMANDS.map(() => [] as number[]);
  for (let run = 0; run <= runs; run++) {
    COMMANDS.forEach(([name, args], index) => {
      const started = process.hrtime.bigint();
      const result = spawnSync(process.execPath, args, {
        cwd: ROOT,
        stdio: "ignore",
        env: { ...process.env, NO_COLOR: "1" },
      });
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (result.status !== 0) throw new Error(`${name} exited ${result.status}`);
      if (run > 0) times[index]!.push(ms); // run 0 warms the file cache
    });
  }
  return COMMANDS.map(([name], index) => {
    const sorted = times[index]!.sort((a, b) => a - b);
    return { name, medianMs: sorted[Math.floor(sorted.length / 2)]!, minMs: sorted[0]!, maxMs: sorted.at(-1)! };
  });
}
