import type { Command } from "commander";
import { PvnetError } from "../base/errors.js";

interface DemoOpts {
  for?: string;
  json?: boolean;
  frame: string;
  batch: string;
  order: string;
  mode: string;
  echo: boolean;
}

function intOpt(name: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new PvnetError("CONFIG", `--${name}: expected an integer from ${min} to ${max}, got "${v}"`);
  return n;
}

export function demoCommand(program: Command): void {
  program
    .command("demo")
    .description("two domains exchange frames over shared rings; live counters (Ctrl-C to stop)")
    .option("--for <seconds>", "stop after this many seconds")
    .option("--json", "print the final status as JSON")
    .option("--frame <bytes>", "frame size", "64")
    .option("--batch <n>", "frames per index publish", "32")
    .option("--order <n>", "ring-page-order (2^n ring pages)", "2")
    .option("--mode <mode>", "notify (event-driven), hybrid (spin 50 us, then sleep) or poll", "notify")
    .option("--no-echo", "one way only: Domain-0 does not send the frames back")
    .action(async (o: DemoOpts) => {
      const frameBytes = intOpt("frame", o.frame, 46, 2048);
      const batch = intOpt("batch", o.batch, 1, 1024);
      const order = intOpt("order", o.order, 0, 4);
      if (o.mode !== "notify" && o.mode !== "hybrid" && o.mode !== "poll")
        throw new PvnetError("CONFIG", `--mode: expected notify, hybrid or poll, got "${o.mode}"`);
      const seconds = o.for === undefined ? Number.POSITIVE_INFINITY : intOpt("for", o.for, 1, 86400);
      const { runDemo } = await import("./demo-run.js");
      await runDemo({ frameBytes, batch, order, mode: o.mode, seconds, json: o.json === true, echo: o.echo });
    });
}
