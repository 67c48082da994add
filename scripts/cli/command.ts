/**
 * The command table's shape and the argument parsing shared by every command. Commands are
 * `ias <group> <name> [arguments] [--flags]`; flags may come anywhere after the command words.
 * Everything a command line can get wrong (unknown flags, a missing argument, a flag that must be
 * an integer or one of a list) is checked here, before the command runs, so a usage error exits 2
 * before any login or network. Help text (help.ts) is generated from the same definitions.
 */
import { parseArgs } from "node:util";
import { CliError, EXIT, type Output } from "./output";

export type OptionDef = {
  type: "string" | "boolean";
  /** One shown in help, e.g. "Filter by status". */
  description: string;
  /** The value's placeholder in help: `--limit <n>`. */
  value?: string;
  short?: string;
  default?: string | boolean;
  /** The value must be an integer in this range. */
  int?: { min?: number; max?: number };
  /** The value must be one of these. */
  choices?: readonly string[];
};

/** `variadic`: the last argument may be given any number of times (`ias job evidence k=v k=v`). */
export type ArgDef = { name: string; description: string; required?: boolean; variadic?: boolean };

export type CommandContext = {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  out: Output;
  env: NodeJS.ProcessEnv;
};

export type Command = {
  /** e.g. ["jobs", "list"] */
  path: string[];
  /** One line, in `ias help` and the group's help. */
  summary: string;
  /** More lines for `--help`. */
  details?: string[];
  args?: ArgDef[];
  options?: Record<string, OptionDef>;
  run(context: CommandContext): Promise<number | void>;
};

/** Flags every command accepts. */
export const GLOBAL_OPTIONS: Record<string, OptionDef> = {
  json: { type: "boolean", default: false, description: "Machine-readable output: one JSON document per line" },
  url: { type: "string", value: "<URL>", description: "Pick the stored login of this deployment (or IAS_URL)" },
  workspace: {
    type: "string",
    value: "<slug>",
    description: "Pick the stored login of this workspace (or IAS_WORKSPACE)",
  },
  help: { type: "boolean", short: "h", default: false, description: "Show this help" },
};

export function parseCommandArgs(command: Command, argv: string[]): Pick<CommandContext, "values" | "positionals"> {
  const definitions = { ...GLOBAL_OPTIONS, ...command.options };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      options: Object.fromEntries(
        Object.entries(definitions).map(([name, { type, short, default: fallback }]) => [
          name,
          { type, ...(short ? { short } : {}), ...(fallback !== undefined ? { default: fallback } : {}) },
        ]),
      ),
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw usageError(command, (error as Error).message.replace(/\. To specify a positional argument.*$/s, "."));
  }
  const values = parsed.values as CommandContext["values"];
  if (values.help) return { values, positionals: parsed.positionals };
  for (const [name, definition] of Object.entries(definitions)) {
    const value = values[name];
    if (typeof value === "string") checkValue(command, name, definition, value);
  }
  const args = command.args ?? [];
  const missing = args.find((arg, index) => arg.required && !parsed.positionals[index]);
  if (missing) throw usageError(command, `Missing <${missing.name}>.`);
  if (parsed.positionals.length > args.length && !args.at(-1)?.variadic)
    throw usageError(command, `Unexpected argument "${parsed.positionals[args.length]}".`);
  return { values, positionals: parsed.positionals };
}

function checkValue(command: Command, name: string, definition: OptionDef, value: string) {
  if (definition.choices && !definition.choices.includes(value))
    throw usageError(command, `--${name} must be one of ${definition.choices.join(", ")}; got "${value}".`);
  if (definition.int) {
    const { min, max } = definition.int;
    const number = Number(value);
    if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(number))
      throw usageError(command, `--${name} must be an integer, got "${value}".`);
    if ((min !== undefined && number < min) || (max !== undefined && number > max))
      throw usageError(command, `--${name} must be ${rangeText(min, max)}, got ${number}.`);
  }
}

function rangeText(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return `between ${min} and ${max}`;
  return min !== undefined ? `at least ${min}` : `at most ${max}`;
}

/** A usage error: the problem, the command's usage line, where to read more. Exit code 2. */
export function usageError(command: Command, problem: string): CliError {
  return new CliError(
    `${problem}\nUsage: ${usageLine(command)}\nRun: ias ${command.path.join(" ")} --help`,
    EXIT.USAGE,
    "USAGE_ERROR",
  );
}

export function usageLine(command: Command): string {
  const args = (command.args ?? []).map((arg) => {
    const name = arg.variadic ? `${arg.name}...` : arg.name;
    return arg.required ? `<${name}>` : `[${name}]`;
  });
  const flags = Object.keys(command.options ?? {}).length > 0 ? ["[flags]"] : [];
  return ["ias", ...command.path, ...args, ...flags].join(" ");
}

export function optionalString(context: CommandContext, name: string): string | undefined {
  const value = context.values[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** An integer flag (checked by the parser, see OptionDef.int). */
export function optionalInt(context: CommandContext, name: string): number | undefined {
  const raw = optionalString(context, name);
  return raw === undefined ? undefined : Number(raw);
}

/** A positional argument the command declared `required` (checked by the parser). */
export function positional(context: CommandContext, index: number): string {
  return context.positionals[index]!;
}
