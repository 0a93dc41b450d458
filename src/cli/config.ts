/**
 * `pvnet config default` prints the embedded host file; `pvnet config check FILE` validates
 * one (`-` or /dev/stdin for standard input), listing every issue with its line.
 */
import type { Command } from "commander";

export interface ConfigIo {
  out: (s: string) => void;
  /** One line per call, without the `pvnet config: ` prefix. */
  err: (line: string) => void;
  readFile: (path: string) => string;
}

/** Validates `file` and reports as the command does; returns the exit code. */
export async function runConfigCheck(file: string, io: ConfigIo): Promise<number> {
  const { parseHostConfig, formatIssue, readProblem } = await import("../toolstack/config.js");
  const name = file === "-" ? "<stdin>" : file;
  let text: string;
  try {
    text = io.readFile(file === "-" ? "/dev/stdin" : file);
  } catch (e) {
    io.err(`${name}: ${readProblem(e)} (expected a readable YAML host file)`);
    return 1;
  }
  const r = parseHostConfig(text, name);
  if (!r.ok) {
    for (const i of r.issues) io.err(formatIssue(i));
    return 1;
  }
  const doms = r.config.domains.length;
  const vifs = r.config.domains.reduce((n, d) => n + d.vifs.length, 0);
  const bridges = r.config.bridges.length;
  const s = (n: number): string => (n === 1 ? "" : "s");
  io.out(`${name}: ok (${doms} domain${s(doms)}, ${vifs} vif${s(vifs)}, ${bridges} bridge${s(bridges)})\n`);
  return 0;
}

export function configCommand(program: Command): void {
  const config = program
    .command("config")
    .description("host files for `pvnet up`: print the default, check one");
  config
    .command("default")
    .description("print the embedded default host (YAML, commented): a file to start from")
    .action(async () => {
      const { DEFAULT_HOST_YAML } = await import("../toolstack/config-default.js");
      process.stdout.write(DEFAULT_HOST_YAML);
    });
  config
    .command("check")
    .description("validate a host file; each problem is printed as FILE:LINE:COL: field: ...")
    .argument("<file>", "the YAML host file (- for standard input)")
    .action(async (file: string) => {
      const { readFileSync } = await import("node:fs");
      process.exitCode = await runConfigCheck(file, {
        out: (s) => process.stdout.write(s),
        err: (line) => process.stderr.write(`pvnet config: ${line}\n`),
        // fd 0 for standard input: it works where /dev/stdin is missing or is a socket.
        readFile: (p) => readFileSync(p === "/dev/stdin" ? 0 : p, "utf8"),
      });
    });
}
