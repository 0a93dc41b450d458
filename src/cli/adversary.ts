/**
 * `pvnet adversary frontend|backend [host.yaml]`: boots the host `pvnet up` would (plus the
 * adversary's guest) and runs the catalogue's cases, or a seeded random run, against
 * pvnet's netback (frontend mode) or a pvnet netfront (backend mode). Exit status 0 only
 * when every case came out as expected and nothing leaked.
 */
import type { Command } from "commander";
import type { AdvMode, AdvResult, CaseRow } from "../adversary/run.js";
import { usage } from "./style.js";

export interface AdversaryOpts {
  case?: string[];
  json?: boolean;
  list?: boolean;
  random?: string;
  seed: string;
  peerProgram?: string;
}

function intArg(name: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isInteger(n) || n < min || n > max)
    throw usage(`--${name} ${JSON.stringify(v)} is not allowed`, `an integer from ${min} to ${max}`);
  return n;
}

function caseLine(r: CaseRow): string {
  const mark = r.asExpected ? "ok  " : "FAIL";
  const good = `${r.good.received}/${r.good.sent}`;
  const leak = r.leaked === "" ? "" : `  leaked: ${r.leaked}`;
  const err = r.error === undefined ? "" : `  error: ${r.error}`;
  return `${mark} ${r.name.padEnd(28)} expected ${r.expected.padEnd(22)} observed ${r.observed.padEnd(8)} vif ${r.vifState.padEnd(12)} good ${good.padEnd(9)}${leak}${err}`;
}

export async function runAdversaryCommand(
  mode: string,
  file: string | undefined,
  o: AdversaryOpts,
): Promise<void> {
  if (mode !== "frontend" && mode !== "backend") throw usage(`unknown mode "${mode}"`, "frontend or backend");
  const m: AdvMode = mode;
  const { catalogue, resolveCases, runAdversary } = await import("../adversary/run.js");
  if (o.list) {
    const cat = catalogue(m);
    if (o.json) process.stdout.write(`${JSON.stringify({ mode: m, cases: cat }, null, 2)}\n`);
    else
      for (const c of cat)
        process.stdout.write(`${c.name.padEnd(28)} ${c.expect.join("|").padEnd(22)} ${c.does} [${c.ref}]\n`);
    return;
  }
  const random =
    o.random === undefined
      ? undefined
      : { n: intArg("random", o.random, 1, 100_000_000), seed: intArg("seed", o.seed, 0, 0xffffffff) };
  const names = (o.case ?? (random === undefined ? ["all"] : [])).flatMap((c) => c.split(","));
  const cases = resolveCases(m, names);
  const { loadHostConfig, defaultHostConfig } = await import("../toolstack/config.js");
  const config = file === undefined ? defaultHostConfig() : loadHostConfig(file);
  let peerProgram: URL | undefined;
  if (o.peerProgram !== undefined) {
    const { existsSync } = await import("node:fs");
    const { pathToFileURL } = await import("node:url");
    if (!existsSync(o.peerProgram))
      throw usage(`--peer-program ${JSON.stringify(o.peerProgram)}: no such file`);
    peerProgram = pathToFileURL(o.peerProgram);
  }
  const res: AdvResult = await runAdversary({
    mode: m,
    config,
    cases,
    random,
    peerProgram,
    onCase: o.json ? undefined : (r) => process.stdout.write(`${caseLine(r)}\n`),
  });
  if (o.json) process.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
  else {
    if (res.random !== null) {
      const r = res.random;
      process.stdout.write(
        `random: ${r.writes} writes, ${r.reconnects} reconnects, ${r.responses} responses, ${r.dropped} dropped; good ${r.good.received}/${r.good.sent}${r.leaked === "" ? "" : `; ${r.leaked}`}\n`,
      );
    }
    const bad = res.cases.filter((c) => !c.asExpected).length;
    process.stdout.write(
      `${res.cases.length - bad} of ${res.cases.length} cases as expected; Domain-0 baseline ${JSON.stringify(res.baseline)}\n`,
    );
  }
  if (!res.ok) {
    const bad = res.cases.filter((c) => !c.asExpected).map((c) => c.name);
    process.stderr.write(
      `pvnet adversary ${m}: ${bad.length > 0 ? `not as expected: ${bad.join(", ")}` : "the random run failed or leaked"}\n`,
    );
    process.exitCode = 1;
  }
}

export function adversaryCommand(program: Command): void {
  program
    .command("adversary")
    .description("attack pvnet's netback (frontend) or netfront (backend) with a malicious peer")
    .argument(
      "<mode>",
      "frontend: a malicious guest against netback; backend: a malicious backend against netfront",
    )
    .argument("[host.yaml]", "the host to boot (default: the embedded one, as pvnet up)")
    .option("--case <name...>", "cases to run, or all (default: all); see --list")
    .option("--list", "list the cases with their expected outcomes and exit")
    .option("--json", "print the results as JSON")
    .option("--random <n>", "write N random ring, grant, link-page and xenstore words instead of cases")
    .option("--seed <s>", "the random run's seed", "1")
    .option(
      "--peer-program <file.js>",
      "attack another implementation: frontend mode, a Domain-0 program with its netback; backend mode, a victim guest program with its netfront",
    )
    .action(async (mode: string, file: string | undefined, o: AdversaryOpts) => {
      await runAdversaryCommand(mode, file, o);
    });
}
