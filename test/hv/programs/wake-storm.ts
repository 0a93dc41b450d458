/** Test program for loop-block.test.ts: a peer thread that bumps and notifies domain 3's wake word for `ms`. */
import { parentPort, workerData } from "node:worker_threads";
import { SIDE_WAKE, sideBase } from "../../../src/hv/evtchn.js";

const { link, ms } = workerData as { link: SharedArrayBuffer; ms: number };
const w = new Int32Array(link);
const at = sideBase(3, 0) + SIDE_WAKE;
let bumps = 0;
const end = performance.now() + ms;
while (performance.now() < end) {
  for (let i = 0; i < 64; i++) {
    Atomics.add(w, at, 1);
    Atomics.notify(w, at);
  }
  bumps += 64;
}
parentPort?.postMessage(bumps);
