/**
 * A pkt-gen job in netmapd: the instance runs in a worker thread of its own on a port
 * bound here (daemon.ts), so jobs from different client processes meet on the switches as
 * netmap's pkt-gens meet in the kernel. Output lines stream to the client as they come.
 */
import { isAbsolute } from "node:path";
import { Worker } from "node:worker_threads";
import { isWireError, PvnetError } from "../base/errors.js";
import { parsePktGenArgs } from "../pktgen/options.js";
import { dropsLine } from "../pktgen/report.js";
import type { PktGenResult } from "../pktgen/run.js";
import type { Netmapd } from "./daemon.js";
import type { JobWorkerData, JobWorkerMsg } from "./job-worker.js";

/** How long a worker asked to stop may take to print its final lines. */
const STOP_GRACE_MS = 3000;

export interface JobOptions {
  out: (line: string) => void;
  signal?: AbortSignal;
  stopAfterMs?: number;
}

export async function runPktGenJob(
  d: Netmapd,
  args: readonly string[],
  o: JobOptions,
): Promise<PktGenResult> {
  const opts = parsePktGenArgs(args);
  if ("error" in opts) throw new PvnetError("CONFIG", opts.error);
  if (opts.pcap !== null && !isAbsolute(opts.pcap))
    throw new PvnetError("CONFIG", `-P ${opts.pcap}: expected an absolute path (netmapd reads the file)`);
  const lease = d.open(opts.port);
  const receiving = opts.fn === "rx" || opts.fn === "rxseq" || opts.fn === "pong";
  const drops0 = lease.rxDrops();
  let w: Worker | null = null;
  try {
    const data: JobWorkerData = { opts, desc: lease.desc, stopAfterMs: o.stopAfterMs };
    const worker = new Worker(new URL("./job-worker.js", import.meta.url), { workerData: data });
    w = worker;
    return await new Promise<PktGenResult>((resolve, reject) => {
      let settled = false;
      let grace: NodeJS.Timeout | undefined;
      const finish = (err: Error | null, r?: PktGenResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(grace);
        o.signal?.removeEventListener("abort", onAbort);
        if (err === null) resolve(r!);
        else reject(err);
      };
      const onAbort = (): void => {
        worker.postMessage({ stop: true });
        grace = setTimeout(
          () => finish(new PvnetError("ETIMEDOUT", "pkt-gen: the instance did not stop")),
          STOP_GRACE_MS,
        );
      };
      if (o.signal?.aborted === true) onAbort();
      else o.signal?.addEventListener("abort", onAbort, { once: true });
      // The worker runs in the switches' thread's process (Domain-0's, under pvnet up):
      // what it posts is checked before use, so a bad message ends the job, not the thread.
      worker.on("message", (raw: unknown) => {
        const m = checkJobMsg(raw);
        if (m === null) finish(new PvnetError("EBUG", "pkt-gen worker posted a malformed message"));
        else if ("line" in m) o.out(m.line);
        else if ("result" in m) {
          // The switch counts drops here, in netmapd's thread: the receiver's last line.
          const r = m.result as PktGenResult;
          const now = lease.rxDrops();
          if (receiving && now !== null && drops0 !== null) {
            r.drops = now - drops0;
            o.out(dropsLine(r.drops, opts.port));
          }
          finish(null, r);
        } else finish(PvnetError.fromWire(m.error));
      });
      worker.once("error", (e) => finish(e));
      worker.once("exit", (code) =>
        finish(new PvnetError("EBUG", `pkt-gen worker exited (${code}) without a result`)),
      );
    });
  } finally {
    // The worker must be gone before its rings are unbound.
    await w?.terminate();
    await lease.release();
  }
}

/** A worker's message, or null when it is none of the three kinds. */
export function checkJobMsg(raw: unknown): JobWorkerMsg | null {
  if (typeof raw !== "object" || raw === null) return null;
  const m = raw as Record<string, unknown>;
  if (typeof m.line === "string") return { line: m.line };
  if ("result" in m) return typeof m.result === "object" && m.result !== null ? { result: m.result } : null;
  if (isWireError(m.error)) return { error: m.error };
  return null;
}
