import type { Command } from "commander";
import { PvnetError } from "../base/errors.js";

export function benchCommand(program: Command): void {
  program
    .command("bench")
    .description("run a benchmark and print its table, baselines included")
    .argument("[name]", "benchmark to run (ring, netmap, xenstore, vif, scale, storm)", "ring")
    .option("--json", 'print {"results":[...]} instead of a table')
    .option("--quick", "one run per case, a shorter window after the same warm-up (rougher figures)")
    .action(async (name: string, o: { json?: boolean; quick?: boolean }) => {
      // bench/ sits beside src/ in the build; loaded on demand so the CLI starts fast.
      const { BENCHES } = await import("../../bench/index.js");
      const { formatTable, QUICK_NOTE } = await import("../../bench/result.js");
      const b = BENCHES[name];
      if (b === undefined)
        throw new PvnetError(
          "EINVAL",
          `unknown benchmark "${name}" (expected one of ${Object.keys(BENCHES).join(", ")})`,
        );
      const log = o.json ? undefined : (line: string) => process.stderr.write(`  ${line}\n`);
      const rows = await b.run({ quick: o.quick, log });
      const quick = o.quick === true;
      if (o.json) process.stdout.write(`${JSON.stringify({ results: rows, ...(quick ? { quick } : {}) })}\n`);
      else process.stdout.write(`${quick ? `${QUICK_NOTE}\n` : ""}${formatTable(rows)}\n`);
    });
}
