/**
 * VALE with each port's user in a thread of its own, as `pvnet pkt-gen` runs against
 * netmapd: a pkt-gen tx worker on vale0:a, the switch in this thread, a pkt-gen rx worker
 * on vale0:b (three threads on this 2-core machine). Rates come from the switch's port
 * counters over the measured window: offered (forwarded from a) and delivered (into b's
 * pipe, which never loses what it took), with the drops at b's full ring. Rings of netmap's
 * default 1024 slots, and of 4096 (`vale-ctl -n IF -C 4096`): bigger batches per wake-up.
 */
import { Netmapd } from "../src/netmapd/daemon.js";
import { runPktGenJob } from "../src/netmapd/job.js";
import { parseValeCtlArgs } from "../src/netmapd/vale-ctl.js";
import { sleep } from "./ring-pair.js";

export interface RemoteValeRates {
  offered: number;
  delivered: number;
  dropPct: number;
}

export async function measureRemoteVale(
  frameBytes: number,
  batch: number,
  warmupMs: number,
  measureMs: number,
  slots = 1024,
): Promise<RemoteValeRates> {
  const d = new Netmapd();
  const conf = ["-C", String(slots)];
  for (const args of [
    ["-n", "a", ...conf],
    ["-n", "b", ...conf],
    ["-a", "vale0:a"],
    ["-a", "vale0:b"],
  ]) {
    const c = parseValeCtlArgs(args);
    if ("error" in c) throw new Error(c.error);
    d.valeCtl(c);
  }
  const len = String(Math.max(60, frameBytes - 4));
  const forMs = warmupMs + measureMs + 200;
  const quiet = { out: () => {}, stopAfterMs: forMs };
  try {
    const rx = runPktGenJob(d, ["-i", "vale0:b", "-f", "rx", "-l", len], quiet);
    await sleep(100);
    const tx = runPktGenJob(d, ["-i", "vale0:a", "-f", "tx", "-l", len, "-b", String(batch)], quiet);
    await sleep(warmupMs);
    const a0 = d.counters("vale0:a")!;
    const b0 = d.counters("vale0:b")!;
    const t0 = performance.now();
    await sleep(measureMs);
    const a1 = d.counters("vale0:a")!;
    const b1 = d.counters("vale0:b")!;
    const us = (performance.now() - t0) * 1000;
    await Promise.all([tx, rx]);
    const offered = (a1.txPackets - a0.txPackets) / us;
    const delivered = (b1.rxPackets - b0.rxPackets) / us;
    const drops = b1.rxDrops - b0.rxDrops;
    const seen = drops + b1.rxPackets - b0.rxPackets;
    return { offered, delivered, dropPct: seen === 0 ? 0 : Math.round((drops / seen) * 1000) / 10 };
  } finally {
    await d.close();
  }
}

/**
 * measureRemoteVale `runs` times, as a bench row's figures: the run of median delivered
 * rate, with what its sender offered and the share dropped at the receiver's full ring.
 */
export async function remoteValeRow(
  frameBytes: number,
  batch: number,
  runs: number,
  warmupMs: number,
  measureMs: number,
  slots: number,
): Promise<{ mpps: number; offeredMpps: number; dropPct: number }> {
  const remote: RemoteValeRates[] = [];
  for (let i = 0; i < runs; i++)
    remote.push(await measureRemoteVale(frameBytes, batch, warmupMs, measureMs, slots));
  remote.sort((x, y) => x.delivered - y.delivered);
  const mid = remote[remote.length >> 1];
  return { mpps: mid.delivered, offeredMpps: Math.round(mid.offered * 100) / 100, dropPct: mid.dropPct };
}
