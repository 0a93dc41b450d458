/**
 * One error style for every command: a single line `pvnet CMD: what is wrong (what was
 * expected)` on stderr, exit status 1, never a stack trace, whether the error comes from
 * commander's own parsing or from a command's action.
 */
import { type Command, InvalidArgumentError } from "commander";
import { PvnetError } from "../base/errors.js";

/** The command's name as typed after `pvnet` ("pkt-gen", "xenstore read"). */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent != null; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** A usage error: what is wrong, then what was expected. */
export function usage(what: string, expected?: string): PvnetError {
  return new PvnetError("CONFIG", expected === undefined ? what : `${what} (${expected})`);
}

/** The first line of an error's message, without a stack. */
export function errorText(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  const line = m.split("\n", 1)[0]!.trim();
  return line === "" ? (e instanceof PvnetError ? e.code : "failed") : line;
}

/** `pvnet CMD: message` for anything thrown by a command's action. */
export function errorLine(cmd: Command | null, e: unknown): string {
  const name = cmd === null || cmd.parent == null ? "pvnet" : `pvnet ${commandPath(cmd)}`;
  return `${name}: ${errorText(e)}\n`;
}

/** Commander's parser for `--socket`: a non-empty path. */
export function socketPathArg(v: string): string {
  if (v === "") throw new InvalidArgumentError("expected a file path, got an empty string");
  return v;
}

/**
 * Rewrites commander's "error: ..." lines into the pvnet style for `cmd` and every command
 * below it. Call once, after every command is defined.
 */
export function styleErrors(cmd: Command): void {
  cmd.configureOutput({
    outputError: (str, write) => write(commanderLine(cmd, str)),
  });
  for (const sub of cmd.commands) styleErrors(sub);
}

function commanderLine(cmd: Command, str: string): string {
  const text = str
    .replace(/^error: /, "")
    .split("\n", 1)[0]!
    .trim();
  if (cmd.parent != null) return `pvnet ${commandPath(cmd)}: ${text}\n`;
  // At the top level the only thing to name is the word that is not a command.
  const unknown = /^unknown command '([^']*)'/.exec(text);
  const names = cmd.commands.map((c) => c.name()).join(", ");
  if (unknown !== null)
    return `pvnet ${unknown[1] || '""'}: unknown command (expected one of ${names}; see pvnet --help)\n`;
  return `pvnet: ${text}\n`;
}
