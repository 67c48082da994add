/**
 * Everything the CLI prints goes through here, so one flag decides the format:
 *   human, TTY     lines plus one progress line rewritten in place, colours (unless NO_COLOR)
 *   human, no TTY  plain lines only (logs, CI), no progress redraws, no colours
 *   --json         one JSON document per result or event on stdout; human notes go to stderr
 * Worker events and warnings (lines of a long-running process) start with their UTC time.
 * Errors always end with a non-zero exit code from `EXIT`.
 */
import { ApiError, NetworkError } from "./client";
import { ConfigError } from "./files";
import { RemoteUrlError } from "./remote";
import { SiteUrlError } from "./url";

/** Exit codes, documented in the README's CLI section. */
export const EXIT = {
  OK: 0,
  /** The operation ran and did not succeed (server refused, check failed, job failed in --once). */
  FAILED: 1,
  /** Bad command line, or input the server rejected as invalid (a bad config file is FAILED). */
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

export type OutputOptions = {
  json: boolean;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
  /** NO_COLOR (any non-empty value) turns colours off; FORCE_COLOR (not "0") turns them on anywhere. */
  env?: NodeJS.ProcessEnv;
  now?: () => Date;
};

const STYLES = { red: 31, green: 32, yellow: 33, dim: 2, bold: 1 } as const;
export type Style = keyof typeof STYLES;

export class Output {
  readonly json: boolean;
  private readonly stdout: NodeJS.WriteStream;
  private readonly stderr: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly colours: { stdout: boolean; stderr: boolean };
  private readonly now: () => Date;
  private progressShown = false;

  constructor(options: OutputOptions) {
    this.json = options.json;
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    this.tty = !this.json && this.stdout.isTTY === true;
    this.now = options.now ?? (() => new Date());
    const env = options.env ?? process.env;
    const forced = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "" && env.FORCE_COLOR !== "0";
    const colour = (stream: NodeJS.WriteStream) => forced || (!env.NO_COLOR && stream.isTTY === true);
    this.colours = { stdout: !this.json && colour(this.stdout), stderr: colour(this.stderr) };
  }

  /** `text` in a style on stdout when colours are on there (for human renderings of results). */
  paint(style: Style, text: string): string {
    return this.colours.stdout ? paint(style, text) : text;
  }

  /** A human line: stdout normally, stderr in --json mode so stdout stays parseable. */
  note(text: string) {
    this.clearProgress();
    (this.json ? this.stderr : this.stdout).write(`${text}\n`);
  }

  /** A timestamped human line (worker events, a job's output with --verbose). */
  line(text: string) {
    const stamp = this.stamp(this.json ? this.colours.stderr : this.colours.stdout);
    this.note(`${stamp} ${text}`);
  }

  /** A command's result: the JSON value, or its human rendering. */
  result(value: unknown, human: () => string | string[]) {
    if (this.json) return this.writeJson(value);
    const lines = human();
    for (const line of Array.isArray(lines) ? lines : [lines]) this.note(line);
  }

  /** A worker event: one JSON line in --json mode, else a timestamped human line. */
  event(name: string, fields: Record<string, unknown>, human: string) {
    if (this.json) this.writeJson({ event: name, at: this.now().toISOString(), ...fields });
    else this.line(human);
  }

  /** A status line rewritten in place on a TTY; nothing elsewhere (events carry the facts). */
  progress(text: string) {
    if (!this.tty) return;
    this.stdout.write(`\r\x1b[2K${text}`);
    this.progressShown = true;
  }

  warn(text: string) {
    this.clearProgress();
    const colour = this.colours.stderr;
    this.stderr.write(`${this.stamp(colour)} ${colour ? paint("yellow", "warning:") : "warning:"} ${text}\n`);
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
    const label = this.colours.stderr ? paint("red", "error:") : "error:";
    const shownCode = code === "CLI_ERROR" || code === "USAGE_ERROR" ? "" : ` (${code})`;
    this.stderr.write(`${label} ${message}${shownCode}${details}\n`);
    return exitCode;
  }

  private stamp(colour: boolean): string {
    const time = `${this.now().toISOString().slice(0, 19)}Z`;
    return colour ? paint("dim", time) : time;
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

function paint(style: Style, text: string): string {
  return `\x1b[${STYLES[style]}m${text}\x1b[0m`;
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
  // A config file or a remote that cannot be used is not a usage error: the message says what to change.
  if (error instanceof ConfigError || error instanceof RemoteUrlError)
    return { code: "CONFIG_ERROR", message: error.message, exitCode: EXIT.FAILED };
  if (error instanceof SiteUrlError) return { code: "USAGE_ERROR", message: error.message, exitCode: EXIT.USAGE };
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
