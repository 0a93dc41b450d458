/**
 * netmap pipes: two ends in one memory region; the TX ring of one end and the RX ring of
 * the other share slot indices, and a txsync hands slots over by swapping their buffer
 * descriptors (buf_idx, len, flags) — zero copy. Each direction is a single-producer,
 * single-consumer link, so the ends may live in different threads: the sender is the only
 * writer of the receiver's `delivered` word and the receiver the only writer of its
 * `released` word, both in the receiving ring's `sem` area, moved with Atomics like a Xen
 * ring's producer and consumer indices.
 *
 * Both syncs check NS_BUF_CHANGED in their own slot loop (checksBufChanged) rather than
 * letting the common code make a pass of its own: a changed slot must name a real buffer,
 * else the sync stops before it (what precedes it still moves) and resets the ring. The
 * flag is cleared on the slots that move, so a receiver never sees its sender's flags.
 *
 * Anyone holding the region (the peer's thread, or any thread it passed the memory to) can
 * rewrite both words at any moment: each is read once and goes through the kring's
 * `advanceHwtail`, which takes only a position the peer could have reached, so neither sync
 * ever leaves its own kring's bounds.
 */
import type { Mem } from "../wire/mem.js";
import type { AdapterConfig, BufChangedChecks, NetmapAdapter } from "./adapter.js";
import { ringIrq } from "./irq.js";
import type { KRing } from "./kring.js";
import {
  NETMAP_BUF_RESERVED,
  NR_RX,
  NR_TX,
  NS_BUF_CHANGED,
  RING_SEM,
  ringSlot,
  SEM_DELIVERED,
  SEM_RELEASED,
} from "./layout.js";
import { type NetmapRegion, type RegionSpec, regionSpecFor } from "./mem.js";

/**
 * NS_BUF_CHANGED in a slot's second word, which holds len (low half) and flags (high
 * half) on pvnet's little-endian hosts (base/endian.ts): the syncs move that word whole.
 */
const CHANGED = NS_BUF_CHANGED << 16;
const CHECKS: BufChangedChecks = { tx: true, rx: true };

/** Where a pipe lives in its region: what the other end's thread needs to open it. */
export interface PipeDesc {
  name: string;
  slots: number;
  /** Byte offsets of the rings: [master tx, master rx, slave tx, slave rx]. */
  rings: [number, number, number, number];
}

/** A region just big enough for one pipe of `slots` (both ends, with their netmap_ifs). */
export function pipeRegionSpec(slots: number): RegionSpec {
  const end = { txRings: 1, rxRings: 1, hostTxRings: 0, hostRxRings: 0, txSlots: slots, rxSlots: slots };
  return regionSpecFor(2, end);
}

/** Lays out a pipe's four rings in `region`, each slot holding a buffer of its own. */
export function createPipe(region: NetmapRegion, name: string, slots: number): PipeDesc {
  const what = `pipe ${name}`;
  const rings: [number, number, number, number] = [
    region.allocRingWithBufs(slots, NR_TX, 0, what),
    region.allocRingWithBufs(slots, NR_RX, 0, what),
    region.allocRingWithBufs(slots, NR_TX, 0, what),
    region.allocRingWithBufs(slots, NR_RX, 0, what),
  ];
  for (const r of rings) region.mem.u32.fill(0, (r + RING_SEM) >>> 2, (r + RING_SEM + 16) >>> 2);
  return { name, slots, rings };
}

/** One end of a pipe as a netmap adapter: `master` is the `{` end, the slave the `}` end. */
export class PipeEnd implements NetmapAdapter {
  readonly name: string;
  readonly txRing: number;
  readonly rxRing: number;
  readonly checksBufChanged = CHECKS;
  /** The peer's RX ring, which our txsync feeds, and its TX ring, which our rxsync frees. */
  readonly #peerRx: number;
  readonly #peerTx: number;
  readonly #m: Mem;
  readonly #slots: number;
  readonly #nBufs: number;

  constructor(region: NetmapRegion, d: PipeDesc, master: boolean) {
    this.name = `${d.name}${master ? "{" : "}"}`;
    this.#m = region.mem;
    this.#slots = d.slots;
    this.#nBufs = region.nBufs;
    const [mtx, mrx, stx, srx] = d.rings;
    this.txRing = master ? mtx : stx;
    this.rxRing = master ? mrx : srx;
    this.#peerRx = master ? srx : mrx;
    this.#peerTx = master ? stx : mtx;
  }

  config(): AdapterConfig {
    return { txRings: 1, rxRings: 1, txSlots: this.#slots, rxSlots: this.#slots, rxBufMaxSize: 0 };
  }

  register(): void {}

  txsync(k: KRing): void {
    const m = this.#m;
    const u32 = m.u32;
    const head = k.rhead;
    const nBufs = this.#nBufs;
    // Hand over [hwcur, head): swap each slot with the peer's RX slot of the same index,
    // which the peer released earlier (our tail never passes its `released`). Each word
    // the user may still scribble on is read once, and what is checked is what moves.
    const peer = this.#peerRx;
    let bad = -1;
    let i = k.hwcur;
    for (; i !== head; i = i + 1 === this.#slots ? 0 : i + 1) {
      const a = ringSlot(k.r, i) >>> 2;
      const b = ringSlot(peer, i) >>> 2;
      const buf = u32[a];
      let lenFlags = u32[a + 1];
      if ((lenFlags & CHANGED) !== 0) {
        if (buf < NETMAP_BUF_RESERVED || buf >= nBufs) {
          bad = buf;
          break;
        }
        lenFlags ^= CHANGED;
      }
      u32[a] = u32[b];
      u32[a + 1] = 0;
      u32[b] = buf;
      u32[b + 1] = lenFlags;
    }
    const sent = k.hwcur !== i;
    k.hwcur = i;
    const peerW = peer >>> 2;
    Atomics.store(u32, peerW + SEM_DELIVERED, i);
    if (sent) ringIrq(m, peer);
    // Reclaim: everything the peer has released, keeping one slot empty. The word is the
    // peer's, so the kring takes it only if it is a position the peer could have reached.
    const released = Atomics.load(u32, peerW + SEM_RELEASED);
    const n = this.#slots;
    k.advanceHwtail(released >= n ? released : released === 0 ? n - 1 : released - 1, "released");
    if (bad >= 0) k.reinitBadBuf(i, bad);
  }

  rxsync(k: KRing): void {
    const u32 = this.#m.u32;
    const head = k.rhead;
    const nBufs = this.#nBufs;
    // Release what the user gave back (waking a sender waiting for room), then import what
    // the peer delivered. Released slots become the peer's TX slots at its next txsync, so
    // a buffer the user changed must be a real one; only the flags word is read unless
    // the flag is set.
    let bad = -1;
    let i = k.hwcur;
    for (; i !== head; i = i + 1 === this.#slots ? 0 : i + 1) {
      const a = ringSlot(k.r, i) >>> 2;
      const lenFlags = u32[a + 1];
      if ((lenFlags & CHANGED) === 0) continue;
      const buf = u32[a];
      if (buf < NETMAP_BUF_RESERVED || buf >= nBufs) {
        bad = buf;
        break;
      }
      u32[a + 1] = lenFlags ^ CHANGED;
    }
    const freed = k.hwcur !== i;
    k.hwcur = i;
    const w = k.r >>> 2;
    Atomics.store(u32, w + SEM_RELEASED, i);
    if (freed) ringIrq(this.#m, this.#peerTx);
    k.advanceHwtail(Atomics.load(u32, w + SEM_DELIVERED), "delivered");
    if (bad >= 0) k.reinitBadBuf(i, bad);
  }
}
