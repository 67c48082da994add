// @vitest-environment node
/**
 * The real deploy path, offline: the installed `convex` CLI bundles and pushes this project to a
 * loopback HTTP server posing as a self-hosted Convex backend (scripts/deploy/). The push payload
 * is then checked the way the backend would check it, which neither tsc, convex-test nor local
 * mode does: module paths (a hyphen refuses the whole push), the schema's tables and indexes (a
 * second index of one name refuses it too), Node built-ins outside "use node" files, every
 * function module present, total size. And convex/_generated must be byte for byte
 * what that deploy writes, so a real deploy never leaves it stale.
 */
import { build } from "esbuild";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, expect, test } from "vitest";
import { deployOffline, type OfflineDeploy } from "../../scripts/deploy/offline-deploy";
import { modulePathProblem } from "../support/module-paths";
import { schemaProblems, validatorProblems, type SchemaJson, type ValidatorJson } from "../support/schema-rules";

const PROJECT_DIR = fileURLToPath(new URL("../../", import.meta.url));
const CONVEX_DIR = join(PROJECT_DIR, "convex");

/** Convex docs, "Limits" (npm-packages/docs/docs/production/state/limits.mdx): code size per deployment. */
const MAX_CODE_BYTES = 32 * 1024 * 1024;
/** crates/common/src/knobs.rs `MAX_USER_MODULES`: function files per push. */
const MAX_USER_MODULES = 4_096;

type PushedModule = { path: string; source: string; sourceMap?: string; environment: "isolate" | "node" };

let scratch: string;
let modules: PushedModule[];
let push: OfflineDeploy;
const leftoversBefore = offlineDeployDirs();

function offlineDeployDirs(): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith("ias-offline-deploy-"));
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "ias-deploy-bundle-test-"));
  const bundleDir = join(scratch, "bundle");
  // 1. `--debug-bundle-path`: the CLI writes the exact push payload to fullConfig.json and stops.
  await deployOffline({ projectDir: PROJECT_DIR, debugBundlePath: bundleDir, codegen: false });
  modules = (JSON.parse(readFileSync(join(bundleDir, "fullConfig.json"), "utf8")) as { modules: PushedModule[] })
    .modules;
  // 2. The whole push, as `npx convex deploy` runs it, with the code generation that follows.
  push = await deployOffline({ projectDir: PROJECT_DIR });
});

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

test("every module path in the push payload passes the backend's check", () => {
  expect(modules.length).toBeGreaterThan(50);
  expect(modules.map((module) => modulePathProblem(module.path)).filter((problem) => problem !== null)).toEqual([]);
});

test("the pushed schema.js, evaluated as the backend does, passes its table and index rules", async () => {
  // The schema travels in start_push as one self-contained module; the backend runs it and reads
  // its default export's `export()`.
  const startPush = push.requests.find((request) => request.path === "/api/deploy2/start_push");
  const pushed = (startPush?.body as { appDefinition: { schema: PushedModule | null } }).appDefinition.schema;
  expect(pushed?.path).toBe("schema.js");
  const file = join(scratch, "schema.mjs");
  writeFileSync(file, pushed!.source);
  const { default: schema } = (await import(pathToFileURL(file).href)) as { default: { export(): string } };
  const json = JSON.parse(schema.export()) as SchemaJson;
  const jobs = json.tables.find((table) => table.tableName === "jobs");
  expect(jobs?.indexes.map((index) => index.indexDescriptor)).toEqual(
    expect.arrayContaining(["by_queue", "by_parent_status"]),
  );
  expect(schemaProblems(json)).toEqual([]);
});

test("every pushed function's argument and return validators pass the backend's rules", async () => {
  // The backend loads each module and reads every function's exportArgs() and exportReturns().
  type Registered = {
    isQuery?: true;
    isMutation?: true;
    isAction?: true;
    exportArgs(): string;
    exportReturns(): string;
  };
  const problems: string[] = [];
  let functions = 0;
  for (const module of modules.filter((candidate) => candidate.environment === "isolate")) {
    if (module.path.startsWith("_deps/")) continue;
    const exports = await importPushed(module.path);
    for (const [name, value] of Object.entries(exports)) {
      const fn = value as Registered;
      if (typeof value !== "function" || !(fn.isQuery || fn.isMutation || fn.isAction)) continue;
      functions++;
      const where = `${module.path.replace(/\.js$/, "")}:${name}`;
      for (const [part, json] of [
        ["args", fn.exportArgs()],
        ["returns", fn.exportReturns()],
      ] as const) {
        const validator = JSON.parse(json) as ValidatorJson | null;
        if (validator !== null) problems.push(...validatorProblems(validator, `${where} ${part}`));
      }
    }
  }
  expect(functions).toBeGreaterThan(100);
  expect(problems).toEqual([]);
});

