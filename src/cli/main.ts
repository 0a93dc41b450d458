#!/usr/bin/env node
/**
 * The pvnet command line. One file per command; this one only wires them up and gives
 * every command the one error style (style.ts).
 */
import { Command } from "commander";
import { adversaryCommand } from "./adversary.js";
import { benchCommand } from "./bench.js";
import { captureCommand } from "./capture.js";
import { configCommand } from "./config.js";
import { demoCommand } from "./demo.js";
import { ENV_HELP } from "./env-help.js";
import { netmapdCommand, valeCtlCommand } from "./netmapd.js";
import { pingCommand } from "./ping.js";
import { pktGenCommand } from "./pkt-gen.js";
import { errorLine, styleErrors } from "./style.js";
import { topCommand } from "./top.js";
import { upCommand } from "./up.js";
import { xenstoreCommand, xenstoredCommand } from "./xenstore.js";
import { xlCommands } from "./xl.js";
import { xlOpsCommands } from "./xl-ops.js";

const program = new Command();
program
  .name("pvnet")
  .description("Xen-style paravirtual networking and netmap-style packet I/O for Node.js")
  .version("0.1.0")
  .addHelpText("after", `\nRun pvnet COMMAND --help for a command's options.\n${ENV_HELP.all}`);
upCommand(program);
xlCommands(program);
xlOpsCommands(program);
pingCommand(program);
topCommand(program);
captureCommand(program);
demoCommand(program);
benchCommand(program);
pktGenCommand(program);
netmapdCommand(program);
valeCtlCommand(program);
xenstoredCommand(program);
xenstoreCommand(program);
configCommand(program);
adversaryCommand(program);
styleErrors(program);

// A reader that goes away early (pvnet pkt-gen -h | head) ends the output, not with a trace.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
});

let running: Command | null = null;
program.hook("preAction", (_self, action) => {
  running = action;
});

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(errorLine(running, e));
  process.exitCode = 1;
});
