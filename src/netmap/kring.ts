/**
 * The kernel side's twin of a netmap ring (netmap_kring): the private positions `hwcur`
 * (first slot the user has not yet handed over) and `hwtail` (first slot not yet given to
 * the user), plus validated copies of the user's head/cur/tail. Every sync starts with a
 * prologue that reads head and cur once from shared memory and checks them against these
 * private copies (nm_txsync_prologue / nm_rxsync_prologue); nothing the user writes can move
 * the port's state outside them. A bad value resets the ring to the kernel's positions,
 * cleans slots whose buffer or length is impossible, and is counted and logged at a limited
 * rate, as netmap_ring_reinit does.
 */
import type { RateLog } from "../base/ratelog.js";
import type { Mem } from "../wire/mem.js";
import {
  NETMAP_BUF_RESERVED,
  NS_BUF_CHANGED,
  ringCur,
  ringHead,
  ringSetCur,
  ringSetHead,
  ringSetTail,
  ringSlot,
  ringTail,
  slotBufIdx,
  slotFlags,
  slotLen,
  slotSetBufIdx,
  slotSetFlags,
  slotSetLen,
} from "./layout.js";

export class KRing {
  readonly m: Mem;
  /** Byte offset of the shared netmap_ring. */
  readonly r: number;
  readonly numSlots: number;
  readonly tx: boolean;
  readonly name: string;
  hwcur = 0;
  hwtail = 0;
  rhead = 0;
  rcur = 0;
  rtail = 0;
  /** Times a user's bad head/cur (or a bad NS_BUF_CHANGED buffer) forced a reinit. */
  resets = 0;
  /** Times a position another thread reported (`advanceHwtail`) was impossible and ignored. */
  peerErrors = 0;
  /** A host ring (netmap's kring past the NIC rings): synced by HostRings, not the adapter. */
  host = false;
  readonly #nBufs: number;
  readonly #bufSize: number;
  readonly #log: RateLog | undefined;

  constructor(o: {
    m: Mem;
    r: number;
    numSlots: number;
    tx: boolean;
    name: string;
    nBufs: number;
    bufSize: number;
    log?: RateLog;
  }) {
    this.m = o.m;
    this.r = o.r;
    this.numSlots = o.numSlots;
    this.tx = o.tx;
    this.name = o.name;
    this.#nBufs = o.nBufs;
    this.#bufSize = o.bufSize;
    this.#log = o.log;
  }

  /**
   * Puts the ring in its initial state: a TX ring gives the user every slot but one
   * (tail = num_slots - 1), an RX ring starts empty.
   */
  reset(): void {
    this.hwcur = 0;
    this.hwtail = this.tx ? this.numSlots - 1 : 0;
    this.rhead = this.rcur = 0;
    this.rtail = this.hwtail;
    ringSetHead(this.m, this.r, 0);
    ringSetCur(this.m, this.r, 0);
    ringSetTail(this.m, this.r, this.hwtail);
  }

  /**
   * Validates a TX sync: hwcur <= rhead <= head <= cur <= rtail (cyclically). Returns the
   * new head, or -1 after resetting the ring (the sync is then skipped).
   */
  txsyncPrologue(): number {
    const head = ringHead(this.m, this.r);
    const cur = ringCur(this.m, this.r);
    const n = this.numSlots;
    if (head >= n || cur >= n || !between(this.rhead, head, this.rtail) || !between(head, cur, this.rtail)) {
      this.reinit(`txsync: head ${head} cur ${cur} outside rhead ${this.rhead}..rtail ${this.rtail}`);
      return -1;
    }
    if (ringTail(this.m, this.r) !== this.rtail) ringSetTail(this.m, this.r, this.rtail);
    this.rhead = head;
    this.rcur = cur;
    return head;
  }

  /**
   * Validates an RX sync: hwcur <= head <= cur <= hwtail (cyclically). Returns the new head,
   * or -1 after resetting the ring (an RX sync still runs, from the reset position).
   */
  rxsyncPrologue(): number {
    const head = ringHead(this.m, this.r);
    const cur = ringCur(this.m, this.r);
    const n = this.numSlots;
    if (
      head >= n ||
      cur >= n ||
      !between(this.hwcur, head, this.hwtail) ||
      !between(head, cur, this.hwtail)
    ) {
      this.reinit(`rxsync: head ${head} cur ${cur} outside hwcur ${this.hwcur}..hwtail ${this.hwtail}`);
      return -1;
    }
    if (ringTail(this.m, this.r) !== this.rtail) ringSetTail(this.m, this.r, this.rtail);
    this.rhead = head;
    this.rcur = cur;
    return head;
  }