test("the pushed crons.js names each job in printable ASCII and runs an existing mutation or action", async () => {
  // The backend reads the default export's export(): { [identifier]: { name: "module:function", args, schedule } }.
  const { default: crons } = (await importPushed("crons.js")) as { default: { export(): string } };
  const jobs = Object.entries(JSON.parse(crons.export()) as Record<string, { name: string }>);
  expect(jobs.length).toBeGreaterThanOrEqual(10);
  const problems: string[] = [];
  for (const [identifier, { name }] of jobs) {
    if (!/^[\x20-\x7e]+$/.test(identifier)) problems.push(`cron "${identifier}": not printable ASCII`);
    const [path, exported = "default"] = name.split(":");
    const target = modules.some((module) => module.path === `${path}.js`)
      ? ((await importPushed(`${path}.js`))[exported] as { isMutation?: true; isAction?: true } | undefined)
      : undefined;
    if (!target?.isMutation && !target?.isAction)
      problems.push(`cron "${identifier}": ${name} is no pushed mutation or action`);
  }
  expect(problems).toEqual([]);
});

test("http.js, crons.js and a module for every file under convex/ are pushed", () => {
  const sourceFiles = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return entry.name === "_generated" ? [] : sourceFiles(path);
      return entry.name.endsWith(".ts") && entry.name !== "schema.ts" ? [relative(CONVEX_DIR, path)] : [];
    });
  const expected = sourceFiles(CONVEX_DIR).map((file) => file.split(sep).join("/").replace(/\.ts$/, ".js"));
  expect(expected).toEqual(expect.arrayContaining(["http.js", "crons.js", "leases.js", "api/httpUtil.js"]));
  const pushed = new Set(modules.map((module) => module.path));
  expect(expected.filter((path) => !pushed.has(path))).toEqual([]);
});

test('no module outside a "use node" file imports a Node built-in', async () => {
  const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
  const offenders: string[] = [];
  for (const module of modules.filter((candidate) => candidate.environment === "isolate")) {
    for (const specifier of await importsOf(module.source)) {
      if (builtins.has(specifier) || specifier.startsWith("node:"))
        offenders.push(`${module.path} imports ${specifier}`);
    }
  }
  expect(offenders).toEqual([]);
});

test("the import scan sees static, dynamic and require imports, and not comments", async () => {
  const source = 'import a from "node:fs";\nconst b = require("crypto");\nimport("path");\n// import x from "os"\n';
  expect((await importsOf(source)).sort()).toEqual(["crypto", "node:fs", "path"]);
});

test("the pushed code stays under the backend's limits", () => {
  const bytes = modules.reduce(
    (sum, module) => sum + Buffer.byteLength(module.source) + Buffer.byteLength(module.sourceMap ?? ""),
    0,
  );
  expect(bytes).toBeLessThan(MAX_CODE_BYTES);
  expect(modules.length).toBeLessThanOrEqual(MAX_USER_MODULES);
});

test("the full push sends those same modules, and convex/_generated is what that deploy writes", () => {
  const startPush = push.requests.find((request) => request.path === "/api/deploy2/start_push");
  const changed = (startPush?.body as { appDefinition: { changedModules: PushedModule[] } }).appDefinition
    .changedModules;
  // Shared chunks (`_deps/<hash>.js`) are named by esbuild per build; the function modules match exactly.
  const functionModules = (list: PushedModule[]) =>
    list.map((module) => module.path.replace(/^_deps\/.*/, "_deps/*")).sort();
  expect(functionModules(changed)).toEqual(functionModules(modules));
  expect(push.requests.map((request) => request.path)).toContain("/api/deploy2/finish_push");

  expect([...push.generated.keys()]).toEqual(readdirSync(join(CONVEX_DIR, "_generated")).sort());
  for (const [name, text] of push.generated) {
    expect(text, `convex/_generated/${name} differs from what the deploy writes: run npm run codegen`).toBe(
      readFileSync(join(CONVEX_DIR, "_generated", name), "utf8"),
    );
  }
  expect(push.generated.get("api.js")).toContain("export const components = componentsGeneric();");
});

test("the loopback backend is shut down and the temporary copies are removed", async () => {
  await expect(fetch(push.backendUrl)).rejects.toThrow();
  expect(offlineDeployDirs().filter((name) => !leftoversBefore.includes(name))).toEqual([]);
  expect(existsSync(join(PROJECT_DIR, "convex", "_generated"))).toBe(true);
});

/** Imports a pushed module as the backend would load it (all pushed modules are written out once). */
async function importPushed(path: string): Promise<Record<string, unknown>> {
  const dir = join(scratch, "pushed");
  if (!existsSync(dir)) {
    for (const module of modules) {
      mkdirSync(dirname(join(dir, module.path)), { recursive: true });
      writeFileSync(join(dir, module.path), module.source);
    }
    writeFileSync(join(dir, "package.json"), '{ "type": "module" }');
  }
  return (await import(pathToFileURL(join(dir, path)).href)) as Record<string, unknown>;
}

/** Every module specifier `source` imports (static, dynamic, require), as esbuild parses it. */
async function importsOf(source: string): Promise<string[]> {
  const specifiers: string[] = [];
  await build({
    stdin: { contents: source, loader: "js" },
    bundle: true,
    write: false,
    platform: "neutral",
    logLevel: "silent",
    plugins: [
      {
        name: "record-imports",
        setup(pluginBuild) {
          pluginBuild.onResolve({ filter: /.*/ }, (args) => {
            specifiers.push(args.path);
            return { path: args.path, external: true };
          });
        },
      },
    ],
  });
  return specifiers;
}
