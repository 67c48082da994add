// @vitest-environment node
/**
 * The CLI's command line and output, in process: flags checked before a command runs (exit 2,
 * no login looked at), help generated from the command table, timestamps on worker lines, and
 * colours only on a terminal, never with NO_COLOR.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { parseCommandArgs, type Command } from "../scripts/cli/command";
import { COMMANDS, GROUPS, main } from "../scripts/cli/main";
import { CliError, Output } from "../scripts/cli/output";

const home = mkdtempSync(join(tmpdir(), "ias-cli-output-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** A stream that records what is written; `isTTY` as given. */
function stream(isTTY: boolean) {
  const chunks: string[] = [];
  const fake = { isTTY, write: (chunk: string) => (chunks.push(chunk), true) } as unknown as NodeJS.WriteStream;
  return { fake, text: () => chunks.join("") };
}

describe("flags are checked before the command runs", () => {
  const ran: string[] = [];
  const command: Command = {
    path: ["jobs", "list"],
    summary: "test",
    args: [{ name: "jobId", description: "id", required: true }],
    options: {
      limit: { type: "string", description: "n", int: { min: 1, max: 200 } },
      status: { type: "string", description: "s", choices: ["pending", "done"] },
    },
    run: async () => void ran.push("ran"),
  };
  const usage = (argv: string[]) => {
    try {
      parseCommandArgs(command, argv);
    } catch (error) {
      expect(error).toBeInstanceOf(CliError);
      expect((error as CliError).exitCode).toBe(2);
      return (error as CliError).message;
    }
    return "accepted";
  };

  test.each([
    [["j1", "--limit", "abc"], '--limit must be an integer, got "abc".'],
    [["j1", "--limit", "1.5"], '--limit must be an integer, got "1.5".'],
    [["j1", "--limit", "0"], "--limit must be between 1 and 200, got 0."],
    [["j1", "--limit", "201"], "--limit must be between 1 and 200, got 201."],
    [["j1", "--status", "lost"], '--status must be one of pending, done; got "lost".'],
    [[], "Missing <jobId>."],
    [["j1", "j2"], 'Unexpected argument "j2".'],
    [["j1", "--bogus"], "Unknown option '--bogus'."],
  ])("%j", (argv, problem) => {
    const message = usage(argv);
    expect(message.split("\n")[0]).toBe(problem);
    expect(message).toContain("Usage: ias jobs list <jobId> [flags]");
    expect(message).toContain("Run: ias jobs list --help");
  });

  test("good values pass, and --help skips the checks", () => {
    expect(parseCommandArgs(command, ["j1", "--limit", "200", "--status", "done"]).values).toMatchObject({
      limit: "200",
      status: "done",
    });
    expect(parseCommandArgs(command, ["--limit", "abc", "--help"]).values.help).toBe(true);
    expect(ran).toEqual([]);
  });
});

