/**
 * Help text, generated from the command table (command.ts): `ias help` lists every command by
 * group, `ias help <group>` / `ias <group> --help` one group, `ias <command> --help` one
 * command with its arguments and flags.
 */
import { GLOBAL_OPTIONS, usageLine, type Command, type OptionDef } from "./command";

export type Group = { name: string; summary: string };

export function overviewHelp(commands: Command[], groups: Group[], version: string): string {
  const width = Math.max(...commands.map((command) => command.path.join(" ").length));
  const sections = groups.map((group) => {
    const members = commands.filter((command) => command.path[0] === group.name);
    return [
      `${group.summary}:`,
      ...members.map((command) => `  ias ${command.path.join(" ").padEnd(width)}  ${command.summary}`),
    ].join("\n");
  });
  return [
    `ias ${version}: command-line client of the IAS control plane`,
    "",
    ...sections.flatMap((section) => [section, ""]),
    "Global flags:",
    ...optionLines(GLOBAL_OPTIONS),
    "",
    "Files live in ~/.ias (IAS_HOME moves them): auth.json (logins, shared with the IAS runner) and",
    "worker.json (worker settings and repo mappings). Exit codes: 0 ok, 1 failed, 2 usage, 3 not",
    "logged in or no access, 4 not found, 5 control plane unreachable.",
    "Run ias help <group> or ias <command> --help for more.",
  ].join("\n");
}

export function groupHelp(commands: Command[], group: Group): string {
  const members = commands.filter((command) => command.path[0] === group.name);
  const width = Math.max(...members.map((command) => command.path.join(" ").length));
  return [
    `${group.summary}:`,
    "",
    ...members.map((command) => `  ias ${command.path.join(" ").padEnd(width)}  ${command.summary}`),
    "",
    `Run ias ${group.name} <command> --help for a command's arguments and flags.`,
  ].join("\n");
}

export function commandHelp(command: Command): string {
  const args = command.args ?? [];
  const argWidth = Math.max(0, ...args.map((arg) => arg.name.length + 2));
  return [
    `${command.summary}.`,
    ...(command.details ? ["", ...command.details] : []),
    "",
    `Usage: ${usageLine(command)}`,
    ...(args.length > 0
      ? ["", "Arguments:", ...args.map((arg) => `  ${`<${arg.name}>`.padEnd(argWidth)}  ${arg.description}`)]
      : []),
    ...(command.options ? ["", "Flags:", ...optionLines(command.options)] : []),
    "",
    "Global flags:",
    ...optionLines(GLOBAL_OPTIONS),
  ].join("\n");
}

function optionLines(options: Record<string, OptionDef>): string[] {
  const label = (name: string, option: OptionDef) =>
    `${option.short ? `-${option.short}, ` : ""}--${name}${option.type === "string" ? ` ${option.value ?? "<value>"}` : ""}`;
  const width = Math.max(...Object.entries(options).map(([name, option]) => label(name, option).length));
  return Object.entries(options).map(([name, option]) => {
    const extra = [
      option.choices ? `one of ${option.choices.join(", ")}` : undefined,
      typeof option.default === "string" ? `default ${option.default}` : undefined,
    ].filter(Boolean);
    return `  ${label(name, option).padEnd(width)}  ${option.description}${extra.length ? ` (${extra.join("; ")})` : ""}`;
  });
}
