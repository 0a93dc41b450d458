/**
 * The sending side of loop.test.ts, in its own thread: dom0's event channels, port 5 bound
 * to dom3's port 9. Control words (Int32 in `ctl`): [0] go, [2] events dom3 handled
 * (written by the test), [3] dom3's SIDE_SLEEPING 10 ms after it handled the first event,
 * [4] [5] [7] our wake-up count after the second, third and first send, [6] done.
 */
import { workerData } from "node:worker_threads";
import { EventChannels, SIDE_SLEEPING, sideBase } from "../../../src/hv/evtchn.js";

const {
  ports,
  link,
  ctl: ctlSab,
} = workerData as {
  ports: SharedArrayBuffer;
  link: SharedArrayBuffer;
  ctl: SharedArrayBuffer;
};
const ctl = new Int32Array(ctlSab);
const e0 = new EventChannels(0, ports);
e0.addLink(3, link);
const w = new Int32Array(link);
const sleeping = sideBase(3, 0) + SIDE_SLEEPING;
const nap = new Int32Array(new SharedArrayBuffer(4));

function until(pred: () => boolean, ms: number): void {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) Atomics.wait(nap, 0, 0, 1);
}

until(() => Atomics.load(ctl, 0) === 1, 5000);
e0.send(5);
Atomics.store(ctl, 7, e0.stats.wakes);
until(() => Atomics.load(ctl, 2) >= 1, 5000);
Atomics.wait(nap, 0, 0, 10);
Atomics.store(ctl, 3, Atomics.load(w, sleeping));
e0.send(5);
Atomics.store(ctl, 4, e0.stats.wakes);
until(() => Atomics.load(ctl, 2) >= 2, 5000);
until(() => Atomics.load(w, sleeping) === 1, 5000);
e0.send(5);
Atomics.store(ctl, 5, e0.stats.wakes);
Atomics.store(ctl, 6, 1);
