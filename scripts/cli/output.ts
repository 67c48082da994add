/**
 * Everything the CLI prints goes through here, so one flag decides the format:
 *   human, TTY     lines plus one progress line rewritten in place
 *   human, no TTY  plain lines only (logs, CI), no progress redraws
 *   --json         one JSON document per result or event on stdout; human notes go to stderr
 * Errors always end with a non-zero exit code from `EXIT`.
 */
import { ApiError, NetworkError } from "./client";
import { ConfigError } from "./config";
import { RemoteUrlError } from "./remote";
import { SiteUrlError } from "./url";

/** Exit codes, documented in the README's CLI section. */
export const EXIT = {
  OK: 0,
  /** The operation ran and did not succeed (server refused, check failed, job failed in --once). */
  FAILED: 1,
  /** Bad command line, bad config file or input the server rejected as invalid. */
  USAGE: 2,
  /** Not logged in, token invalid/expired/revoked, or no access to the workspace. */
  AUTH: 3,
  /** The job, repo, workspace or session does not exist. */
  NOT_FOUND: 4,
  /** The control plane could not be reached or kept failing (network error, 5xx) after retries. */
  UNREACHABLE: 5,
} as const;

/** A failure the CLI itself detects, with the exit code it deserves. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode: number = EXIT.FAILED,
    readonly code = "CLI_ERROR",
  ) {
    super(message);
  }
}

export type OutputOptions = { json: boolean; stdout?: NodeJS.WriteStream; stderr?: NodeJS.WriteStream };

export class Output {
  readonly json: boolean;
  private readonly stdout: NodeJS.WriteStream;
  private readonly stderr: NodeJS.WriteStream;
  private readonly tty: boolean;
  private progressShown = false;

  constructor(options: OutputOptions) {
    this.json = options.json;
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    this.tty = !this.json && this.stdout.isTTY === true;
  }

  /** A human line: stdout normally, stderr in --json mode so stdout stays parseable. */
  note(text: string) {
    this.clearProgress();
    (this.json ? this.stderr : this.stdout).write(`${text}\n`);
  }

  /** A command's result: the JSON value, or its human rendering. */
  result(value: unknown, human: () => string | string[]) {
    if (this.json) return this.writeJson(value);
    const lines = human();
    for (const line of Array.isArray(lines) ? lines : [lines]) this.note(line);
  }

  /** A worker event: one JSON line in --json mode, else a human line. */
  event(name: string, fields: Record<string, unknown>, human: string) {
    if (this.json) this.writeJson({ event: name, at: new Date().toISOString(), ...fields });
    else this.note(human);
  }

  /** A status line rewritten in place on a TTY; nothing elsewhere (events carry the facts). */
  progress(text: string) {
    if (!this.tty) return;
    this.stdout.write(`\r\x1b[2K${text}`);
    this.progressShown = true;
  }

  warn(text: string) {
    this.clearProgress();
    this.stderr.write(`warning: ${text}\n`);
  }

  /** Prints an error and returns the exit code for it. */
  fail(error: unknown): number {
    this.clearProgress();
    const { code, message, exitCode, issues } = describeError(error);
    if (this.json) this.writeJson({ ok: false, error: code, message, ...(issues ? { issues } : {}) });
    // The message already states the first issue; list them only when there are more.
    const details =
      issues && issues.length > 1
        ? issues.map((issue) => `\n  ${issue.path || "(body)"}: ${issue.message}`).join("")
        : "";
    this.stderr.write(`error: ${message}${code === "CLI_ERROR" ? "" : ` (${code})`}${details}\n`);
    return exitCode;
  }

  private writeJson(value: unknown) {
    this.stdout.write(`${JSON.stringify(value)}\n`);
  }

  private clearProgress() {
    if (!this.progressShown) return;
    this.stdout.write("\r\x1b[2K");
    this.progressShown = false;
  }
}

export function describeError(error: unknown): {
  code: string;
  message: string;
  exitCode: number;
  issues?: ApiError["issues"];
} {
  if (error instanceof CliError) return { code: error.code, message: error.message, exitCode: error.exitCode };
  if (error instanceof NetworkError) return { code: error.code, message: error.message, exitCode: EXIT.UNREACHABLE };
  if (error instanceof ApiError)
    return { code: error.code, message: error.message, exitCode: exitCodeOf(error), issues: error.issues };
  if (error instanceof ConfigError || error instanceof SiteUrlError || error instanceof RemoteUrlError) {
    return { code: "CLI_ERROR", message: error.message, exitCode: EXIT.USAGE };
  }
  return {
    code: "INTERNAL_ERROR",
    message: error instanceof Error ? error.message : String(error),
    exitCode: EXIT.FAILED,
  };
}

function exitCodeOf(error: ApiError): number {
  if (error.status === 401 || error.status === 403) return EXIT.AUTH;
  if (error.status === 404) return EXIT.NOT_FOUND;
  if (error.status === 400 || error.status === 413) return EXIT.USAGE;
  if (error.status >= 500 || error.status === 429) return EXIT.UNREACHABLE;
  return EXIT.FAILED;
}
