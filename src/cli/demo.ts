import type { Command } from "commander";
import type { LoopMode } from "../hv/loop.js";
import type { DemoRun } from "./demo-run.js";

export interface DemoOpts {
  for?: string;
  json?: boolean;
  frame: string;
  batch: string;
  order: string;
  mode: string;
  echo: boolean;
}

/** TX ring slots at ring-page-order `order` (netif entries: 256 to a page). */
export const demoRingSlots = (order: number): number => 256 << order;

function intOpt(name: string, v: string, min: number, max: number): number | string {
  const n = Number(v);
  if (v.trim() === "" || !Number.isInteger(n) || n < min || n > max)
    return `--${name} ${JSON.stringify(v)} is not allowed (an integer from ${min} to ${max})`;
  return n;
}

/** The demo's settings from its options, or what is wrong with them (one line). */
export function parseDemoOpts(o: DemoOpts): DemoRun | string {
  const frameBytes = intOpt("frame", o.frame, 46, 2048);
  if (typeof frameBytes === "string") return frameBytes;
  const order = intOpt("order", o.order, 0, 4);
  if (typeof order === "string") return order;
  const batch = intOpt("batch", o.batch, 1, 1024);
  if (typeof batch === "string") return batch;
  // The guest waits for a whole batch of free slots: a batch the ring cannot hold never starts.
  const slots = demoRingSlots(order);
  if (batch > slots) return `--batch ${batch} is larger than the ring (${slots} slots at --order ${order})`;
  if (o.mode !== "notify" && o.mode !== "hybrid" && o.mode !== "poll")
    return `--mode ${JSON.stringify(o.mode)} is not a mode (notify, hybrid or poll)`;
  let seconds = Number.POSITIVE_INFINITY;
  if (o.for !== undefined) {
    seconds = Number(o.for);
    if (o.for.trim() === "" || !Number.isFinite(seconds) || seconds <= 0 || seconds > 86400)
      return `--for ${JSON.stringify(o.for)} is not allowed (seconds, more than 0 and at most 86400; fractions allowed)`;
  }
  return { frameBytes, batch, order, mode: o.mode as LoopMode, seconds, json: o.json === true, echo: o.echo };
}

export function demoCommand(program: Command): void {
  program
    .command("demo")
    .description("two domains exchange frames over shared rings; live counters (Ctrl-C to stop)")
    .option("--for <seconds>", "stop after this many seconds (fractions allowed)")
    .option("--json", "print the settings, rates and final counters as JSON")
    .option("--frame <bytes>", "frame size, 46 to 2048", "64")
    .option("--batch <n>", "frames per index publish, at most the ring's slots", "32")
    .option("--order <n>", "ring-page-order: 2^n ring pages of 256 slots (0 to 4)", "2")
    .option("--mode <mode>", "notify (event-driven), hybrid (spin 50 us, then sleep) or poll", "notify")
    .option("--no-echo", "one way only: Domain-0 does not send the frames back")
    .action(async (o: DemoOpts) => {
      const run = parseDemoOpts(o);
      if (typeof run === "string") {
        process.stderr.write(`pvnet demo: ${run}\n`);
        process.exitCode = 1;
        return;
      }
      const { runDemo } = await import("./demo-run.js");
      await runDemo(run);
    });
}
