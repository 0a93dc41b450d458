/**
 * `pvnet netmapd`: the process pvnet's switches live in (netmap's kernel side), and
 * `pvnet vale-ctl`, netmap's tool for them. pkt-gen (pkt-gen.ts) runs its instances here
 * when a netmapd is listening.
 */
import type { Command } from "commander";
import { PvnetError } from "../base/errors.js";
import { untilSignal } from "./signals.js";

interface SocketOpt {
  socket?: string;
}

export function netmapdCommand(program: Command): void {
  program
    .command("netmapd")
    .description(
      "run the netmap host: VALE switches, persistent interfaces and pkt-gen jobs (until SIGINT/SIGTERM)",
    )
    .option("--socket <path>", "control socket (default: $PVNET_NETMAPD_SOCKET or /run/pvnet/netmapd.sock)")
    .action(async (o: SocketOpt) => {
      const { Netmapd } = await import("../netmapd/daemon.js");
      const { NetmapdServer } = await import("../netmapd/server.js");
      const { defaultNetmapdSocket } = await import("../netmapd/socket-path.js");
      const log = (line: string): void => {
        process.stderr.write(`${line}\n`);
      };
      const d = new Netmapd();
      const server = await NetmapdServer.listen(d, o.socket ?? defaultNetmapdSocket(), { log });
      log(`netmapd: listening on ${server.path}`);
      await untilSignal("netmapd", log);
      await server.close();
      await d.close();
    });
}

export function valeCtlCommand(program: Command): void {
  program
    .command("vale-ctl")
    .description(
      "netmap's vale-ctl against a running netmapd: -a|-h|-d valeX:IF, -n|-r IF [-C slots], -l [PORT], -g IF",
    )
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[args...]")
    .action(async (args: string[]) => {
      const { callNetmapd } = await import("../netmapd/client.js");
      const { defaultNetmapdSocket } = await import("../netmapd/socket-path.js");
      const { parseValeCtlArgs, VALE_CTL_USAGE } = await import("../netmapd/vale-ctl.js");
      const { socket, rest } = takeSocketOpt(args);
      if (rest.includes("--help")) {
        process.stdout.write(`${VALE_CTL_USAGE}\n`);
        return;
      }
      // Refuse a bad command line before looking for the daemon.
      const cmd = parseValeCtlArgs(rest);
      if ("error" in cmd) throw new PvnetError("EINVAL", `vale-ctl: ${cmd.error}\n${VALE_CTL_USAGE}`);
      const call = await callNetmapd(socket ?? defaultNetmapdSocket(), { op: "vale-ctl", args: rest }, (l) =>
        process.stdout.write(`${l}\n`),
      );
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
      rest.push(args[i]);
      continue;
    }
    socket = args[++i];
    if (socket === undefined || socket === "") throw new PvnetError("CONFIG", "--socket: expected a path");
  }
  return { socket, rest };
}
