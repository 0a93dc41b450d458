/**
 * Test program for loop-block.test.ts: domain 3's event loop in `block` mode, alone in its
 * worker thread (Atomics.wait sleeps the whole thread), with a one-hour cap on a sleep so
 * that only the bell and the next timer can end one. It echoes every event on port 9,
 * answers messages (the test rings the bell after each, as the machine does), arms timers
 * on request and reports when they fire.
 */
import { parentPort, workerData } from "node:worker_threads";
import { EventChannels } from "../../../src/hv/evtchn.js";
import { EventLoop } from "../../../src/hv/loop.js";
import { NodeTimers } from "../../../src/hv/timer.js";

export interface BlockLoopInit {
  ports: SharedArrayBuffer;
  link: SharedArrayBuffer;
  bell: SharedArrayBuffer;
  /** [0] events handled */
  ctl: SharedArrayBuffer;
}

export type BlockLoopMsg =
  | { t: "ping"; i: number }
  | { t: "timer"; ms: number }
  | { t: "stats" }
  | { t: "stop" };

const init = workerData as BlockLoopInit;
const port = parentPort!;
const ctl = new Int32Array(init.ctl);
const timers = new NodeTimers();
const ev = new EventChannels(3, init.ports, { timers });
ev.addLink(0, init.link);
const loop = new EventLoop(ev, {
  mode: "block",
  bell: new Int32Array(init.bell),
  nextTimerMs: () => timers.nextDueMs(),
  blockMaxMs: 3_600_000,
});
ev.on(9, () => {
  Atomics.add(ctl, 0, 1);
  ev.send(9);
});
port.on("message", (m: BlockLoopMsg) => {
  switch (m.t) {
    case "ping":
      port.postMessage({ t: "pong", i: m.i });
      return;
    case "timer": {
      const t0 = performance.now();
      timers.after(m.ms, () => port.postMessage({ t: "fired", lateMs: performance.now() - t0 - m.ms }));
      return;
    }
    case "stats":
      port.postMessage({ t: "stats", wakeups: loop.wakeups, sidePauses: loop.sidePauses, mode: loop.mode });
      return;
    case "stop":
      loop.stop();
      timers.cancelAll();
      port.close();
      return;
  }
});
void loop.start();
port.postMessage({ t: "ready" });
