import type { Command } from "commander";
import { PvnetError } from "../base/errors.js";

export function benchCommand(program: Command): void {
  program
    .command("bench")
    .description("run a benchmark and print its table, baselines included")
    .argument(
      "[name]",
      "benchmark to run (ring, netmap, xenstore, vif, scale, storm, adversary, soak, uplink)",
      "ring",
    )
    .option("--json", 'print {"results":[...]} instead of a table')
    .option("--quick", "one run per case, a shorter window after the same warm-up (rougher figures)")
    .option("--minutes <n>", "bench soak: how long to run, in minutes (fractions allowed; default 10)")
    .action(async (name: string, o: { json?: boolean; quick?: boolean; minutes?: string }) => {
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
      const minutes = o.minutes === undefined ? undefined : Number(o.minutes);
      if (minutes !== undefined && (!Number.isFinite(minutes) || minutes <= 0 || minutes > 1440))
        throw new PvnetError(
          "EINVAL",
          `--minutes ${JSON.stringify(o.minutes)} is not allowed (more than 0, at most 1440)`,
        );
      if (minutes !== undefined && name !== "soak")
        throw new PvnetError("EINVAL", "--minutes is for bench soak only");
      // Only soak reads `minutes`; the others take BenchOptions as they are.
      const opts = { quick: o.quick, log, minutes };
      const rows = await b.run(opts);
      const quick = o.quick === true;
      if (o.json) process.stdout.write(`${JSON.stringify({ results: rows, ...(quick ? { quick } : {}) })}\n`);
      else process.stdout.write(`${quick ? `${QUICK_NOTE}\n` : ""}${formatTable(rows)}\n`);
    });
}
