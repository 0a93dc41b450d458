/**
 * `pvnet pkt-gen`: netmap's pkt-gen. With a netmapd listening (--socket, or the default
 * socket) each instance runs there in a thread of its own, so pkt-gens started from
 * different shells meet on its switches; otherwise (or with --local) the instances given
 * on this command line, joined by `++`, run in an in-process host.
 */
import type { Command } from "commander";
import { PvnetError } from "../base/errors.js";
import type { NetmapdCall } from "../netmapd/client.js";
import type { PktGenOptions } from "../pktgen/options.js";
import { takeSocketOpt } from "./netmapd.js";

export function pktGenCommand(program: Command): void {
  program
    .command("pkt-gen")
    .description(
      "netmap's pkt-gen: -i PORT -f tx|rx|txseq|rxseq|ping|pong -l LEN -b BURST -n COUNT ... (instances joined by ++; --local, --socket PATH, --for SECONDS)",
    )
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument("[args...]")
    .action(async (args: string[]) => {
      const { parsePktGenArgs } = await import("../pktgen/options.js");
      const { splitInstances } = await import("../pktgen/host.js");
      const { socket, rest: afterSocket } = takeSocketOpt(args);
      let forMs: number | undefined;
      let local = false;
      const rest: string[] = [];
      for (let i = 0; i < afterSocket.length; i++) {
        const a = afterSocket[i];
        if (a === "--local") local = true;
        else if (a === "--for") {
          const s = Number(afterSocket[++i]);
          if (!Number.isFinite(s) || s <= 0)
            throw new PvnetError("CONFIG", `--for: expected seconds, got "${afterSocket[i]}"`);
          forMs = s * 1000;
        } else rest.push(a);
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
      if (local && socket !== undefined)
        throw new PvnetError("CONFIG", "--local and --socket exclude each other");
      if (!local && (await viaNetmapd(socket, groups, forMs, stop.signal))) return;
      await runLocal(opts, forMs, stop.signal);
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
 * false when no netmapd listens at the default path (the caller then runs in-process); an
 * explicit --socket that does not answer is an error.
 */
async function viaNetmapd(
  socket: string | undefined,
  groups: string[][],
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
      if (i === 0 && absent && socket === undefined) return false;
      for (const c of calls) c.stop();
      throw e;
    }
  }
  signal.addEventListener("abort", () => {
    for (const c of calls) c.stop();
  });
  const results = await Promise.all(calls.map((c) => c.done));
  for (const [i, r] of results.entries())
    if (r.exit !== 0) {
      process.stderr.write(`pvnet pkt-gen: ${groups.length > 1 ? `[${i}] ` : ""}${r.err ?? "failed"}\n`);
      process.exitCode = r.exit;
    }
  return true;
}
