/**
 * The module map convex-test needs. Under Vite it comes from `import.meta.glob`; in a plain Node
 * process we build the same shape by walking `convex/`: keys are `../convex/<path>` (convex-test
 * finds the root through the `_generated` entries), values lazy `import()`s of the file.
 */
import { relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { sourceFiles } from "./mainBundle.mjs";

export type ModuleMap = Record<string, () => Promise<any>>;

/** `convex/` next to `scripts/`, independent of the current directory. */
export const CONVEX_DIR = fileURLToPath(new URL("../../convex/", import.meta.url));

/** Where `npm start`'s bundle hands over its static module map (mainBundle.mjs `MODULES_KEY`). */
const BUNDLED_MODULES = Symbol.for("ias.local.convexModules");

export function convexModuleMap(convexDir: string = CONVEX_DIR): ModuleMap {
  const bundled = (globalThis as { [BUNDLED_MODULES]?: ModuleMap })[BUNDLED_MODULES];
  if (bundled !== undefined && convexDir === CONVEX_DIR) return { ...bundled };
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
