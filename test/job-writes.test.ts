// @vitest-environment node
/**
 * Only `moveJob` sets a job's status (docs/job-states.md). Checked on the source with the
 * TypeScript checker, since a patch names no table: every `db.insert/patch/replace/delete` in
 * convex/ whose table is `jobs` (by its literal table name or the `Id<"jobs">` type of its id) must
 * be one of the writes of convex/jobState.ts, and there a `status` may be written only by
 * `moveJob` and `insertJob` (a birth). `updateJob`'s patch type has no `status` at all.
 */
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { beforeAll, expect, test } from "vitest";

const CONVEX_DIR = fileURLToPath(new URL("../convex/", import.meta.url));
const WRITES = new Set(["insert", "patch", "replace", "delete"]);

type JobWrite = { where: string; method: string; writesStatus: boolean };

let jobWrites: JobWrite[];
let databaseWrites = 0;
let updateJobPatchHasStatus: boolean;
/** Calls of jobState.ts's one patch, `writeJob(ctx, job, change, event)`: who passes a status. */
const writeJobCalls: string[] = [];

/** The named function (or top-level `const` such as a registered Convex function) a node is in. */
function enclosingFunction(node: ts.Node): string {
  for (let at: ts.Node | undefined = node.parent; at !== undefined; at = at.parent) {
    if ((ts.isFunctionDeclaration(at) || ts.isMethodDeclaration(at)) && at.name) return at.name.getText();
    if (ts.isVariableDeclaration(at) && ts.isSourceFile(at.parent.parent.parent) && ts.isIdentifier(at.name)) {
      return at.name.text;
    }
  }
  return "(top level)";
}

/** Whether an object literal (or the object a variable holds) has a `status` property. */
function writesStatus(checker: ts.TypeChecker, value: ts.Expression | undefined): boolean {
  if (value === undefined) return false;
  return checker.getTypeAtLocation(value).getProperty("status") !== undefined;
}

beforeAll(() => {
  const configPath = join(CONVEX_DIR, "tsconfig.json");
  const config = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} },
  )!;
  const program = ts.createProgram(config.fileNames, config.options);
  const checker = program.getTypeChecker();
  jobWrites = [];
  for (const source of program.getSourceFiles()) {
    if (!source.fileName.startsWith(CONVEX_DIR) || source.fileName.includes("/_generated/")) continue;
    const visit = (node: ts.Node) => {
      if (
        ts.isCallExpression(node) &&
        ts.isPropertyAccessExpression(node.expression) &&
        WRITES.has(node.expression.name.text) &&
        /\bdb$/.test(node.expression.expression.getText(source))
      ) {
        databaseWrites++;
        const [first, second, third] = node.arguments;
        const method = node.expression.name.text;
        const namedTable = first !== undefined && ts.isStringLiteral(first) ? first.text : undefined;
        const idType = first === undefined ? "" : checker.typeToString(checker.getTypeAtLocation(first));
        const onJobs = namedTable === "jobs" || (namedTable === undefined && /^Id<"jobs">$/.test(idType));
        if (onJobs) {
          // `insert("jobs", value)`, `patch(id, value)` or `patch("jobs", id, value)`.
          const value = method === "insert" || namedTable === undefined ? second : third;
          jobWrites.push({
            where: `${relative(CONVEX_DIR, source.fileName)}:${enclosingFunction(node)}`,
            method,
            writesStatus: writesStatus(checker, value),
          });
        }
      }
      if (
        ts.isCallExpression(node) &&
        ts.isIdentifier(node.expression) &&
        node.expression.text === "writeJob" &&
        relative(CONVEX_DIR, source.fileName) === "jobState.ts"
      ) {
        const status = writesStatus(checker, node.arguments[2]) ? "with status" : "without status";
        writeJobCalls.push(`${enclosingFunction(node)} ${status}`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
    if (relative(CONVEX_DIR, source.fileName) === "jobState.ts") {
      const updateJob = source.statements.find(
        (statement): statement is ts.FunctionDeclaration =>
          ts.isFunctionDeclaration(statement) && statement.name?.text === "updateJob",
      )!;
      const patch = updateJob.parameters.find((parameter) => parameter.name.getText(source) === "patch")!;
      updateJobPatchHasStatus = checker.getTypeAtLocation(patch).getProperty("status") !== undefined;
    }
  }
}, 120_000);

test("the scan sees the database writes of convex/", () => {
  expect(databaseWrites).toBeGreaterThan(50);
});

test("jobs are written only by insertJob, writeJob, deleteFinishedJob and countExistingJob in jobState.ts", () => {
  expect(jobWrites.map(({ where, method }) => `${where} ${method}`).sort()).toEqual([
    // The metrics backfill's mark (no status; it leaves `updatedAt` alone, so it is not a writeJob).
    "jobState.ts:countExistingJob patch",
    "jobState.ts:deleteFinishedJob delete",
    "jobState.ts:insertJob insert",
    "jobState.ts:writeJob patch",
  ]);
});

test("a job's status is written at its birth and by moveJob only", () => {
  expect(jobWrites.find((write) => write.method === "insert")?.writesStatus).toBe(true);
  // writeJob's patch may carry a status; of its callers only moveJob passes one.
  expect(writeJobCalls.sort()).toEqual(["moveJob with status", "updateJob without status"]);
  expect(updateJobPatchHasStatus).toBe(false);
});
