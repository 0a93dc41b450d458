/**
 * The frontend's end of a shared ring (io/ring.h FRONT_RING_*): it produces requests and
 * consumes responses. Private indices `reqProdPvt` and `rspCons` never leave this object;
 * the shared `req_prod` is published once per batch and the caller is told whether the
 * backend asked to be woken (`req_event`), so it notifies at most once per batch.
 * The backend is not trusted either: a response producer index that runs ahead of what was
 * pushed is reported as RING_ERR_RSP_PROD, and responses are copied out before use.
 */
import { assert } from "../base/assert.js";
import type { Mem } from "../wire/mem.js";
import {
  SRING_REQ_EVENT,
  SRING_REQ_PROD,
  SRING_RSP_EVENT,
  SRING_RSP_PROD,
  sringInit,
} from "../wire/xen/sring.js";
import type { RingArea } from "./area.js";
import { RING_ERR_RSP_PROD } from "./errors.js";
import { copySlots, publish, RingEnd } from "./slots.js";

export class FrontRing extends RingEnd {
  #reqProdPvt: number;
  #rspCons: number;

  /** SHARED_RING_INIT + FRONT_RING_INIT. `start` (tests) begins every index there. */
  static init(area: RingArea, start = 0): FrontRing {
    sringInit(area.mem, area.hdr);
    if (start !== 0) {
      const u32 = area.mem.u32;
      Atomics.store(u32, (area.hdr + SRING_REQ_PROD) >>> 2, start >>> 0);
      Atomics.store(u32, (area.hdr + SRING_RSP_PROD) >>> 2, start >>> 0);
      Atomics.store(u32, (area.hdr + SRING_REQ_EVENT) >>> 2, (start + 1) >>> 0);
      Atomics.store(u32, (area.hdr + SRING_RSP_EVENT) >>> 2, (start + 1) >>> 0);
    }
    return new FrontRing(area, start >>> 0);
  }

  private constructor(area: RingArea, start: number) {
    super(area, start);
    this.#reqProdPvt = start;
    this.#rspCons = start;
  }

  get reqProdPvt(): number {
    return this.#reqProdPvt;
  }

  get rspCons(): number {
    return this.#rspCons;
  }

  /** RING_FREE_REQUESTS. */
  freeRequests(): number {
    return this.nrEnts - ((this.#reqProdPvt - this.#rspCons) >>> 0);
  }

  /** RING_FULL. */
  isFull(): boolean {
    return this.freeRequests() === 0;
  }

  /**
   * Starts the next request: returns the byte offset to write it at, in `wmem`. Call
   * `endRequest` once its fields are written.
   */
  beginRequest(): number {
    assert(this.freeRequests() > 0, "request produced on a full ring");
    return this.writer.begin(this.#reqProdPvt & this.mask);
  }

  endRequest(): void {
    this.writer.end();
    this.#reqProdPvt = (this.#reqProdPvt + 1) >>> 0;
  }

  /** RING_PUSH_REQUESTS: publishes without a notify decision. */
  pushRequests(): void {
    Atomics.store(this.u32, this.reqProdI, this.#reqProdPvt);
    this.pushed = this.#reqProdPvt;
  }

  /**
   * RING_PUSH_REQUESTS_AND_CHECK_NOTIFY: publishes `req_prod` (the atomic store orders the
   * entries before it) and returns whether `req_event` lies in (old, new], i.e. whether the
   * backend must be notified.
   */
  pushRequestsAndCheckNotify(): boolean {
    const old = this.pushed;
    this.pushed = this.#reqProdPvt;
    return publish(this.u32, this.reqProdI, this.reqEventI, old, this.#reqProdPvt);
  }

  /** Responses ready to consume, or RING_ERR_RSP_PROD when the backend's index is impossible. */
  unconsumedResponses(): number {
    const prod = Atomics.load(this.u32, this.rspProdI);
    const avail = (prod - this.#rspCons) >>> 0;
    if (avail > (this.pushed - this.#rspCons) >>> 0) return RING_ERR_RSP_PROD;
    return avail;
  }

  /**
   * Copies up to `max` responses into private memory at `at` (entrySize bytes each) and
   * consumes them; returns how many, or RING_ERR_RSP_PROD. Response k of the batch answers
   * ring index `rspCons` (before the call) + k.
   */
  copyResponses(dst: Mem, at: number, max: number): number {
    const avail = this.unconsumedResponses();
    if (avail < 0) return avail;
    const n = Math.min(avail, max);
    this.#rspCons = copySlots(this.area, this.#rspCons, n, dst, at);
    return n;
  }

  /**
   * RING_FINAL_CHECK_FOR_RESPONSES: if nothing is left, asks to be notified at the next
   * response and looks once more, closing the race with a backend that pushed meanwhile.
   * True means there is work (or a protocol error for `unconsumedResponses` to report).
   */
  finalCheckForResponses(): boolean {
    if (this.unconsumedResponses() !== 0) return true;
    Atomics.store(this.u32, this.rspEventI, (this.#rspCons + 1) >>> 0);
    return this.unconsumedResponses() !== 0;
  }

  /** Asks to be notified only once the response producer passes `idx` (batched wake-ups). */
  setRspEvent(idx: number): void {
    Atomics.store(this.u32, this.rspEventI, idx >>> 0);
  }
}
