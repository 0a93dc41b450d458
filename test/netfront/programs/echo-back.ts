/**
 * Domain-0's test backend for netfront: a guest sends `{t:"connect", queues, hostile, ...}`
 * naming its ring grefs and unbound ports; this maps the rings, binds the ports and serves
 * each queue with an EchoQueue (every TX frame back into the RX ring by grant copy).
 * `{t:"release"}` lets held queues run, `{t:"disconnect"}` unmaps and unbinds, `{t:"stats"}`
 * is answered with the echo counts. Hostile variants write bad responses from this worker.
 */
import type { Domain } from "../../../src/hv/domain.js";
import { PAGE_SIZE } from "../../../src/hv/memory.js";
import { EchoQueue, type Hostile } from "../echo-queue.js";
import { SYNC_REWRITTEN, SYNC_SEEN } from "./nf-guest.js";

export interface QueueRefs {
  txRefs: number[];
  rxRefs: number[];
  txPort: number;
  rxPort: number;
}

export interface ConnectMsg {
  t: "connect";
  queues: QueueRefs[];
  hostile?: Hostile;
  hostileAfter?: number;
  hold?: boolean;
  /**
   * Hostile: after each echoed frame, wait (in this worker) until the guest is reading it,
   * then write over its RX pages and say so (words SYNC_SEEN, SYNC_REWRITTEN of nf-guest).
   */
  rewrite?: SharedArrayBuffer;
}

const STAGE_PAGES = 19;

export default async function main(dom: Domain): Promise<void> {
  // Contiguous staging pages: a fresh allocator hands pages out in order.
  const stagePages = dom.pages.allocMany(STAGE_PAGES) as number[];
  for (let i = 1; i < STAGE_PAGES; i++)
    if (stagePages[i] !== stagePages[0] + i) throw new Error("staging pages are not contiguous");
  const stage = stagePages[0] * PAGE_SIZE;
  let queues: { echo: EchoQueue; tx: number; rx: number }[] = [];
  let sync: Int32Array | null = null;

  const serve = (q: { echo: EchoQueue; tx: number; rx: number }): void => {
    const before = q.echo.stats.frames;
    const n = q.echo.step();
    // One channel serving both rings is notified once.
    if (n & 1) dom.evtchn.send(q.tx);
    if (n & 2 && !(q.rx === q.tx && n & 1)) dom.evtchn.send(q.rx);
    const frames = q.echo.stats.frames;
    if (sync === null || frames === before) return;
    const t0 = Date.now();
    for (;;) {
      const seen = Atomics.load(sync, SYNC_SEEN);
      if (seen >= frames || Date.now() - t0 > 2000) break;
      Atomics.wait(sync, SYNC_SEEN, seen, 100);
    }
    q.echo.rewriteLastRx(dom.memory.mem, 0xee);
    Atomics.store(sync, SYNC_REWRITTEN, frames);
    Atomics.notify(sync, SYNC_REWRITTEN);
  };

  dom.onMessage(async (from, data) => {
    const m = data as { t: string };
    if (m.t === "connect") {
      const c = data as ConnectMsg;
      if (c.rewrite !== undefined) sync = new Int32Array(c.rewrite);
      for (const qr of c.queues) {
        const echo = new EchoQueue(dom.gnt, from, qr.txRefs, qr.rxRefs, stage, {
          hostile: c.hostile,
          hostileAfter: c.hostileAfter,
          hold: c.hold,
        });
        const tx = await dom.evtchnBindInterdomain(from, qr.txPort);
        const rx = qr.rxPort === qr.txPort ? tx : await dom.evtchnBindInterdomain(from, qr.rxPort);
        const q = { echo, tx, rx };
        queues.push(q);
        dom.evtchn.on(tx, () => serve(q));
        if (rx !== tx) dom.evtchn.on(rx, () => serve(q));
      }
      dom.post(from, { t: "connected" });
    } else if (m.t === "release") {
      for (const q of queues) {
        q.echo.hold = false;
        serve(q);
      }
    } else if (m.t === "stats") {
      dom.post(from, { t: "stats", stats: queues.map((q) => q.echo.stats) });
    } else if (m.t === "disconnect") {
      for (const q of queues) {
        q.echo.close();
        await dom.evtchnClose(q.tx);
        if (q.rx !== q.tx) await dom.evtchnClose(q.rx);
      }
      queues = [];
      dom.post(from, { t: "disconnected", liveMappings: dom.gnt.liveMappings });
    }
  });
}
