/**
 * The demo's guest (frontend side): grants a TX ring of 2^order pages and a pool of frame
 * buffers to domain 0, and transmits frames as fast as the ring allows, one index publish
 * and at most one notification per batch. When the ring is full it asks to be woken only
 * once a quarter of the ring has been answered (lazy completions, as netmap's NS_REPORT),
 * so producer and consumer do not run in lockstep.
 */
import type { Domain } from "../hv/domain.js";
import { PAGE_SIZE } from "../hv/memory.js";
import { RingArea } from "../ring/area.js";
import { ringErrorText } from "../ring/errors.js";
import { FrontRing } from "../ring/front.js";
import { copyBytes } from "../wire/copy.js";
import { privateMem } from "../wire/mem.js";
import { NETIF_RSP_OKAY, NETIF_TX_ENTRY_SIZE, txReqWrite, txRspId, txRspStatus } from "../wire/xen/netif.js";
import { guestRx } from "./echo-guest.js";
import { demoFrame } from "./frame.js";
import {
  BUF_SIZE,
  type ConnectMsg,
  type DoneReport,
  guestCounters,
  type LeavingMsg,
  type RingPairArgs,
  SEQ_OFF,
} from "./ring-proto.js";

export default async function main(dom: Domain, raw: unknown): Promise<void> {
  const a = raw as RingPairArgs;
  const c = guestCounters(a.guestCounters);
  const cTx = c.slot("txFrames");
  const cTxB = c.slot("txBytes");
  const cRsp = c.slot("responses");
  const cRspErr = c.slot("rspErrors");
  const cNotify = c.slot("notifies");
  const f = c.f64;
  const mem = dom.memory.mem;

  const ringPages = take(dom, 1 << a.order);
  const ringRefs = ringPages.map((p) => dom.grants.grantAccess(0, p, false));
  const area = new RingArea(
    mem,
    ringPages.map((p) => p * PAGE_SIZE),
    NETIF_TX_ENTRY_SIZE,
  );
  const front = FrontRing.init(area);
  const mask = area.nrEnts - 1;

  // One buffer per ring slot, two per page, granted read-only: the backend only reads them.
  const nBufs = area.nrEnts;
  const bufPages = take(dom, nBufs / 2);
  const bufRefs = bufPages.map((p) => dom.grants.grantAccess(0, p, true));
  const bufOff = new Int32Array(nBufs);
  const bufRef = new Int32Array(nBufs);
  for (let i = 0; i < nBufs; i++) {
    bufOff[i] = bufPages[i >> 1] * PAGE_SIZE + (i & 1) * BUF_SIZE;
    bufRef[i] = bufRefs[i >> 1];
  }
  // The frame template sits in our own memory so filling a buffer is a copy within one SAB.
  const tplOff = take(dom, 1)[0] * PAGE_SIZE;
  const len = a.frameBytes;
  mem.u8.set(demoFrame(len), tplOff);

  const rx = a.echo ? guestRx(dom, a.order, a.verify, c, (n) => take(dom, n)) : null;
  const port = await dom.evtchnAllocUnbound(0);
  const rsp = privateMem(64 * NETIF_TX_ENTRY_SIZE);
  const dv = mem.dv;
  const lazy = Math.max(a.batch, area.nrEnts >>> 2);
  let seq = 0;
  let sinceRx = 0;
  const rxEvery = area.nrEnts >>> 1;
  let broken = false;
  let done = false;

  const reap = (): void => {
    for (;;) {
      const first = front.rspCons;
      const n = front.copyResponses(rsp, 0, 64);
      if (n < 0) {
        c.add("protoErrors");
        broken = true;
        process.stderr.write(`dom${dom.domid}: backend broke the ring (${ringErrorText(n)}); disabled\n`);
        return;
      }
      if (n === 0) return;
      for (let i = 0; i < n; i++) {
        const at = i * NETIF_TX_ENTRY_SIZE;
        if (txRspId(rsp, at) !== ((first + i) & mask) || txRspStatus(rsp, at) !== NETIF_RSP_OKAY)
          f[cRspErr]++;
      }
      f[cRsp] += n;
    }
  };

  const finished = (): boolean => a.count > 0 && seq >= a.count;

  const produce = (): void => {
    if (broken || done) return;
    let budget = a.budget;
    for (;;) {
      // Completions are collected lazily: reading rsp_prod pulls the header's cache line
      // over from the backend's core.
      if (front.freeRequests() < a.batch) reap();
      if (broken) return;
      if (finished()) {
        reap();
        if (front.freeRequests() === front.nrEnts) {
          done = true;
          dom.report({ t: "done", side: "guest" } satisfies DoneReport);
          return;
        }
        if (!front.finalCheckForResponses()) return;
        continue;
      }
      const room = front.freeRequests();
      if (room === 0) {
        front.setRspEvent(front.rspCons + lazy);
        if (front.unconsumedResponses() === 0) return;
        continue;
      }
      let n = Math.min(room, a.batch);
      if (a.count > 0 && a.count - seq < n) n = a.count - seq;
      for (let i = 0; i < n; i++) {
        const id = front.reqProdPvt & mask;
        const off = bufOff[id];
        copyBytes(mem, off, mem, tplOff, len);
        dv.setUint32(off + SEQ_OFF, seq);
        seq = (seq + 1) >>> 0;
        const at = front.beginRequest();
        txReqWrite(front.wmem, at, bufRef[id], off & (PAGE_SIZE - 1), 0, id, len);
        front.endRequest();
      }
      // Counted before they are published, so Domain-0 never shows more than was sent.
      f[cTx] += n;
      f[cTxB] += n * len;
      if (front.pushRequestsAndCheckNotify()) {
        dom.evtchn.send(port);
        f[cNotify]++;
      }
      budget -= n;
      if (budget <= 0) {
        dom.loop.defer(turn);
        return;
      }
      // Echoes land in the RX ring while we send: take them (and repost the buffers) once a
      // ring's worth may have arrived, or Domain-0 finds no buffer and drops the frame.
      if (rx !== null && (sinceRx += n) >= rxEvery) {
        sinceRx = 0;
        rx.receive(notifyBack);
      }
    }
  };

  function turn(): void {
    sinceRx = 0;
    rx?.receive(notifyBack);
    produce();
  }

  const notifyBack = (): void => {
    dom.evtchn.send(port);
    f[cNotify]++;
  };
  // One channel for both rings, as without feature-split-event-channels.
  dom.evtchn.on(port, turn);
  dom.onMessage((from, data) => {
    const m = data as { t?: string; reason?: string };
    if (from !== 0) return;
    if (m.t === "connected") dom.loop.defer(produce);
    else if (m.t === "refused") process.stderr.write(`dom${dom.domid}: backend refused: ${m.reason}\n`);
  });
  dom.post(0, { t: "connect", ringRefs, bufRefs, rxRingRefs: rx?.ringRefs ?? [], port } satisfies ConnectMsg);
  // Said before our channel closes with us, so the backend knows this is no failure.
  dom.onShutdown(() => dom.post(0, { t: "leaving" } satisfies LeavingMsg));
}

function take(dom: Domain, n: number): number[] {
  const pages = dom.pages.allocMany(n);
  if (pages === null) throw new RangeError(`Domain ${dom.domid} is out of memory: ${n} pages wanted`);
  return pages;
}
