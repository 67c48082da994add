/**
 * `ias`: the reference command-line client of the control plane (device login, repo links,
 * the worker loop, job commands). Entry point: finds the command, parses and checks its flags,
 * answers help, runs it and turns every error into a message and an exit code (output.ts `EXIT`).
 */
import { authCommands } from "./commands/auth";
import { doctorCommands } from "./commands/doctor";
import { jobReportCommands } from "./commands/job";
import { jobCommands } from "./commands/jobs";
import { repoCommands } from "./commands/repo";
import { workerCommands } from "./commands/worker";
import { workspaceCommands } from "./commands/workspace";
import { GLOBAL_OPTIONS, parseCommandArgs, type Command } from "./command";
import { commandHelp, groupHelp, overviewHelp, type Group } from "./help";
import { CliError, EXIT, Output } from "./output";
import { CLI_VERSION } from "./version";

export const COMMANDS: Command[] = [
  ...authCommands,
  ...repoCommands,
  ...workerCommands,
  ...jobCommands,
  ...jobReportCommands,
  ...workspaceCommands,
  ...doctorCommands,
];

export const GROUPS: Group[] = [
  { name: "auth", summary: "Logins (auth.json, shared with the IAS runner)" },
  { name: "repo", summary: "Checkouts linked to the workspace's repos" },
  { name: "worker", summary: "Running jobs on this machine" },
  { name: "jobs", summary: "The job queue" },
  { name: "job", summary: "Called by a job's command to report back to its job (IAS_JOB_TOKEN)" },
  { name: "workspace", summary: "Workspaces" },
  { name: "cp", summary: "The control plane" },
  { name: "doctor", summary: "Checking this machine" },
];

/** Global flags that take a value, so their value is not mistaken for a command word. */
const VALUE_FLAGS = new Set(
  Object.entries(GLOBAL_OPTIONS)
    .filter(([, spec]) => spec.type === "string")
    .map(([name]) => `--${name}`),
);

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const out = new Output({ json: argv.includes("--json"), env });
  try {
    if (argv.includes("--version")) {
      out.result({ version: CLI_VERSION }, () => CLI_VERSION);
      return EXIT.OK;
    }
    const asksHelp = argv.includes("--help") || argv.includes("-h");
    const { words, rest } = commandWords(argv);
    if (words[0] === "help") return help(out, words.slice(1).concat(rest.filter((arg) => !arg.startsWith("-"))));
    const command = findCommand(words);
    if (command === undefined) {
      const group = GROUPS.find((candidate) => candidate.name === words[0]);
      if (words.length === 0 || (group && words.length === 1)) {
        const text = group ? groupHelp(COMMANDS, group) : overviewHelp(COMMANDS, GROUPS, CLI_VERSION);
        if (asksHelp || argv.length === 0) {
          out.note(text);
          return EXIT.OK;
        }
        throw new CliError(
          `${group ? `Which ${group.name} command?` : "Which command?"}\n\n${text}`,
          EXIT.USAGE,
          "USAGE_ERROR",
        );
      }
      throw new CliError(`Unknown command "${words.join(" ")}". Run ias help for the list.`, EXIT.USAGE, "USAGE_ERROR");
    }
    const extraWords = words.slice(command.path.length);
    const { values, positionals } = parseCommandArgs(command, [...extraWords, ...rest]);
    if (values.help) {
      out.note(commandHelp(command));
      return EXIT.OK;
    }
    return (await command.run({ values, positionals, out, env })) ?? EXIT.OK;
  } catch (error) {
    return out.fail(error);
  }
}

/** `ias help [group] [command]`. */
function help(out: Output, topic: string[]): number {
  const command = findCommand(topic);
  const group = GROUPS.find((candidate) => candidate.name === topic[0]);
  if (topic.length === 0) out.note(overviewHelp(COMMANDS, GROUPS, CLI_VERSION));
  else if (command && command.path.length === topic.length) out.note(commandHelp(command));
  else if (group && topic.length === 1) out.note(groupHelp(COMMANDS, group));
  else throw new CliError(`No help for "${topic.join(" ")}". Run ias help for the list.`, EXIT.USAGE, "USAGE_ERROR");
  return EXIT.OK;
}

/** The first two words that are not flags (nor values of global flags), and everything else. */
function commandWords(argv: string[]): { words: string[]; rest: string[] } {
  const wordIndexes: number[] = [];
  for (let index = 0; index < argv.length && wordIndexes.length < 2; index++) {
    const token = argv[index]!;
    if (VALUE_FLAGS.has(token)) index++;
    else if (!token.startsWith("-")) wordIndexes.push(index);
  }
  return {
    words: wordIndexes.map((index) => argv[index]!),
    rest: argv.filter((_, index) => !wordIndexes.includes(index)),
  };
}

/** The longest command whose path starts `words`. */
function findCommand(words: string[]): Command | undefined {
  for (const length of [2, 1]) {
    const command = COMMANDS.find(
      (candidate) => candidate.path.length === length && candidate.path.every((word, i) => word === words[i]),
    );
    if (command) return command;
  }
  return undefined;
}
