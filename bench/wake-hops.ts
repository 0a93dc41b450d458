/**
 * The raw four-hop wake-up path a ping between two guests takes (guest1 -> Domain-0 ->
 * guest2 -> Domain-0 -> guest1), with nothing but the wake-ups: three threads pass a token
 * through SharedArrayBuffer words with one wait primitive. `wait`: every thread blocks in
 * Atomics.wait; `waitAsync`: every thread awaits Atomics.waitAsync (pvnet's `notify` loop);
 * `spin`: the middle thread (Domain-0's stand-in) spins, the ends block in Atomics.wait.
 * The ping row's targets are ratios of these.
 */
import { Worker } from "node:worker_threads";
import * as hdr from "hdr-histogram-js";
import type { BenchRow } from "./result.js";
import { HOP_A, HOP_B, HOP_BYTES, HOP_C, type HopArgs, type HopPrimitive } from "./wake-hops-proto.js";

const PRIM_NAME: Record<HopPrimitive, string> = {
  wait: "Atomics.wait",
  waitAsync: "waitAsync",
  spin: "spin",
};
export const HOP_PRIMITIVES: readonly HopPrimitive[] = ["wait", "waitAsync", "spin"];

/** Round trips A -> B -> C -> B -> A: p50/p99/max in µs, as the ping row reports them. */
export async function measureWakeHops(prim: HopPrimitive, pings: number, warm = 200): Promise<BenchRow> {
  const words = new SharedArrayBuffer(HOP_BYTES);
  const rtts = new SharedArrayBuffer(pings * 8);
  const url = new URL("./wake-hops-worker.js", import.meta.url);
  const workers = [HOP_C, HOP_B, HOP_A].map(
    (role) => new Worker(url, { workerData: { words, rtts, role, prim, pings, warm } satisfies HopArgs }),
  );
  try {
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            w.once("message", () => resolve());
            w.once("error", reject);
            w.once("exit", () => reject(new Error("a wake-up baseline thread exited early")));
          }),
      ),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  const h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 10_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const r = new Float64Array(rtts);
  for (let i = 0; i < pings; i++) h.recordValue(Math.max(1, Math.round(r[i])));
  return {
    name: `baseline: four-hop wake-up (${PRIM_NAME[prim]})`,
    frameBytes: 0,
    batch: 1,
    mpps: 0,
    gbps: 0,
    noRate: true,
    pings,
    p50us: Math.min(h.getValueAtPercentile(50), h.maxValue),
    p99us: Math.min(h.getValueAtPercentile(99), h.maxValue),
    maxUs: h.maxValue,
  };
}
