/**
 * `pvnet pkt-gen`: netmap's pkt-gen. With a netmapd listening (--socket, or the default
 * socket) each instance runs there in a thread of its own, so pkt-gens started from
 * different shells meet on its switches; otherwise (or with --local) the instances given
 * on this command line, joined by `++`, run in an in-process host, and the user is told.
 */

import { isAbsolute, resolve } from "node:path";
import type { Command } from "commander";
import { PvnetError } from "../base/errors.js";
import type { NetmapdCall } from "../netmapd/client.js";
import type { PktGenOptions } from "../pktgen/options.js";
import { ENV_HELP } from "./env-help.js";
import { takeSocketOpt, withSocketHint } from "./netmapd.js";
import { exitAfterSignal, shutdownSignals } from "./signals.js";
import { usage } from "./style.js";

const PKT_GEN_HELP = `
netmap's packet generator and sink. Each instance binds one port and runs one
function on it. With a netmapd listening, every instance runs there in a worker thread
of its own, so pkt-gens started from different shells meet on its switches, as netmap's
meet in the kernel; a running pvnet up answers there for its own switches. Without
either (a note on stderr says so), the instances on this command line, joined by ++,
run in this process and meet only each other.

Ports (-i):
  valeX:P          port P of the VALE switch valeX (both made on first open, gone at
                   the last close)
  netmap:IF, IF    the persistent interface IF (pvnet vale-ctl -n IF, then -a valeX:IF)
  valeX:P{N        the master end of pipe N (valeX:P}N is the slave end); the two ends
                   swap buffers, no copy
  PORT/t, PORT/r   a copy of what PORT transmits / receives (in-process only: --local)
  A port's rings are bound by one instance at a time: a second one gets EBUSY.

Functions (-f):
  tx      send as fast as allowed
  rx      receive and count (the default)
  txseq   send, each packet carrying a sequence number at byte 42
  rxseq   receive and report sequence gaps and packets out of order
  ping    send one packet at a time and time its echo (min, mean, p50, p99);
          answers ARP for its -s address, so a host stack (a guest's UDP echo on
          port 7: -d IP:7) can reply
  pong    send every packet back with its addresses swapped

Options:
  -i PORT          the port to bind (required)
  -f FUNCTION      what to do on it (see above)
  -n COUNT         stop after COUNT packets (ping: sent, each awaiting its echo up to
                   a second; pong: echoed); 0, the default, runs until stopped. When
                   an instance given -n ends, the others stop too, receivers once
                   what was in flight to them has arrived
  -l LENGTH        frame length in bytes, 60 to 2048 (default 60)
  -b BURST         packets per ring sync, 1 to 1024 (default 512; 1 for ping and pong)
  -w SECONDS       wait this long before starting (default 0)
  -R RATE          send at most RATE packets per second, a burst at a time when it is
                   due, the burst cut to RATE/300 (at least 1) as netmap's pkt-gen cuts
                   it, so the packets go out evenly; 0, the default, is as fast as the
                   ring takes them
  -S MAC           source MAC address (default 02:00:00:00:00:01)
  -D MAC           destination MAC address (default ff:ff:ff:ff:ff:ff)
  -s IP[-IP][:PORT[-PORT]]
                   source address and UDP port, or ranges of them (default
                   10.0.0.1:1234); with ranges each packet takes the next combination:
                   the source port moves fastest, then the source address, then the
                   destination port, then the destination address, each wrapping
  -d IP[-IP][:PORT[-PORT]]
                   destination address and port, or ranges (default 10.1.0.1:1234)
  -P FILE          send the packets of this pcap file in turn (Ethernet, 14 to 2048
                   bytes each) instead of a built packet; -l, -s and -d do not apply
  -T MS            report interval in milliseconds (default 1000)
  -N               raw numbers in reports, without K, M, G
  -W               rx: stop after one report interval without packets, which is then
                   left out of the measured time
  -X               print every packet sent or received as hex and text (for looking
                   at traffic, far too slow for measuring it)
  -v               more detail: ring and buffer sizes, burst and interval at start
  -p THREADS       threads per instance: 1 (netmap runs one per ring pair, and
                   pvnet's ports have one)
  -h, --help       this help

pvnet's own options:
  ++               starts the options of the next instance
  --local          run in this process even when a netmapd listens
  --socket PATH    run in the netmapd at PATH; an error if none answers there
  --for SECONDS    stop every instance after this long (fractions allowed)

netmap's options for CPU pinning (-a, -c), random addresses (-z, -Z), indirect
buffers (-I) and the other rarely used ones are not taken.

Output: the first lines say what is bound; then one line per interval (rate, packets,
bandwidth, average batch, smallest free space seen); at the end "Sent ..." or
"Received ..." with the totals (ping: what it sent, then "RTT over N packets ..." when
echoes came back), "Speed: ...", and for a receiver on a switch port "Dropped N packets
on the way to PORT (its RX ring was full)", on a monitor "Dropped N packets on PORT/r
(excess traffic: the monitor's ring was full)". With several instances each line starts
with [N], the instance's place on the command line. A monitor may come before its port
on the command line.

Exit status: 0 when every instance ended normally; 1 for a bad command line, a port
that cannot be had, a failing instance, or a netmapd that shut down or went away.

Examples:
  pvnet pkt-gen -i vale0:b -f rx ++ -i vale0:a -f tx -l 60 --for 5
  pvnet netmapd &   then in two shells:
  pvnet pkt-gen -i vale0:b -f rxseq        pvnet pkt-gen -i vale0:a -f txseq -R 1000000
  pvnet pkt-gen -i vale0:a -f tx -s 10.0.0.1-10.0.0.9:1234-1240 -n 63
  with pvnet up running: ping guest1 through the host's switch vale0:
  pvnet pkt-gen -i vale0:probe -f ping -s 10.0.0.99 -d 10.0.0.1:7 -n 5
${ENV_HELP.netmapd}`;

