/**
 * The Convex backend's rule for module paths, restated so tests can check every module before a
 * real push would: the backend refuses the whole push when one path breaks it, and neither the
 * CLI nor tsc nor convex-test checks it.
 *
 * Source: get-convex/convex-backend, `crates/convex/sync_types/src/module_path.rs`
 * (`impl FromStr for ModulePath`: relative, extension `js` if any, every component of the
 * canonicalized path checked) and `crates/convex/sync_types/src/path.rs`
 * (`check_valid_path_component`: at most `MAX_IDENTIFIER_LEN` = 64 bytes, only ASCII
 * alphanumerics, `_` and `.`, at least one alphanumeric).
 */

const MAX_COMPONENT_BYTES = 64;

/** Why the backend would refuse `path` as a module path (e.g. `api/httpUtil.js`), or null. */
export function modulePathProblem(path: string): string | null {
  if (path === "" || path.startsWith("/")) return `${path || "(empty)"}: module paths are relative and non-empty`;
  const components = path.split("/");
  const fileName = components.at(-1)!;
  if (fileName === "") return `${path}: has no file name`;
  const dot = fileName.lastIndexOf(".");
  if (dot > 0 && fileName.slice(dot + 1) !== "js") return `${path}: has an extension that is not "js"`;
  for (const component of components) {
    if (component === "" || component === "." || component === "..") return `${path}: invalid component "${component}"`;
    if (component.length > MAX_COMPONENT_BYTES) return `${path}: component "${component}" is over 64 bytes`;
    if (!/^[A-Za-z0-9_.]+$/.test(component)) {
      return `${path}: component "${component}" may only hold ASCII letters, digits, "_" and "."`;
    }
    if (!/[A-Za-z0-9]/.test(component)) return `${path}: component "${component}" has no letter or digit`;
  }
  return null;
}

/**
 * The stricter rule this repo keeps for its own source files under `convex/`: components of
 * letters, digits and `_`, and one dot in a file name, before its extension. (The CLI silently
 * skips files with two dots, so such a file's functions would never be deployed.) `auth.config.ts`
 * is the exception Convex itself names.
 */
export function sourcePathProblem(relativePath: string): string | null {
  if (relativePath === "auth.config.ts") return null;
  const components = relativePath.split("/");
  const fileName = components.pop()!;
  for (const directory of components) {
    if (!/^[A-Za-z0-9_]+$/.test(directory)) return `${relativePath}: folder "${directory}" is not [A-Za-z0-9_]+`;
  }
  if (!/^[A-Za-z0-9_]+\.[A-Za-z0-9]+$/.test(fileName)) {
    return `${relativePath}: file name "${fileName}" is not <letters, digits, _>.<extension>`;
  }
  return null;
}