  /**
   * NS_BUF_CHANGED on the slots the user hands over, [hwcur, rhead): the user put another
   * buffer there, so it must be a real one (netmap's drivers find a bad index as the pool
   * base and reset the ring). The flag is cleared once checked, as a driver clears it after
   * reloading its DMA map; pvnet's adapters cache nothing per buffer. Returns false after
   * resetting the ring. Adapters whose own slot loop does this skip it (checksBufChanged).
   */
  checkBufChanged(): boolean {
    const m = this.m;
    for (let i = this.hwcur; i !== this.rhead; i = i + 1 === this.numSlots ? 0 : i + 1) {
      const at = ringSlot(this.r, i);
      const flags = slotFlags(m, at);
      if ((flags & NS_BUF_CHANGED) === 0) continue;
      const idx = slotBufIdx(m, at);
      if (idx < NETMAP_BUF_RESERVED || idx >= this.#nBufs) {
        this.reinitBadBuf(i, idx);
        return false;
      }
      slotSetFlags(m, at, flags & ~NS_BUF_CHANGED);
    }
    return true;
  }

  /**
   * The reset for slot `slot` whose NS_BUF_CHANGED names buffer `idx`, no real one. An
   * adapter checking the flag in its own loop (NetmapAdapter.checksBufChanged) sets hwcur
   * to that slot first, so what came before it is handed over and the user gets the
   * (cleaned) slot back at head.
   */
  reinitBadBuf(slot: number, idx: number): void {
    this.reinit(`slot ${slot}: NS_BUF_CHANGED with bad buf_idx ${idx}`);
  }

  /**
   * Takes `t` as the new hwtail when another thread reported it (a pipe peer's delivered
   * or released word, in memory every holder of the region may rewrite): only a ring index
   * that moves hwtail forward without passing hwcur - 1, i.e. within the slots the kernel
   * side may still give the user. Anything else leaves hwtail where it was, is counted and
   * logged; the caller carries on. Returns whether `t` was taken.
   */
  advanceHwtail(t: number, what: string): boolean {
    const last = this.hwcur === 0 ? this.numSlots - 1 : this.hwcur - 1;
    if (t < this.numSlots && between(this.hwtail, t, last)) {
      this.hwtail = t;
      return true;
    }
    this.peerErrors++;
    this.#log?.log(
      `netmap:${this.name}`,
      `netmap: ${this.name}: ${what} ${t} outside hwtail ${this.hwtail}..${last}; ignored`,
    );
    return false;
  }

  /** nm_sync_finalize: the user sees the new tail. */
  syncFinalize(): void {
    this.rtail = this.hwtail;
    ringSetTail(this.m, this.r, this.hwtail);
  }

  /**
   * netmap_ring_reinit: head, cur and tail go back to the kernel's positions, and every
   * slot naming a reserved or nonexistent buffer, or a length over the buffer size, is
   * cleaned so the sync code never follows it.
   */
  reinit(why: string): void {
    this.resets++;
    this.#log?.log(`netmap:${this.name}`, `netmap: ${this.name}: ${why}; ring reinitialised`);
    for (let i = 0; i < this.numSlots; i++) {
      const at = ringSlot(this.r, i);
      const idx = slotBufIdx(this.m, at);
      if (idx < NETMAP_BUF_RESERVED || idx >= this.#nBufs) {
        slotSetBufIdx(this.m, at, 0);
        slotSetLen(this.m, at, 0);
      } else if (slotLen(this.m, at) > this.#bufSize) slotSetLen(this.m, at, 0);
    }
    this.rhead = this.rcur = this.hwcur;
    this.rtail = this.hwtail;
    ringSetHead(this.m, this.r, this.hwcur);
    ringSetCur(this.m, this.r, this.hwcur);
    ringSetTail(this.m, this.r, this.hwtail);
  }
}

/** Whether `x` lies in the cyclic interval [lo, hi] of ring indices. */
export function between(lo: number, x: number, hi: number): boolean {
  return lo <= hi ? x >= lo && x <= hi : x >= lo || x <= hi;
}
