// @vitest-environment node
/**
 * Every file under convex/ becomes a module whose path the Convex backend checks on push (one bad
 * path refuses the whole push, as `api/http-util.js` did). Checked here from the source tree;
 * test/e2e/deploy-bundle.test.ts checks the paths in the real CLI's push payload too.
 */
import { readdirSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";
import { modulePathProblem, sourcePathProblem } from "./support/module-paths";

const CONVEX_DIR = fileURLToPath(new URL("../convex/", import.meta.url));

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "_generated" ? [] : filesUnder(path);
    return [relative(CONVEX_DIR, path).split(sep).join("/")];
  });
}

const files = filesUnder(CONVEX_DIR);

test("the walk sees the source tree, nested folders included", () => {
  expect(files).toEqual(expect.arrayContaining(["http.ts", "schema.ts", "api/httpUtil.ts", "api/routes/jobs.ts"]));
});

test("every file under convex/ has a valid module path: [A-Za-z0-9_] components, one dot before the extension", () => {
  const problems = files.flatMap((file) => {
    const asModule = file.replace(/\.ts$/, ".js");
    return [sourcePathProblem(file), file.endsWith(".ts") ? modulePathProblem(asModule) : null].filter(
      (problem) => problem !== null,
    );
  });
  expect(problems).toEqual([]);
});

test("the rules refuse what the backend refuses and the CLI skips", () => {
  expect(modulePathProblem("api/http-util.js")).toMatch(/http-util/);
  expect(modulePathProblem("api/ünicode.js")).not.toBeNull();
  expect(modulePathProblem("__/jobs.js")).toMatch(/no letter or digit/);
  expect(modulePathProblem("jobs.ts")).toMatch(/extension/);
  expect(modulePathProblem(`${"a".repeat(65)}.js`)).toMatch(/64 bytes/);
  expect(modulePathProblem("api/httpUtil.js")).toBeNull();
  expect(modulePathProblem("auth.config.js")).toBeNull();
  expect(sourcePathProblem("api/http.util.ts")).toMatch(/file name/);
  expect(sourcePathProblem("my-folder/jobs.ts")).toMatch(/folder/);
  expect(sourcePathProblem("model/jobs.ts")).toBeNull();
});