describe("help from the command table", () => {
  async function run(argv: string[]) {
    const stdout = stream(false);
    const stderr = stream(false);
    const original = { out: process.stdout.write, err: process.stderr.write };
    process.stdout.write = stdout.fake.write as typeof process.stdout.write;
    process.stderr.write = stderr.fake.write as typeof process.stderr.write;
    try {
      const code = await main(argv, { IAS_HOME: home, NO_COLOR: "1" });
      return { code, stdout: stdout.text(), stderr: stderr.text() };
    } finally {
      process.stdout.write = original.out;
      process.stderr.write = original.err;
    }
  }

  test("ias help lists every command and group", async () => {
    const { code, stdout } = await run(["help"]);
    expect(code).toBe(0);
    for (const command of COMMANDS) expect(stdout).toContain(`ias ${command.path.join(" ")}  `);
    for (const group of GROUPS) expect(stdout).toContain(`${group.summary}:`);
    expect((await run(["--help"])).stdout).toBe(stdout);
    expect((await run([])).stdout).toBe(stdout);
  });

  test("a group's help lists its commands; a command's help its arguments and every flag", async () => {
    const group = await run(["jobs", "--help"]);
    expect(group.code).toBe(0);
    const jobs = COMMANDS.filter((command) => command.path[0] === "jobs");
    for (const command of jobs) expect(group.stdout).toContain(`ias ${command.path.join(" ")}`);
    expect(group.stdout).not.toContain("ias auth login");
    expect((await run(["help", "jobs"])).stdout).toBe(group.stdout);

    for (const command of COMMANDS) {
      const help = await run([...command.path, "--help"]);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`Usage: ias ${command.path.join(" ")}`);
      for (const name of Object.keys(command.options ?? {})) expect(help.stdout).toContain(`--${name}`);
      for (const arg of command.args ?? []) expect(help.stdout).toContain(`<${arg.name}>`);
      expect((await run(["help", ...command.path])).stdout).toBe(help.stdout);
    }
  });

  test("unknown commands and a bare group are usage errors (exit 2)", async () => {
    const unknown = await run(["jobs", "frobnicate"]);
    expect(unknown).toMatchObject({ code: 2, stdout: "" });
    expect(unknown.stderr).toContain('Unknown command "jobs frobnicate". Run ias help for the list.');
    const bare = await run(["jobs"]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain("Which jobs command?");
    expect((await run(["help", "nothing"])).code).toBe(2);
  });

  test("a usage error exits 2 before any login is looked at", async () => {
    const result = await run(["jobs", "list", "--limit", "abc"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--limit must be an integer, got "abc".');
    expect(result.stderr).not.toContain("Not logged in");
    expect((await run(["jobs", "get"])).stderr).toContain("Missing <jobId>.");
    expect((await run(["jobs", "list"])).code).toBe(3); // well-formed: now the missing login counts
  });
});

describe("text output", () => {
  const at = () => new Date("2025-06-01T12:34:56.789Z");

  test("worker lines and warnings start with their UTC time; results do not", () => {
    const stdout = stream(false);
    const stderr = stream(false);
    const out = new Output({ json: false, stdout: stdout.fake, stderr: stderr.fake, env: {}, now: at });
    out.event("online", { workerId: "w1" }, "Worker w1 online.");
    out.warn("slow");
    out.result({ a: 1 }, () => "a result");
    expect(stdout.text()).toBe("2025-06-01T12:34:56Z Worker w1 online.\na result\n");
    expect(stderr.text()).toBe("2025-06-01T12:34:56Z warning: slow\n");
  });

  test("--json events carry the time as a field instead", () => {
    const stdout = stream(false);
    const out = new Output({ json: true, stdout: stdout.fake, stderr: stream(false).fake, env: {}, now: at });
    out.event("online", { workerId: "w1" }, "ignored");
    expect(JSON.parse(stdout.text())).toEqual({ event: "online", at: "2025-06-01T12:34:56.789Z", workerId: "w1" });
  });

  test("colours on a terminal only, never with NO_COLOR; FORCE_COLOR forces them", () => {
    const render = (isTTY: boolean, env: NodeJS.ProcessEnv) => {
      const stdout = stream(isTTY);
      const stderr = stream(isTTY);
      const out = new Output({ json: false, stdout: stdout.fake, stderr: stderr.fake, env, now: at });
      out.warn("careful");
      out.fail(new CliError("broken"));
      out.result({}, () => out.paint("green", "✓ fine"));
      return stdout.text() + stderr.text();
    };
    const escape = "\x1b[";
    expect(render(true, {})).toContain(`${escape}33mwarning:`);
    expect(render(true, {})).toContain(`${escape}31merror:`);
    expect(render(true, {})).toContain(`${escape}32m✓ fine`);
    expect(render(true, { NO_COLOR: "1" })).not.toContain(escape);
    expect(render(false, {})).not.toContain(escape);
    expect(render(false, { FORCE_COLOR: "1" })).toContain(`${escape}31merror:`);
    expect(render(true, { NO_COLOR: "" })).toContain(escape); // an empty NO_COLOR does not count (no-color.org)
  });
});
