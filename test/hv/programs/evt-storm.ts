/**
 * A storming peer for late-eoi-storm.test.ts, in its own thread: dom0's event channels,
 * port 5 bound to dom3's port 9. Once ctl[0] is 1 it storms for `ms` milliseconds, then
 * sets ctl[1] and stores in ctl[2] how many times it fired. `send`: EVTCHN_NOP_send on port
 * 5 as fast as it can (a backend or frontend firing a channel with no work behind it);
 * `forge`: writes dom3's half of the link page directly, every pending and selector bit
 * set and the wake word bumped each time (what no honest sender can do).
 */
import { workerData } from "node:worker_threads";
import { EventChannels, SIDE_PENDING, SIDE_SEL, SIDE_WAKE, sideBase } from "../../../src/hv/evtchn.js";

const {
  ports,
  link,
  ctl: ctlSab,
  mode,
  ms,
} = workerData as {
  ports: SharedArrayBuffer;
  link: SharedArrayBuffer;
  ctl: SharedArrayBuffer;
  mode: "send" | "forge";
  ms: number;
};
const ctl = new Int32Array(ctlSab);
const e0 = new EventChannels(0, ports);
e0.addLink(3, link);
const w = new Int32Array(link);
const base = sideBase(3, 0);
const nap = new Int32Array(new SharedArrayBuffer(4));
for (let i = 0; i < 5000 && Atomics.load(ctl, 0) === 0; i++) Atomics.wait(nap, 0, 0, 1);
let fired = 0;
const end = performance.now() + ms;
while (performance.now() < end) {
  for (let i = 0; i < 64; i++) {
    if (mode === "send") e0.send(5);
    else {
      for (let k = 0; k < 128; k++) Atomics.store(w, base + SIDE_PENDING + k, -1);
      for (let k = 0; k < 4; k++) Atomics.store(w, base + SIDE_SEL + k, -1);
      Atomics.add(w, base + SIDE_WAKE, 1);
      Atomics.notify(w, base + SIDE_WAKE);
    }
    fired++;
  }
}
Atomics.store(ctl, 2, fired);
Atomics.store(ctl, 1, 1);
