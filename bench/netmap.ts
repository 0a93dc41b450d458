/**
 * `pvnet bench netmap`: netmap pipes between two threads (zero copy: slots change hands by
 * swapping buffer indices; the sender stamps a sequence number into each buffer and the
 * receiver checks it), busy-polling both ends as pkt-gen-b does; VALE forwarding (one copy
 * per destination) unicast and broadcast; beside the raw ring figure of `pvnet bench ring`
 * measured in the same run.
 */
import { Worker } from "node:worker_threads";
import { NetmapRegion } from "../src/netmap/mem.js";
import { createPipe, pipeRegionSpec } from "../src/netmap/pipe.js";
import { remoteValeRow } from "./netmapd.js";
import { type BenchOptions, type BenchRow, benchSession, gbpsOf, median } from "./result.js";
import { measureRingPair, sleep } from "./ring-pair.js";
import { measureVale } from "./vale.js";

export async function measurePipe(
  frameBytes: number,
  batch: number,
  warmupMs: number,
  measureMs: number,
): Promise<number> {
  const slots = 1024;
  const spec = pipeRegionSpec(slots);
  const region = new NetmapRegion(1, spec);
  const desc = createPipe(region, "vale0:p", slots);
  const ctl = new SharedArrayBuffer(32);
  const f = new Float64Array(ctl);
  const start = async (master: boolean): Promise<Worker> => {
    const w = new Worker(new URL("./pipe-worker.js", import.meta.url), {
      workerData: { sab: region.mem.buffer, spec, desc, master, frameBytes, batch, ctl },
    });
    await new Promise((r) => w.once("message", r));
    return w;
  };
  const rx = await start(false);
  const tx = await start(true);
  try {
    await sleep(warmupMs);
    const n0 = f[1];
    const t0 = performance.now();
    await sleep(measureMs);
    const mpps = (f[1] - n0) / (performance.now() - t0) / 1000;
    if (f[2] !== 0) throw new Error(`Pipe delivered ${f[2]} packets out of sequence`);
    return mpps;
  } finally {
    Atomics.store(new Int32Array(ctl, 24, 1), 0, 1);
    await Promise.all([tx, rx].map((w) => new Promise((r) => w.once("exit", r))));
  }
}

export async function benchNetmap(opts: BenchOptions = {}): Promise<BenchRow[]> {
  const { runs, warmupMs, measureMs, rows, add } = benchSession(opts);
  for (const frameBytes of [64, 1500]) {
    const ring: number[] = [];
    for (let i = 0; i < runs; i++)
      ring.push((await measureRingPair({ frameBytes, batch: 32 }, warmupMs, measureMs)).tx);
    const base = median(ring);
    add({
      name: "pvnet ring notify (baseline)",
      frameBytes,
      batch: 32,
      mpps: base,
      gbps: gbpsOf(base, frameBytes),
    });
    for (const batch of [32, 256]) {
      const xs: number[] = [];
      for (let i = 0; i < runs; i++) xs.push(await measurePipe(frameBytes, batch, warmupMs, measureMs));
      const mpps = median(xs);
      add({
        name: "netmap pipe (zero copy, poll)",
        frameBytes,
        batch,
        mpps,
        gbps: gbpsOf(mpps, frameBytes),
        xRing: Math.round((mpps / base) * 100) / 100,
      });
    }
    for (const [receivers, name] of [
      [1, "VALE 1 -> 1 (copy, one thread)"],
      [3, "VALE 1 -> 3 broadcast (copy, one thread)"],
    ] as const) {
      const xs: number[] = [];
      for (let i = 0; i < runs; i++) xs.push(measureVale(frameBytes, 256, receivers, warmupMs, measureMs));
      const mpps = median(xs);
      add({
        name,
        frameBytes,
        batch: 256,
        mpps,
        gbps: gbpsOf(mpps, frameBytes),
        xRing: Math.round((mpps / base) * 100) / 100,
      });
    }
    for (const slots of [1024, 4096]) {
      const v = await remoteValeRow(frameBytes, 256, runs, warmupMs, measureMs, slots);
      add({
        name: `VALE 1 -> 1, pkt-gen workers + switch thread, ${slots}-slot rings`,
        frameBytes,
        batch: 256,
        mpps: v.mpps,
        gbps: gbpsOf(v.mpps, frameBytes),
        xRing: Math.round((v.mpps / base) * 100) / 100,
        offeredMpps: v.offeredMpps,
        dropPct: v.dropPct,
      });
    }
  }
  return rows;
}
