/**
 * A sender for loop.test.ts's adaptive-mode tests, in its own thread: dom0's port 5 bound
 * to dom3's 9. It sends `count` events, each once dom3 handled the one before (ctl[2],
 * written by the test) and `gapUs` later, then stores its wake-up count in ctl[4] and sets
 * ctl[6]. Gaps under a millisecond are spun, longer ones slept.
 */
import { workerData } from "node:worker_threads";
import { EventChannels } from "../../../src/hv/evtchn.js";

const {
  ports,
  link,
  ctl: ctlSab,
  count,
  gapUs,
} = workerData as {
  ports: SharedArrayBuffer;
  link: SharedArrayBuffer;
  ctl: SharedArrayBuffer;
  count: number;
  gapUs: number;
};
const ctl = new Int32Array(ctlSab);
const e0 = new EventChannels(0, ports);
e0.addLink(3, link);
const nap = new Int32Array(new SharedArrayBuffer(4));

for (let i = 0; i < count; i++) {
  const end = Date.now() + 10_000;
  while (Atomics.load(ctl, 2) < i && Date.now() < end) {}
  if (gapUs >= 1000) Atomics.wait(nap, 0, 0, gapUs / 1000);
  else {
    const until = performance.now() + gapUs / 1000;
    while (performance.now() < until) {}
  }
  e0.send(5);
}
Atomics.store(ctl, 4, e0.stats.wakes);
Atomics.store(ctl, 6, 1);
