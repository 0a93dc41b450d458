/**
 * `pvnet bench ring`: frames written by a guest into its granted buffers and copied out by
 * the driver domain over a netif TX ring (event-driven notify mode, and poll mode), plus the
 * round trip back over the guest's RX ring with batched grant copies ("echo"), beside
 * the baselines measured in the same run: the same ring in C (the ceiling) and worker
 * postMessage, one frame per message and in packed or transferred batches (what a Node
 * user would otherwise pick).
 */

import type { LoopMode } from "../src/hv/loop.js";
import { runPostMessage } from "./baselines/postmessage.js";
import { runRefRing } from "./ref/ring-ref.js";
import { type BenchOptions, type BenchRow, benchSession, gbpsOf, median } from "./result.js";
import { measureRingPair } from "./ring-pair.js";

const FRAMES = [64, 1500] as const;
const BATCHES = [1, 32, 256] as const;

export async function benchRing(opts: BenchOptions = {}): Promise<BenchRow[]> {
  const { runs, warmupMs, measureMs, rows, add } = benchSession(opts);
  const pvnet = async (mode: LoopMode, frameBytes: number, batch: number, echo = false): Promise<void> => {
    const tx: number[] = [];
    const rx: number[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await measureRingPair({ frameBytes, batch, mode, echo }, warmupMs, measureMs);
      tx.push(r.tx);
      rx.push(r.rx);
    }
    // An echo row counts frames that made the round trip (guest -> Domain-0 -> guest).
    const mpps = median(echo ? rx : tx);
    add({
      name: `pvnet ${echo ? "echo" : "ring"} ${mode}`,
      frameBytes,
      batch,
      mpps,
      gbps: gbpsOf(mpps, frameBytes),
    });
  };
  for (const frameBytes of FRAMES) {
    for (const batch of BATCHES) await pvnet("notify", frameBytes, batch);
    await pvnet("poll", frameBytes, 32);
    await pvnet("notify", frameBytes, 32, true);
    await pvnet("hybrid", frameBytes, 32, true);
    for (const batch of BATCHES) {
      add(await runRefRing({ mode: "notify", frameBytes, batch, warmupMs, measureMs, runs }));
      add(await runRefRing({ mode: "spin", frameBytes, batch, warmupMs, measureMs, runs }));
    }
    add(await runPostMessage({ variant: "frame", frameBytes, batch: 1, warmupMs, measureMs, runs }));
    for (const batch of [32, 256]) {
      add(await runPostMessage({ variant: "packed", frameBytes, batch, warmupMs, measureMs, runs }));
      add(await runPostMessage({ variant: "transfer", frameBytes, batch, warmupMs, measureMs, runs }));
    }
  }
  addRatios(rows);
  return rows;
}

/**
 * Ratios on pvnet's rows, against rows of the same run: the C ring in the same mode
 * (notify against C notify, poll against C spin) at the same frame size and batch;
 * one-frame-per-message postMessage; and the best batched postMessage at that frame size.
 */
function addRatios(rows: BenchRow[]): void {
  const find = (name: string, frameBytes: number, batch?: number) =>
    rows.find(
      (r) => r.name === name && r.frameBytes === frameBytes && (batch === undefined || r.batch === batch),
    );
  for (const r of rows) {
    if (!r.name.startsWith("pvnet ring")) continue;
    const c = find(r.name.endsWith("poll") ? "C ring spin" : "C ring notify", r.frameBytes, r.batch);
    if (c !== undefined && !c.skipped && c.mpps > 0) r.xC = round(r.mpps / c.mpps);
    const pm = find("postMessage frame", r.frameBytes);
    if (pm !== undefined && pm.mpps > 0) r.xPostMessage = round(r.mpps / pm.mpps);
    const batched = rows.filter(
      (x) =>
        (x.name === "postMessage packed" || x.name === "postMessage transfer") &&
        x.frameBytes === r.frameBytes,
    );
    const best = Math.max(0, ...batched.map((x) => x.mpps));
    if (best > 0) r.xBestBatched = round(r.mpps / best);
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
