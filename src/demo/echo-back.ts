/**
 * Domain 0's delivery side of the echo demo, netback's RX path: frames held in Domain-0's
 * own pages are copied into buffers the guest posted on its RX ring with one batched grant
 * copy per batch (gnttab_copy, source by local frame, destination by the guest's gref), and
 * each consumed request is answered in its slot with the byte count or, if the copy failed,
 * the GNTST_* status. Frames that find no posted buffer are dropped and counted.
 */
import type { Counters } from "../base/counters.js";
import type { Domain } from "../hv/domain.js";
import { PAGE_SHIFT, PAGE_SIZE } from "../hv/memory.js";
import type { BackRing } from "../ring/back.js";
import { privateMem } from "../wire/mem.js";
import {
  DOMID_SELF,
  GNTCOPY_dest_gref,
  GNTST_okay,
  GNTTAB_COPY_SIZE,
  gcopyStatus,
  gcopyWrite,
} from "../wire/xen/grant.js";
import { NETIF_RX_ENTRY_SIZE, rxReqGref, rxReqId, rxRspWrite } from "../wire/xen/netif.js";
import type { BackCounter } from "./ring-proto.js";

export class EchoDelivery {
  readonly #dom: Domain;
  readonly #guest: number;
  readonly #ring: BackRing;
  readonly #c: Counters<BackCounter>;
  readonly #ops;
  readonly #req;
  readonly #off: Int32Array;
  readonly #len: Int32Array;
  #n = 0;

  constructor(dom: Domain, guest: number, ring: BackRing, c: Counters<BackCounter>, maxBatch: number) {
    this.#dom = dom;
    this.#guest = guest;
    this.#ring = ring;
    this.#c = c;
    this.#ops = privateMem(maxBatch * GNTTAB_COPY_SIZE);
    this.#req = privateMem(maxBatch * NETIF_RX_ENTRY_SIZE);
    this.#off = new Int32Array(maxBatch);
    this.#len = new Int32Array(maxBatch);
  }

  /** Queues a frame at byte `off` of Domain-0's memory; it must stay there until `flush`. */
  queue(off: number, len: number): void {
    this.#off[this.#n] = off;
    this.#len[this.#n] = len;
    this.#n++;
  }

  /**
   * Delivers the queued frames; returns whether the guest must be notified, or a negative
   * ring error when its RX ring is broken.
   */
  flush(): number {
    const queued = this.#n;
    this.#n = 0;
    if (queued === 0) return 0;
    const ring = this.#ring;
    const got = ring.copyRequests(this.#req, 0, queued);
    if (got < 0) return got;
    const f = this.#c.f64;
    f[this.#c.slot("echoDropped")] += queued - got;
    if (got === 0) return 0;
    const ops = this.#ops;
    for (let i = 0; i < got; i++) {
      const off = this.#off[i];
      gcopyWrite(
        ops,
        i * GNTTAB_COPY_SIZE,
        off >>> PAGE_SHIFT,
        DOMID_SELF,
        off & (PAGE_SIZE - 1),
        rxReqGref(this.#req, i * NETIF_RX_ENTRY_SIZE),
        this.#guest,
        0,
        this.#len[i],
        GNTCOPY_dest_gref,
      );
    }
    f[this.#c.slot("copyErrors")] += this.#dom.gnt.copy(ops, 0, got);
    for (let i = 0; i < got; i++) {
      const st = gcopyStatus(ops, i * GNTTAB_COPY_SIZE);
      const r = ring.beginResponse();
      rxRspWrite(
        ring.wmem,
        r,
        rxReqId(this.#req, i * NETIF_RX_ENTRY_SIZE),
        0,
        0,
        st === GNTST_okay ? this.#len[i] : st,
      );
      ring.endResponse();
    }
    f[this.#c.slot("echoed")] += got;
    return ring.pushResponsesAndCheckNotify() ? 1 : 0;
  }
}
