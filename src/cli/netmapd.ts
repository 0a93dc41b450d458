/**
 * `pvnet netmapd`: the process pvnet's switches live in (netmap's kernel side), and
 * `pvnet vale-ctl`, netmap's tool for them. pkt-gen (pkt-gen.ts) runs its instances here
 * when a netmapd is listening.
 */
import type { Command } from "commander";
import { PvnetError } from "../base/errors.js";
import { ENV_HELP } from "./env-help.js";
import { exitAfterSignal, untilSignal } from "./signals.js";
import { socketPathArg, usage } from "./style.js";

export function netmapdCommand(program: Command): void {
  program
    .command("netmapd")
    .description(
      "run the netmap host: VALE switches, persistent interfaces and pkt-gen jobs (until SIGINT/SIGTERM)",
    )
    .option("--socket <path>", "control socket (default below, under Environment)", socketPathArg)
    .option("-q, --quiet", "log only problems, not each request, job start and job end")
    .addHelpText(
      "after",
      [
        "",
        "Clients (pvnet vale-ctl, pvnet pkt-gen) connect to the control socket; each pkt-gen",
        "instance runs in a worker thread of this process, on a port bound here, so pkt-gens",
        "started from different shells meet on its switches. Logs go to stderr, one line per",
        "vale-ctl request and per job start and end (client numbers count connections).",
        "A second netmapd on a socket a live one answers on is refused (already running); a",
        "socket nobody answers on is left over from a crash and is replaced.",
        ENV_HELP.netmapd,
      ].join("\n"),
    )
    .action(async (o: { socket?: string; quiet?: boolean }) => {
      const { Netmapd } = await import("../netmapd/daemon.js");
      const { NetmapdServer } = await import("../netmapd/server.js");
      const { defaultNetmapdSocket } = await import("../netmapd/socket-path.js");
      const log = (line: string): void => {
        process.stderr.write(`${line}\n`);
      };
      const d = new Netmapd();
      const path = o.socket ?? defaultNetmapdSocket();
      const server = await NetmapdServer.listen(d, path, {
        log,
        ...(o.quiet === true ? {} : { info: log }),
      }).catch((e: unknown) => {
        throw withSocketHint(e);
      });
      // Handlers before the ready line: a signal may follow it at once (see xenstored).
      const stopped = untilSignal("netmapd", log);
      log(`netmapd: listening on ${server.path}`);
      await stopped;
      await server.close();
      await d.close();
      exitAfterSignal();
    });
}

/** A permission problem with the default socket: say how to choose another. */
export function withSocketHint(e: unknown): unknown {
  if (!(e instanceof PvnetError) || (e.code !== "EACCES" && e.code !== "EPERM" && e.code !== "EROFS"))
    return e;
  return new PvnetError(e.code, `${e.message} (choose a writable path with --socket PATH)`);
}

const VALE_CTL_HELP = `
netmap's vale-ctl, against a running pvnet netmapd, or a running pvnet up (which answers
on the same socket for its own switches; the vif ports are listed). One action per call; the last
action option wins, as in netmap's tool. With no option it lists every switch port.

Options:
  -n IF          create the persistent interface IF
  -C SLOTS       with -n: the ring size, as tx_slots[,rx_slots[,tx_rings[,rx_rings]]];
                 pvnet's interfaces have one ring pair of equal sizes, 2 to 4096 slots
                 (default 1024)
  -r IF          delete the persistent interface IF (detach it first)
  -a valeX:IF    attach IF to the switch valeX (made on first use, at most 8 switches;
                 a switch goes away with its last port)
  -h valeX:IF    attach IF with its host stack: refused, pvnet's interfaces have no host
                 rings (-h alone prints this help)
  -d valeX:IF    detach IF from valeX
  -l [valeX:IF]  list every port ("bridge:B port:P valeX:IF"), or where one port is
  -g IF          IF's ring size and, when attached, its switch port's counters
                 (txPackets txBytes rxPackets rxBytes rxDrops txErrors)
  -p, -P valeX:IF  netmap starts or stops a kernel thread polling a NIC port; refused:
                 pvnet's switch serves its ports as frames arrive, with no thread to start
  -m ID          netmap's shared memory region id; refused: every pvnet interface has a
                 region of its own
  --socket PATH  the netmapd to talk to
  --help         this help

Examples:
  pvnet vale-ctl -n vi0 -C 2048 ; pvnet vale-ctl -a vale0:vi0 ; pvnet vale-ctl
  pvnet vale-ctl -g vi0 ; pvnet vale-ctl -d vale0:vi0 ; pvnet vale-ctl -r vi0
${ENV_HELP.netmapd}`;

export function valeCtlCommand(program: Command): void {
  program
    .command("vale-ctl")
    .description(
      "netmap's vale-ctl against a running netmapd: -n|-r IF [-C slots], -a|-d valeX:IF, -l, -g IF",
    )
    .usage("[-n|-r IF [-C SLOTS]] [-a|-h|-d valeX:IF] [-l [valeX:IF]] [-g IF] [--socket PATH]")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[args...]")
    .addHelpText("after", VALE_CTL_HELP)
    .action(async (args: string[], _o: unknown, cmd: Command) => {
      const { callNetmapd } = await import("../netmapd/client.js");
      const { defaultNetmapdSocket } = await import("../netmapd/socket-path.js");
      const { parseValeCtlArgs } = await import("../netmapd/vale-ctl.js");
      // -h is vale-ctl's attach-with-host-stack; alone, as in netmap's tool, it asks for usage.
      if (args.includes("--help") || (args.length === 1 && args[0] === "-h")) {
        cmd.outputHelp();
        return;
      }
      const { socket, rest } = takeSocketOpt(args);
      // Refuse a bad command line before looking for the daemon.
      const req = parseValeCtlArgs(rest);
      if ("error" in req) throw usage(req.error, "see pvnet vale-ctl --help");
      const call = await callNetmapd(socket ?? defaultNetmapdSocket(), { op: "vale-ctl", args: rest }, (l) =>
        process.stdout.write(`${l}\n`),
      ).catch((e: unknown) => {
        throw withSocketHint(e);
      });
      const r = await call.done;
      if (r.exit !== 0) process.stderr.write(`pvnet vale-ctl: ${r.err ?? "failed"}\n`);
      process.exitCode = r.exit;
    });
}

/** Takes `--socket PATH` out of a tool's own argument list. */
export function takeSocketOpt(args: readonly string[]): { socket: string | undefined; rest: string[] } {
  const rest: string[] = [];
  let socket: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] !== "--socket") {
      rest.push(args[i]!);
      continue;
    }
    socket = args[++i];
    if (socket === undefined || socket === "") throw usage("--socket: no path given", "expected a file path");
  }
  return { socket, rest };
}
