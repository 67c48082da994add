/**
 * The module map convex-test needs. Under Vite it comes from `import.meta.glob`; in a plain Node
 * process we build the same shape by walking `convex/`: keys are `../convex/<path>` (convex-test
 * finds the root through the `_generated` entries), values lazy `import()`s of the file.
 */
import { readdirSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export type ModuleMap = Record<string, () => Promise<any>>;

/** `convex/` next to `scripts/`, independent of the current directory. */
export const CONVEX_DIR = fileURLToPath(new URL("../../convex/", import.meta.url));

const SOURCE_FILE = /\.(ts|js|mjs|cjs)$/;

export function convexModuleMap(convexDir: string = CONVEX_DIR): ModuleMap {
  const map: ModuleMap = {};
  for (const file of sourceFiles(convexDir)) {
    const key = `../convex/${relative(convexDir, file).split(sep).join("/")}`;
    const url = pathToFileURL(file).href;
    // Memoized: under tsx every import() call goes through the loader hooks, cached or not.
    let loaded: Promise<any> | undefined;
    map[key] = () => (loaded ??= import(url));
  }
  if (!Object.keys(map).some((key) => key.includes("/_generated/"))) {
    throw new Error(`${convexDir} has no _generated/ folder; run \`npm run codegen\` first.`);
  }
  return map;
}

function sourceFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "node_modules") found.push(...sourceFiles(path));
    } else if (SOURCE_FILE.test(entry.name) && !entry.name.endsWith(".d.ts") && !entry.name.includes(".test.")) {
      found.push(path);
    }
  }
  return found.sort();
}

/**
 * The same map with each module imported at most once (convex-test asks again on every call);
 * `prepare` sees each module once, when it has loaded.
 */
export function importedOnce(modules: ModuleMap, prepare: (module: any) => void = () => undefined): ModuleMap {
  const imported = new Map<string, Promise<any>>();
  return Object.fromEntries(
    Object.entries(modules).map(([key, load]) => [
      key,
      () => {
        let module = imported.get(key);
        if (module === undefined) {
          module = load().then((loaded) => {
            prepare(loaded);
            return loaded;
          });
          imported.set(key, module);
        }
        return module;
      },
    ]),
  );
}
