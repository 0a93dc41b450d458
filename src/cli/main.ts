#!/usr/bin/env node
/**
 * The pvnet command line. One file per command; this one only wires them up.
 */
import { Command } from "commander";
import { benchCommand } from "./bench.js";
import { configCommand } from "./config.js";
import { demoCommand } from "./demo.js";
import { netmapdCommand, valeCtlCommand } from "./netmapd.js";
import { pktGenCommand } from "./pkt-gen.js";
import { xenstoreCommand, xenstoredCommand } from "./xenstore.js";

const program = new Command();
program
  .name("pvnet")
  .description("Xen-style paravirtual networking and netmap-style packet I/O for Node.js")
  .version("0.1.0");
demoCommand(program);
benchCommand(program);
pktGenCommand(program);
netmapdCommand(program);
valeCtlCommand(program);
xenstoredCommand(program);
xenstoreCommand(program);
configCommand(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`pvnet: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
