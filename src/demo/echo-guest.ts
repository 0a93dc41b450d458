/**
 * The guest's receive side of the echo demo: an RX ring with one posted page per slot, each
 * granted read-write to domain 0, as netfront posts rx requests. Responses arrive in the
 * slot of their request; each buffer is checked and posted again at once.
 */
import type { Counters } from "../base/counters.js";
import type { Domain } from "../hv/domain.js";
import { PAGE_SIZE } from "../hv/memory.js";
import { RingArea } from "../ring/area.js";
import { ringErrorText } from "../ring/errors.js";
import { FrontRing } from "../ring/front.js";
import { privateMem } from "../wire/mem.js";
import { NETIF_RX_ENTRY_SIZE, rxReqWrite, rxRspId, rxRspStatus } from "../wire/xen/netif.js";
import { type GuestCounter, SEQ_OFF } from "./ring-proto.js";

export interface GuestRx {
  readonly ringRefs: number[];
  /** Consumes responses and re-posts buffers; calls `notify` when the backend asked for it. */
  receive(notify: () => void): void;
}

export function guestRx(
  dom: Domain,
  order: number,
  verify: boolean,
  c: Counters<GuestCounter>,
  take: (n: number) => number[],
): GuestRx {
  const mem = dom.memory.mem;
  const pages = take(1 << order);
  const ringRefs = pages.map((p) => dom.grants.grantAccess(0, p, false));
  const front = FrontRing.init(
    new RingArea(
      mem,
      pages.map((p) => p * PAGE_SIZE),
      NETIF_RX_ENTRY_SIZE,
    ),
  );
  const n = front.nrEnts;
  const bufPages = take(n);
  const bufRefs = bufPages.map((p) => dom.grants.grantAccess(0, p, false));
  const post = (id: number): void => {
    const at = front.beginRequest();
    rxReqWrite(front.wmem, at, id, bufRefs[id]);
    front.endRequest();
  };
  for (let id = 0; id < n; id++) post(id);
  front.pushRequests();

  const rsp = privateMem(64 * NETIF_RX_ENTRY_SIZE);
  const f = c.f64;
  const cRx = c.slot("rxFrames");
  const cRxB = c.slot("rxBytes");
  const cSeq = c.slot("rxSeqErrors");
  const cErr = c.slot("rxErrors");
  const cSkip = c.slot("rxSkipped");
  const dv = mem.dv;
  let expect = 0;
  let broken = false;

  const receive = (notify: () => void): void => {
    while (!broken) {
      const first = front.rspCons;
      const k = front.copyResponses(rsp, 0, 64);
      if (k < 0) {
        broken = true;
        c.add("protoErrors");
        process.stderr.write(`dom${dom.domid}: backend broke the RX ring (${ringErrorText(k)}); disabled\n`);
        return;
      }
      if (k === 0) {
        if (front.finalCheckForResponses()) continue;
        return;
      }
      for (let i = 0; i < k; i++) {
        const at = i * NETIF_RX_ENTRY_SIZE;
        // The response sits in its request's slot; the id is only a cross-check.
        const id = (first + i) & (n - 1);
        const status = rxRspStatus(rsp, at);
        if (rxRspId(rsp, at) !== id || status <= 0 || status > PAGE_SIZE) f[cErr]++;
        else {
          if (verify) {
            // Frames the backend dropped leave gaps; only a step back is an error.
            const seq = dv.getUint32(bufPages[id] * PAGE_SIZE + SEQ_OFF);
            const step = (seq - expect) | 0;
            if (step < 0) f[cSeq]++;
            else f[cSkip] += step;
            expect = (seq + 1) >>> 0;
          }
          f[cRx]++;
          f[cRxB] += status;
        }
        post(id);
      }
      if (front.pushRequestsAndCheckNotify()) notify();
    }
  };
  return { ringRefs, receive };
}
