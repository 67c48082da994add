/**
 * `ias`: the reference command-line client of the control plane (device login, repo links,
 * the worker loop, job commands). Entry point: finds the command, parses its flags, runs it and
 * turns every error into a message and an exit code (output.ts `EXIT`).
 */
import { authCommands } from "./commands/auth";
import { doctorCommands } from "./commands/doctor";
import { jobCommands } from "./commands/jobs";
import { repoCommands } from "./commands/repo";
import { workerCommands } from "./commands/worker";
import { workspaceCommands } from "./commands/workspace";
import { GLOBAL_OPTIONS, parseCommandArgs, usageLine, type Command } from "./command";
import { CliError, EXIT, Output } from "./output";
import { CLI_VERSION } from "./version";

export const COMMANDS: Command[] = [
  ...authCommands,
  ...repoCommands,
  ...workerCommands,
  ...jobCommands,
  ...workspaceCommands,
  ...doctorCommands,
];

/** Global flags that take a value, so their value is not mistaken for a command word. */
const VALUE_FLAGS = new Set(
  Object.entries(GLOBAL_OPTIONS)
    .filter(([, spec]) => spec.type === "string")
    .map(([name]) => `--${name}`),
);

export async function main(argv: string[]): Promise<number> {
  const out = new Output({ json: argv.includes("--json") });
  try {
    if (argv.includes("--version")) {
      out.result({ version: CLI_VERSION }, () => CLI_VERSION);
      return EXIT.OK;
    }
    const { command, rest } = findCommand(argv);
    if (command === undefined) {
      const asked = argv.length === 0 || argv.includes("--help") || argv.includes("-h");
      out.note(helpText());
      return asked ? EXIT.OK : EXIT.USAGE;
    }
    const { values, positionals } = parseCommandArgs(command, rest);
    if (values.help) {
      out.note(
        `${command.summary}\n\nUsage: ${usageLine(command)}\nGlobal flags: --json  --url <URL>  --workspace <slug>`,
      );
      return EXIT.OK;
    }
    return (await command.run({ values, positionals, out, env: process.env })) ?? EXIT.OK;
  } catch (error) {
    return out.fail(error);
  }
}

/** The command named by the leading words; the remaining arguments go to its flag parser. */
function findCommand(argv: string[]): { command?: Command; rest: string[] } {
  const words: number[] = [];
  for (let index = 0; index < argv.length && words.length < 2; index++) {
    const token = argv[index]!;
    if (VALUE_FLAGS.has(token)) index++;
    else if (!token.startsWith("-")) words.push(index);
  }
  for (const length of [2, 1]) {
    const path = words.slice(0, length).map((index) => argv[index]);
    const command = COMMANDS.find(
      (candidate) => candidate.path.length === length && candidate.path.every((word, i) => word === path[i]),
    );
    if (command) return { command, rest: argv.filter((_, index) => !words.slice(0, length).includes(index)) };
  }
  if (words.length > 0) {
    const unknown = words.map((index) => argv[index]).join(" ");
    throw new CliError(`Unknown command "${unknown}". Run ias --help for the list.`, EXIT.USAGE);
  }
  return { rest: argv };
}

function helpText(): string {
  const width = Math.max(...COMMANDS.map((command) => command.path.join(" ").length));
  return [
    `ias ${CLI_VERSION}: command-line client of the IAS control plane`,
    "",
    "Commands:",
    ...COMMANDS.map((command) => `  ias ${command.path.join(" ").padEnd(width)}  ${command.summary}`),
    "",
    "Global flags: --json (machine-readable output), --url <URL> and --workspace <slug> (or IAS_URL,",
    "IAS_WORKSPACE) to pick a stored login, -h/--help. Files live in ~/.ias (IAS_HOME to move them).",
    "Run ias <command> --help for a command's flags.",
  ].join("\n");
}

process.exitCode = await main(process.argv.slice(2));
