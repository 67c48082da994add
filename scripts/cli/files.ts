/**
 * The CLI's home (`~/.ias`, or `$IAS_HOME`, which tests and CI use to relocate it) and how its
 * JSON files are read and written: whole, through a temporary file and a rename, so a crash
 * never leaves half a file; and a file that cannot be used is explained in a sentence that says
 * what to change (ConfigError), never as a bare validation dump.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import * as z from "zod/mini";
import type { $ZodIssue, $ZodIssueTooBig, $ZodIssueTooSmall, $ZodType } from "zod/v4/core";

export function iasHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.IAS_HOME || join(homedir(), ".ias");
}

/** A config file that exists but cannot be used; the message names the file and what to change. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** What a key holds, for the sentence about it: `e.g. …` or what writes it. */
export type KeyHints = Array<[pattern: RegExp, hint: string]>;

/** The parsed JSON of `path`, or undefined when there is no such file. */
export function readJsonFile(path: string): unknown {
  if (!existsSync(path)) return undefined;
  const text = readFileSync(path, "utf8");
  try {
    return JSON.parse(text);
  } catch (error) {
    const where = /position (\d+)/.exec((error as Error).message);
    const at = where ? ` at ${lineAndColumn(text, Number(where[1]))}` : "";
    throw new ConfigError(
      `${path} is not valid JSON (${(error as Error).message.replace(/ in JSON at position \d+.*$/, "")}${at}); fix it, or move the file away to start over.`,
    );
  }
}

/** `value` checked against `schema`; the first problem becomes a ConfigError sentence. */
export function checked<T>(path: string, value: unknown, schema: $ZodType<T>, hints: KeyHints = []): T {
  const result = z.safeParse(schema, value);
  if (result.success) return result.data as T;
  const issue = result.error.issues[0]!;
  const key = issue.path.map(String).join(".");
  const hint = hints.find(([pattern]) => pattern.test(key))?.[1];
  throw new ConfigError(issueSentence(path, key, issue, typeOf(valueAt(value, issue.path)), hint));
}

function issueSentence(
  path: string,
  key: string,
  issue: $ZodIssue,
  received: string,
  hint: string | undefined,
): string {
  if (key === "") return `${path} must hold a JSON object; fix it, or move the file away to start over.`;
  const about = hint ? ` (${hint})` : "";
  if (received === "undefined") return `"${key}" is missing in ${path}; add it${about}.`;
  const problem =
    issue.code === "invalid_type" && issue.expected === "int" && received === "number"
      ? `must be a whole number${about}`
      : issue.code === "invalid_type"
        ? `must be ${article(issue.expected)}${about}, not ${article(received)}`
        : issue.code === "invalid_union" && hint
          ? `must be ${hint}`
          : issue.code === "too_small" || issue.code === "too_big"
            ? `${boundText(issue)}${about}`
            : issue.code === "invalid_value" && issue.values.length === 1
              ? `must be ${JSON.stringify(issue.values[0])}${about}`
              : `is not valid${about}`;
  // Settings of ias's own have defaults; the other keys are needed by whoever reads the file.
  const orRemove = key.startsWith("ias.") ? ", or remove it to use the default" : "";
  return `"${key}" in ${path} ${problem}; change it${orRemove}.`;
}

function valueAt(value: unknown, path: PropertyKey[]): unknown {
  return path.reduce<unknown>((node, step) => (node as Record<PropertyKey, unknown> | null)?.[step], value);
}

function typeOf(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
}

function boundText(issue: $ZodIssueTooSmall | $ZodIssueTooBig): string {
  const small = issue.code === "too_small";
  const bound = Number(small ? issue.minimum : issue.maximum);
  if (issue.origin === "array")
    return small ? `must hold at least ${bound} item(s)` : `must hold at most ${bound} item(s)`;
  if (issue.origin === "string")
    return small && bound === 1 ? "must not be empty" : `must be ${small ? "at least" : "at most"} ${bound} characters`;
  const strict = issue.inclusive === false;
  return `must be ${small ? (strict ? "greater than" : "at least") : strict ? "less than" : "at most"} ${bound}`;
}

function article(type: string): string {
  if (type === "int") return "an integer";
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function lineAndColumn(text: string, position: number): string {
  const before = text.slice(0, position).split("\n");
  return `line ${before.length}, column ${before.at(-1)!.length + 1}`;
}

/** Writes `value` as JSON with `mode`; the folder is made (and kept) private when `privateDir`. */
export function writeJsonFile(path: string, value: unknown, mode: number, privateDir = false) {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (privateDir) chmodSync(dir, 0o700);
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(value, null, 2)}\n`, { mode });
  chmodSync(temporary, mode); // the umask may have narrowed it, or the file pre-existed
  renameSync(temporary, path);
}