/** How long the other netmapd jobs run on after one given -n has finished. */
const WIND_DOWN_MS = 200;

export function pktGenCommand(program: Command): void {
  program
    .command("pkt-gen")
    .description(
      "netmap's packet generator and sink: -i PORT -f tx|rx|txseq|rxseq|ping|pong ... (-h for every option)",
    )
    .usage("-i PORT [-f FUNCTION] [options] [++ -i PORT ...] [--local | --socket PATH] [--for SECONDS]")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[args...]")
    .addHelpText("after", PKT_GEN_HELP)
    .action(async (args: string[], _o: unknown, cmd: Command) => {
      if (args.includes("-h") || args.includes("--help")) {
        cmd.outputHelp();
        return;
      }
      const { parsePktGenArgs } = await import("../pktgen/options.js");
      const { splitInstances } = await import("../pktgen/host.js");
      const { socket, rest: afterSocket } = takeSocketOpt(args);
      let forMs: number | undefined;
      let local = false;
      const rest: string[] = [];
      for (let i = 0; i < afterSocket.length; i++) {
        const a = afterSocket[i]!;
        if (a === "--local") local = true;
        else if (a === "--for") {
          const v = afterSocket[++i];
          if (v === undefined) throw usage("--for: no value given", "expected a number of seconds");
          const s = Number(v);
          if (v.trim() === "" || !Number.isFinite(s) || s <= 0)
            throw usage(`--for: "${v}" is not a duration`, "expected a positive number of seconds");
          forMs = s * 1000;
        } else if (a.startsWith("--")) throw usage(`${a}: unknown option`, "see pvnet pkt-gen --help");
        else rest.push(a);
      }
      const groups = splitInstances(rest);
      if ("error" in groups) throw usage(groups.error);
      if (groups.length === 0)
        throw usage("no port given", "expected -i PORT, e.g. pvnet pkt-gen -i vale0:a -f tx");
      const opts = groups.map((g) => {
        const o = parsePktGenArgs(g);
        if ("error" in o) throw usage(o.error);
        return o;
      });
      if (local && socket !== undefined) throw usage("--local and --socket exclude each other");
      const { loadPcapFrames } = await import("../pktgen/pcap-source.js");
      for (const o of opts) if (o.pcap !== null) loadPcapFrames(o.pcap);
      // netmapd reads a -P file itself, from its own working directory.
      for (const g of groups) {
        const at = g.indexOf("-P");
        if (at >= 0 && g[at + 1] !== undefined && !isAbsolute(g[at + 1]!)) g[at + 1] = resolve(g[at + 1]!);
      }
      const stop = new AbortController();
      // Every later signal is absorbed, so a second Ctrl-C cannot cut the report short.
      const signals = shutdownSignals();
      void signals.first.then(() => stop.abort());
      const counted = opts.map((o) => o.count > 0);
      if (local || !(await viaNetmapd(socket, groups, counted, forMs, stop.signal)))
        await runLocal(opts, forMs, stop.signal);
      if (signals.received !== null) exitAfterSignal();
    });
}

