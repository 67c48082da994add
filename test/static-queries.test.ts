// @vitest-environment node
/**
 * SPEC §6: database reads use index ranges, never `.filter()` scans or `.collect()` of unbounded
 * ranges. convex-test counts only the documents a query returns, so the cost-budget test cannot
 * see a scan (a `.filter()` over 10,000 jobs reads as 1 document there): this test reads the
 * source instead. Every `ctx.db.query(...)` chain in convex/ must go through `withIndex` or
 * `withSearchIndex`, and none may call `.filter(` or `.collect()`.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";

const CONVEX_DIR = fileURLToPath(new URL("../convex/", import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "_generated" ? [] : sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** Each query chain: from `.query("table")` to the end of its statement. */
function queryChains(source: string): Array<{ line: number; chain: string; assignedTo?: string }> {
  const chains = [];
  for (const match of source.matchAll(/\.query\(\s*"(\w+)"\s*\)/g)) {
    const start = match.index!;
    const end = source.indexOf(";", start);
    const chain = source.slice(start, end === -1 ? undefined : end);
    const before = source.slice(Math.max(0, start - 80), start);
    const assignedTo = /(?:const|let)\s+(\w+)\s*=\s*ctx\.db\s*$/.exec(before)?.[1];
    chains.push({ line: source.slice(0, start).split("\n").length, chain, assignedTo });
  }
  return chains;
}

const files = sourceFiles(CONVEX_DIR);

test("the scan finds the queries it is meant to check", () => {
  const total = files.reduce((count, file) => count + queryChains(readFileSync(file, "utf8")).length, 0);
  expect(total).toBeGreaterThan(40);
});

test("every database query reads an index range, without .filter() or .collect()", () => {
  const offenders: string[] = [];
  for (const file of files) {
    const source = readFileSync(file, "utf8");
    for (const { line, chain, assignedTo } of queryChains(source)) {
      const where = `${relative(CONVEX_DIR, file)}:${line}`;
      // `const jobs = ctx.db.query("jobs");` then `jobs.withIndex(...)`: check the uses instead.
      const uses =
        assignedTo === undefined
          ? [chain]
          : [...source.matchAll(new RegExp(`\\b${assignedTo}\\.[^;]*`, "g"))].map((use) => use[0]);
      for (const use of uses) {
        if (!/\.with(Search)?Index\(/.test(use)) offenders.push(`${where}: no index: ${use.slice(0, 80)}`);
        if (/\.filter\(|\.collect\(\)/.test(use)) offenders.push(`${where}: scan: ${use.slice(0, 80)}`);
      }
    }
  }
  expect(offenders).toEqual([]);
});
