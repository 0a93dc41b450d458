/**
 * The TX requests netback holds between reading them and answering them (Linux's
 * pending_ring, MAX_PENDING_REQS per queue). A slot of a guest frame stays pending while its
 * page is mapped and the frame is on its way through the switch; only when the frame has
 * been delivered (or dropped) is the mapping ended and the response written. The pool is
 * fixed at creation, so a guest can never make netback hold more of its pages than this:
 * when the pool is empty, netback stops reading the ring until deliveries free entries.
 *
 * Struct-of-arrays with a free stack: alloc and free are O(1) and allocate nothing. An
 * entry is named by its index; a generation per entry makes a stale index (freed and reused
 * meanwhile) detectable, as grant handles are.
 */
import { assert } from "../base/assert.js";

/** Linux's MAX_PENDING_REQS: XEN_NETIF_TX_RING_SIZE of a one-page ring. */
export const MAX_PENDING_REQS_DEFAULT = 256;

export class PendingPool {
  readonly size: number;
  /** The request's id, echoed in its response. */
  readonly reqId: Uint16Array;
  /** The guest's grant ref for the slot's page. */
  readonly gref: Uint32Array;
  /** The map handle while mapped, else -1. */
  readonly handle: Int32Array;
  /** Extra-info slots that follow this request on the ring (they get NETIF_RSP_NULL). */
  readonly extras: Uint8Array;
  readonly #gen: Uint16Array;
  readonly #inUse: Uint8Array;
  readonly #free: Int32Array;
  #nFree: number;

  constructor(size = MAX_PENDING_REQS_DEFAULT) {
    assert(Number.isInteger(size) && size > 0 && size <= 0x10000, `pending pool size ${size}`);
    this.size = size;
    this.reqId = new Uint16Array(size);
    this.gref = new Uint32Array(size);
    this.handle = new Int32Array(size).fill(-1);
    this.extras = new Uint8Array(size);
    this.#gen = new Uint16Array(size);
    this.#inUse = new Uint8Array(size);
    this.#free = new Int32Array(size);
    for (let i = 0; i < size; i++) this.#free[i] = size - 1 - i;
    this.#nFree = size;
  }

  /** Entries free: how many more requests netback may take off the ring now. */
  get free(): number {
    return this.#nFree;
  }

  /** Entries held. */
  get held(): number {
    return this.size - this.#nFree;
  }

  /**
   * Takes an entry for request `reqId` on `gref`; returns its index, or -1 when the pool is
   * empty (the caller leaves the request on the ring).
   */
  alloc(reqId: number, gref: number, extras: number): number {
    if (this.#nFree === 0) return -1;
    const i = this.#free[--this.#nFree];
    this.#inUse[i] = 1;
    this.reqId[i] = reqId;
    this.gref[i] = gref;
    this.extras[i] = extras;
    this.handle[i] = -1;
    return i;
  }

  /** The token to keep for entry `i` while it is out: its index and generation. */
  token(i: number): number {
    return (this.#gen[i] << 16) | i;
  }

  /** Whether `token` still names a held entry (not freed, nor freed and reused since). */
  live(token: number): boolean {
    const i = token & 0xffff;
    return i < this.size && this.#inUse[i] === 1 && this.#gen[i] === token >>> 16;
  }

  /** Returns entry `i` to the pool; false (and nothing changed) if it was not held. */
  release(i: number): boolean {
    if (i < 0 || i >= this.size || this.#inUse[i] === 0) return false;
    this.#inUse[i] = 0;
    this.#gen[i] = (this.#gen[i] + 1) & 0xffff;
    this.handle[i] = -1;
    this.#free[this.#nFree++] = i;
    return true;
  }

  /** Calls `each(i)` for every held entry (teardown: unmap and answer them all). */
  forEachHeld(each: (i: number) => void): void {
    for (let i = 0; i < this.size; i++) if (this.#inUse[i] === 1) each(i);
  }
}
