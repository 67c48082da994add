/**
 * The command table's shape and the argument parsing shared by every command. Commands are
 * `ias <group> <name> [positionals] [--flags]`; flags may come anywhere after the command words.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { CliError, EXIT, type Output } from "./output";

type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

export type CommandContext = {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
  out: Output;
  env: NodeJS.ProcessEnv;
};

export type Command = {
  /** e.g. ["jobs", "list"] */
  path: string[];
  /** Shown in `ias --help`. */
  summary: string;
  /** Arguments after the command words, e.g. "<jobId> [--reason <text>]". */
  usage?: string;
  options?: OptionSpec;
  run(context: CommandContext): Promise<number | void>;
};

/** Flags every command accepts. */
export const GLOBAL_OPTIONS: OptionSpec = {
  json: { type: "boolean", default: false },
  url: { type: "string" },
  workspace: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
};

export function parseCommandArgs(command: Command, argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: { ...GLOBAL_OPTIONS, ...command.options },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new CliError(`${(error as Error).message}\nUsage: ${usageLine(command)}`, EXIT.USAGE);
  }
}

export function usageLine(command: Command): string {
  return `ias ${command.path.join(" ")}${command.usage ? ` ${command.usage}` : ""}`;
}

export function optionalString(context: CommandContext, name: string): string | undefined {
  const value = context.values[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** An integer flag, checked here so a typo never reaches the server as NaN. */
export function optionalInt(context: CommandContext, name: string): number | undefined {
  const raw = optionalString(context, name);
  if (raw === undefined) return undefined;
  if (!/^-?\d+$/.test(raw)) throw new CliError(`--${name} must be an integer, got "${raw}".`, EXIT.USAGE);
  return Number(raw);
}

export function positional(context: CommandContext, index: number, name: string): string {
  const value = context.positionals[index];
  if (value === undefined || value === "") throw new CliError(`Missing <${name}>.`, EXIT.USAGE);
  return value;
}
