/**
 * The backend's end of a shared ring (io/ring.h BACK_RING_*): it consumes requests and
 * produces responses. The frontend is hostile: its producer index is checked against the
 * ring size before anything is consumed (RING_ERR_REQ_PROD, never a crash or an endless
 * loop), and each request is copied once into private memory before the caller looks at
 * it (RING_COPY_REQUEST: the guest may rewrite the slot at any moment).
 */
import { assert } from "../base/assert.js";
import type { Mem } from "../wire/mem.js";
import { SRING_REQ_PROD, SRING_RSP_PROD } from "../wire/xen/sring.js";
import type { RingArea } from "./area.js";
import { RING_ERR_REQ_PROD } from "./errors.js";
import { ReqCursor } from "./req-cursor.js";
import { copySlots, publish, RingEnd } from "./slots.js";

export class BackRing extends RingEnd {
  readonly #req: ReqCursor;
  #rspProdPvt: number;

  /**
   * BACK_RING_ATTACH at the ring's current `rsp_prod` (as Linux netback maps a ring), or
   * RING_ERR_REQ_PROD when the frontend already claims more requests than fit.
   */
  static attach(area: RingArea): BackRing | number {
    const u32 = area.mem.u32;
    const rsp = Atomics.load(u32, (area.hdr + SRING_RSP_PROD) >>> 2);
    const req = Atomics.load(u32, (area.hdr + SRING_REQ_PROD) >>> 2);
    if ((req - rsp) >>> 0 > area.nrEnts) return RING_ERR_REQ_PROD;
    return new BackRing(area, rsp);
  }

  private constructor(area: RingArea, start: number) {
    super(area, start);
    this.#req = new ReqCursor(this.u32, this.reqProdI, this.nrEnts, start);
    this.#rspProdPvt = start;
  }

  get reqCons(): number {
    return this.#req.cons;
  }

  get rspProdPvt(): number {
    return this.#rspProdPvt;
  }

  /**
   * Requests ready to consume (RING_UNCONSUMED_REQUESTS: never more than the slots whose
   * responses are already out), or RING_ERR_REQ_PROD when `req_prod` claims more
   * unanswered requests than the ring holds (RING_REQUEST_PROD_OVERFLOW) or moved back.
   */
  unconsumedRequests(): number {
    return this.#req.unconsumed(this.#rspProdPvt);
  }

  /**
   * Copies up to `max` requests into private memory at `at` (entrySize bytes each) and
   * consumes them; returns how many, or RING_ERR_REQ_PROD. Request k of the batch is ring
   * index `reqCons` (before the call) + k.
   */
  copyRequests(dst: Mem, at: number, max: number): number {
    const first = this.#req.cons;
    const n = this.#req.take(max, this.#rspProdPvt);
    if (n > 0) copySlots(this.area, first, n, dst, at);
    return n;
  }

  /** Starts the next response: the byte offset to write it at, in `wmem`. */
  beginResponse(): number {
    assert(this.#rspProdPvt !== this.#req.cons, "response produced for a request not yet consumed");
    return this.writer.begin(this.#rspProdPvt & this.mask);
  }

  /**
   * Starts and ends the next response in one step, for a run of responses written straight
   * into the ring (no stage, no `wmem` per slot): the byte offset in `area.mem` to write it
   * at, or -1, with nothing produced, when its slot straddles two pages (then it takes
   * beginResponse/endResponse). Ring order is kept: the caller writes the slot before it
   * starts the next.
   */
  directResponse(): number {
    const p = this.#rspProdPvt;
    assert(p !== this.#req.cons, "response produced for a request not yet consumed");
    const off = this.area.slotOff[p & this.mask];
    if (off >= 0) this.#rspProdPvt = (p + 1) >>> 0;
    return off;
  }

  endResponse(): void {
    this.writer.end();
    this.#rspProdPvt = (this.#rspProdPvt + 1) >>> 0;
  }

  /** Responses produced but not yet pushed. */
  get unpushedResponses(): number {
    return (this.#rspProdPvt - this.pushed) >>> 0;
  }

  pushResponses(): void {
    Atomics.store(this.u32, this.rspProdI, this.#rspProdPvt);
    this.pushed = this.#rspProdPvt;
  }

  /** RING_PUSH_RESPONSES_AND_CHECK_NOTIFY: whether `rsp_event` lies in (old, new]. */
  pushResponsesAndCheckNotify(): boolean {
    const old = this.pushed;
    this.pushed = this.#rspProdPvt;
    return publish(this.u32, this.rspProdI, this.rspEventI, old, this.#rspProdPvt);
  }

  /**
   * RING_FINAL_CHECK_FOR_REQUESTS: if nothing is left, asks to be notified at the next
   * request and looks once more. True means work (or a protocol error to report).
   */
  finalCheckForRequests(): boolean {
    if (this.unconsumedRequests() !== 0) return true;
    Atomics.store(this.u32, this.reqEventI, (this.#req.cons + 1) >>> 0);
    return this.unconsumedRequests() !== 0;
  }

  /** Asks to be notified only once the request producer passes `idx` (batched wake-ups). */
  setReqEvent(idx: number): void {
    Atomics.store(this.u32, this.reqEventI, idx >>> 0);
  }
}
