import type { Command } from "commander";
import { PvnetError } from "../base/errors.js";

export function pktGenCommand(program: Command): void {
  program
    .command("pkt-gen")
    .description(
      "netmap's pkt-gen: -i PORT -f tx|rx|txseq|rxseq|ping|pong -l LEN -b BURST -n COUNT ... (instances joined by ++)",
    )
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[args...]")
    .action(async (args: string[]) => {
      const { parsePktGenArgs } = await import("../pktgen/options.js");
      const { pktGenHost, splitInstances } = await import("../pktgen/host.js");
      const { runPktGen } = await import("../pktgen/run.js");
      let forMs: number | undefined;
      const rest: string[] = [];
      for (let i = 0; i < args.length; i++) {
        if (args[i] !== "--for") {
          rest.push(args[i]);
          continue;
        }
        const s = Number(args[++i]);
        if (!Number.isFinite(s) || s <= 0)
          throw new PvnetError("CONFIG", `--for: expected seconds, got "${args[i]}"`);
        forMs = s * 1000;
      }
      const groups = splitInstances(rest);
      if (groups.length === 0)
        throw new PvnetError("CONFIG", "pkt-gen: expected -i PORT, e.g. pvnet pkt-gen -i vale0:a -f tx");
      const opts = groups.map((g) => {
        const o = parsePktGenArgs(g);
        if ("error" in o) throw new PvnetError("CONFIG", `pkt-gen: ${o.error}`);
        return o;
      });
      const stop = new AbortController();
      process.once("SIGINT", () => stop.abort());
      process.once("SIGTERM", () => stop.abort());
      await runPktGen(pktGenHost(), opts, {
        out: (l) => process.stdout.write(`${l}\n`),
        stopAfterMs: forMs,
        signal: stop.signal,
      });
    });
}
