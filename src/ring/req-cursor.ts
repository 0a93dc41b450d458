/**
 * The backend's request consumer index and the checks that make a hostile `req_prod`
 * harmless, apart from the slots: BackRing copies entries, this decides how many. Kept
 * separate so the index arithmetic can be driven through more than 2^32 requests in a test
 * at a few nanoseconds a batch.
 *
 * Invariant (indices mod 2^32): rspProdPvt <= cons <= seen <= rspProdPvt + nrEnts, where
 * `seen` is the last `req_prod` read and accepted. Requests up to `seen` are consumed without
 * reading the header again (its cache line bounces between cores on every access); `seen`
 * cannot go stale across a wrap because it is never more than a ring ahead of `cons`.
 */
import { RING_ERR_REQ_PROD } from "./errors.js";

export class ReqCursor {
  readonly #u32: Uint32Array;
  readonly #prodI: number;
  readonly #nrEnts: number;
  #cons: number;
  #seen: number;

  /** `prodI`: Uint32 index of the shared `req_prod`; `start`: where consumption begins. */
  constructor(u32: Uint32Array, prodI: number, nrEnts: number, start: number) {
    this.#u32 = u32;
    this.#prodI = prodI;
    this.#nrEnts = nrEnts;
    this.#cons = start >>> 0;
    this.#seen = start >>> 0;
  }

  /** req_cons: the next request to consume. */
  get cons(): number {
    return this.#cons;
  }

  /**
   * Reads `req_prod` once and returns the requests ready to consume, or RING_ERR_REQ_PROD
   * when it claims more unanswered requests than the ring holds (RING_REQUEST_PROD_OVERFLOW)
   * or fewer than were already consumed (it moved backwards). An accepted value is kept.
   */
  unconsumed(rspProdPvt: number): number {
    const prod = Atomics.load(this.#u32, this.#prodI);
    const claimed = (prod - rspProdPvt) >>> 0;
    // Private and never above nrEnts: consumption stops at `seen`, which passed this check.
    const taken = (this.#cons - rspProdPvt) >>> 0;
    if (claimed > this.#nrEnts || claimed < taken) return RING_ERR_REQ_PROD;
    this.#seen = prod;
    return claimed - taken;
  }

  /** Consumes up to `max` requests: returns how many, or RING_ERR_REQ_PROD. */
  take(max: number, rspProdPvt: number): number {
    let avail = (this.#seen - this.#cons) >>> 0;
    if (avail === 0) {
      avail = this.unconsumed(rspProdPvt);
      if (avail <= 0) return avail;
    }
    const n = Math.min(avail, max);
    this.#cons = (this.#cons + n) >>> 0;
    return n;
  }
}
