/** The few git facts the CLI needs, read with the git binary (no library, no network). */
import { execFile } from "node:child_process";
import { dirname } from "node:path";
import { promisify } from "node:util";
import { CliError, EXIT } from "./output";

const run = promisify(execFile);

/** Changed-file lists longer than this are cut, keeping the completion body well under 256 KiB. */
export const MAX_CHANGED_FILES = 1_000;

async function git(cwd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const { stdout } = await run("git", ["-c", "core.quotepath=off", ...args], { cwd, env, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

async function gitOrNull(cwd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<string | null> {
  try {
    return await git(cwd, args, env);
  } catch {
    return null;
  }
}

/** The checkout's top-level directory; a clear error when `path` is not inside one. */
export async function checkoutRoot(path: string): Promise<string> {
  const root = await gitOrNull(path, ["rev-parse", "--show-toplevel"]);
  if (root === null) throw new CliError(`${path} is not inside a git checkout.`, EXIT.USAGE);
  return root.trim();
}

export async function originUrl(root: string): Promise<string> {
  const url = await gitOrNull(root, ["remote", "get-url", "origin"]);
  if (url === null || url.trim() === "") {
    throw new CliError(`${root} has no "origin" remote; add one with: git remote add origin <url>`, EXIT.USAGE);
  }
  return url.trim();
}

/**
 * For commands about a linked checkout itself: git must not walk up to an enclosing repository
 * when the checkout's own `.git` is gone (evidence would describe the wrong repository).
 */
function onlyIn(root: string): NodeJS.ProcessEnv {
  return { ...process.env, GIT_CEILING_DIRECTORIES: dirname(root) };
}

/** HEAD's commit SHA, or null in a repository without commits (or not a repository). */
export async function headSha(root: string): Promise<string | null> {
  const sha = await gitOrNull(root, ["rev-parse", "--verify", "--quiet", "HEAD"], onlyIn(root));
  return sha === null || sha.trim() === "" ? null : sha.trim();
}

/** The checkout's git directory (absolute; a worktree's own), or null outside a repository. */
export async function gitDir(root: string): Promise<string | null> {
  const dir = await gitOrNull(root, ["rev-parse", "--absolute-git-dir"], onlyIn(root));
  return dir === null || dir.trim() === "" ? null : dir.trim();
}

/**
 * Files a job touched: committed since `baseSha`, plus staged, unstaged and untracked changes
 * now. Sorted, de-duplicated, capped at MAX_CHANGED_FILES.
 */
export async function changedFiles(
  root: string,
  baseSha: string | null,
): Promise<{ files: string[]; truncated: boolean }> {
  const env = onlyIn(root);
  // --no-renames: a rename lists its old path too (the old file is gone: a change to report).
  const lists = await Promise.all([
    baseSha === null
      ? gitOrNull(root, ["ls-files", "-z"], env)
      : gitOrNull(root, ["diff", "--name-only", "--no-renames", "-z", baseSha, "HEAD"], env),
    gitOrNull(root, ["diff", "--name-only", "--no-renames", "-z", "HEAD"], env),
    gitOrNull(root, ["ls-files", "--others", "--exclude-standard", "-z"], env),
  ]);
  const files = [...new Set(lists.flatMap((list) => (list ?? "").split("\0").filter(Boolean)))].sort();
  return { files: files.slice(0, MAX_CHANGED_FILES), truncated: files.length > MAX_CHANGED_FILES };
}
