/**
 * A hostile thread for the netmap and VALE tests: it holds a region's memory (as a pipe
 * peer, a remote VALE user or a monitor's user does) and rewrites 32-bit words in it as
 * fast as it can until told to stop. Each group names words (Uint32 indices into `sab`) and
 * the values to write there: a `sweep` group writes every one of its words each pass,
 * cycling through its values (a slot's len flipping under the kernel side's feet); the
 * others get one word from a seeded random pick per pass. Posts how many writes it made.
 */
import { parentPort, workerData } from "node:worker_threads";

export interface ScribbleGroup {
  words: number[];
  values: number[];
  sweep?: boolean;
}

export interface ScribblerData {
  sab: SharedArrayBuffer;
  groups: ScribbleGroup[];
  /** Int32 flag at index 0: the main thread sets it to 1 to stop. */
  stop: SharedArrayBuffer;
  seed?: number;
}

const { sab, groups, stop, seed } = workerData as ScribblerData;
const u32 = new Uint32Array(sab);
const flag = new Int32Array(stop);
let x = seed ?? 0x9e3779b9;
const rand = (n: number): number => {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return (x >>> 0) % n;
};

parentPort?.postMessage({ ready: true });
let writes = 0;
for (let pass = 0; Atomics.load(flag, 0) === 0; pass++) {
  for (const g of groups) {
    if (g.sweep === true) {
      for (let j = 0; j < g.words.length; j++) u32[g.words[j]] = g.values[(pass + j) % g.values.length];
      writes += g.words.length;
    } else {
      u32[g.words[rand(g.words.length)]] = g.values[rand(g.values.length)];
      writes++;
    }
  }
}
parentPort?.postMessage({ writes });