async function runLocal(
  opts: PktGenOptions[],
  forMs: number | undefined,
  signal: AbortSignal,
): Promise<void> {
  const { pktGenHost } = await import("../pktgen/host.js");
  const { runPktGen } = await import("../pktgen/run.js");
  await runPktGen(pktGenHost(), opts, {
    out: (l) => process.stdout.write(`${l}\n`),
    stopAfterMs: forMs,
    signal,
  });
}

/**
 * Runs every instance as a job of the netmapd at `socket` (or the default one). Returns
 * false when no netmapd listens at the default path (the caller then runs in-process,
 * after saying so); an explicit --socket that does not answer is an error.
 */
async function viaNetmapd(
  socket: string | undefined,
  groups: string[][],
  counted: boolean[],
  forMs: number | undefined,
  signal: AbortSignal,
): Promise<boolean> {
  const { callNetmapd } = await import("../netmapd/client.js");
  const { defaultNetmapdSocket } = await import("../netmapd/socket-path.js");
  const path = socket ?? defaultNetmapdSocket();
  const calls: NetmapdCall[] = [];
  for (const [i, args] of groups.entries()) {
    const prefix = groups.length > 1 ? `[${i}] ` : "";
    try {
      calls.push(
        await callNetmapd(path, { op: "pkt-gen", args, forMs }, (l) =>
          process.stdout.write(`${prefix}${l}\n`),
        ),
      );
    } catch (e) {
      const absent = e instanceof PvnetError && (e.code === "ENOENT" || e.code === "ECONNREFUSED");
      if (i === 0 && absent && socket === undefined) {
        process.stderr.write(
          `pvnet pkt-gen: no netmapd or pvnet host at ${path}: running in-process (instances meet only with ++)\n`,
        );
        return false;
      }
      for (const c of calls) c.stop();
      throw withSocketHint(e);
    }
  }
  const stopAll = (): void => {
    for (const c of calls) c.stop();
  };
  signal.addEventListener("abort", stopAll);
  // As in-process: the first instance given -n to finish ends the run, after a moment for
  // what is in flight to reach the receivers.
  for (const [i, c] of calls.entries())
    if (counted[i]) void c.done.finally(() => setTimeout(stopAll, WIND_DOWN_MS).unref()).catch(() => {});
  const results = await Promise.allSettled(calls.map((c) => c.done));
  for (const [i, r] of results.entries()) {
    const tag = groups.length > 1 ? `[${i}] ` : "";
    const err =
      r.status === "rejected"
        ? r.reason instanceof Error
          ? r.reason.message
          : String(r.reason)
        : r.value.exit !== 0
          ? (r.value.err ?? "failed")
          : null;
    if (err === null) continue;
    process.stderr.write(`pvnet pkt-gen: ${tag}${err}\n`);
    process.exitCode = 1;
  }
  return true;
}
