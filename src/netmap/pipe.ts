/**
 * netmap pipes: two ends in one memory region; the TX ring of one end and the RX ring of
 * the other share slot indices, and a txsync hands slots over by swapping their buffer
 * descriptors (buf_idx, len, flags) — zero copy. Each direction is a single-producer,
 * single-consumer link, so the ends may live in different threads: the sender is the only
 * writer of the receiver's `delivered` word and the receiver the only writer of its
 * `released` word, both in the receiving ring's `sem` area, moved with Atomics like a Xen
 * ring's producer and consumer indices.
 */
import type { Mem } from "../wire/mem.js";
import type { AdapterConfig, NetmapAdapter } from "./adapter.js";
import { ringIrq } from "./irq.js";
import type { KRing } from "./kring.js";
import { NR_RX, NR_TX, RING_SEM, ringSlot, SEM_DELIVERED, SEM_RELEASED } from "./layout.js";
import type { NetmapRegion } from "./mem.js";

/** Where a pipe lives in its region: what the other end's thread needs to open it. */
export interface PipeDesc {
  name: string;
  slots: number;
  /** Byte offsets of the rings: [master tx, master rx, slave tx, slave rx]. */
  rings: [number, number, number, number];
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
  /** The peer's RX ring, which our txsync feeds, and its TX ring, which our rxsync frees. */
  readonly #peerRx: number;
  readonly #peerTx: number;
  readonly #m: Mem;
  readonly #slots: number;

  constructor(region: NetmapRegion, d: PipeDesc, master: boolean) {
    this.name = `${d.name}${master ? "{" : "}"}`;
    this.#m = region.mem;
    this.#slots = d.slots;
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
    // Hand over [hwcur, head): swap each slot with the peer's RX slot of the same index,
    // which the peer released earlier (our tail never passes its `released`).
    const peer = this.#peerRx;
    for (let i = k.hwcur; i !== head; i = i + 1 === this.#slots ? 0 : i + 1) {
      const a = ringSlot(k.r, i) >>> 2;
      const b = ringSlot(peer, i) >>> 2;
      const buf = u32[a];
      const lenFlags = u32[a + 1];
      u32[a] = u32[b];
      u32[a + 1] = 0;
      u32[b] = buf;
      u32[b + 1] = lenFlags;
    }
    const sent = k.hwcur !== head;
    k.hwcur = head;
    const peerW = peer >>> 2;
    Atomics.store(u32, peerW + SEM_DELIVERED, head);
    if (sent) ringIrq(m, peer);
    // Reclaim: everything the peer has released, keeping one slot empty.
    const released = Atomics.load(u32, peerW + SEM_RELEASED);
    k.hwtail = released === 0 ? this.#slots - 1 : released - 1;
  }

  rxsync(k: KRing): void {
    const u32 = this.#m.u32;
    // Release what the user gave back (waking a sender waiting for room), then import what
    // the peer delivered.
    const freed = k.hwcur !== k.rhead;
    k.hwcur = k.rhead;
    const w = k.r >>> 2;
    Atomics.store(u32, w + SEM_RELEASED, k.hwcur);
    if (freed) ringIrq(this.#m, this.#peerTx);
    k.hwtail = Atomics.load(u32, w + SEM_DELIVERED);
  }
}
