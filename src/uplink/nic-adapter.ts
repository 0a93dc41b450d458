/**
 * What every uplink's netmap adapter shares (docs/porting.md): one TX and one RX ring in a
 * region of its own, netmap_attach's device, nm_config, nm_register, and a NIC's receive
 * side. A subclass writes txsync (its way to the wire) and calls `rxFill` from its device's
 * event handler, which is the NIC's DMA: the frame is copied into the RX slots after the
 * last ones filled (several slots chained with NS_MOREFRAG when it is larger than one
 * buffer), and rxsync only publishes that position as hwtail and takes back released slots.
 * `onRx` asks the owner to pump the ring into the switch (once per event-loop turn).
 */
import { type AdapterConfig, type NetmapAdapter, ringPairConfig } from "../netmap/adapter.js";
import type { NetmapDevice } from "../netmap/context.js";
import type { KRing } from "../netmap/kring.js";
import {
  NETMAP_BUF_RESERVED,
  NETMAP_MAX_FRAGS,
  NR_RX,
  NR_TX,
  NS_MOREFRAG,
  ringBytes,
  ringSlot,
  slotBufIdx,
  slotSetFlags,
  slotSetLen,
} from "../netmap/layout.js";
import { NetmapRegion } from "../netmap/mem.js";

/** Received frames up to this many bytes are copied by a JS loop (see rxFill). */
export const RX_LOOP_MAX = 96;

/** `rxFill` results: the frame is on the ring, or why not. */
export const RX_FILLED = 0;
/** Not in netmap mode (no RX kring registered). */
export const RX_NO_RING = 1;
/** Not enough free slots before the one behind hwcur. */
export const RX_FULL = 2;
/** A slot names a buffer outside the region (the user broke it), or the frame is too big. */
export const RX_BAD = 3;

let nextRegionId = 3000;

export abstract class NicAdapter implements NetmapAdapter {
  readonly name: string;
  readonly region: NetmapRegion;
  readonly txRing: number;
  readonly rxRing: number;
  /** Set by the owner: TX room after a stalled txsync; frames to pump. */
  onTxRoom: (() => void) | null = null;
  onRx: (() => void) | null = null;
  readonly #slots: number;
  #rx: KRing | null = null;
  /** The next RX slot the device fills (the NIC's DMA position); rxsync publishes up to it. */
  #fill = 0;

  constructor(name: string, slots: number) {
    this.name = name;
    this.#slots = slots;
    this.region = new NetmapRegion(nextRegionId++, {
      ifBytes: 1024,
      ringBytes: 2 * ringBytes(slots),
      nBufs: NETMAP_BUF_RESERVED + 2 * slots,
    });
    this.txRing = this.region.allocRingWithBufs(slots, NR_TX, 0, name);
    this.rxRing = this.region.allocRingWithBufs(slots, NR_RX, 0, name);
  }

  /** What netmap_attach registers (`valeAttach` / attachDevice put it on a switch). */
  device(): NetmapDevice {
    return {
      name: this.name,
      adapter: this,
      region: this.region,
      txRings: [this.txRing],
      rxRings: [this.rxRing],
      hostTxRings: [],
      hostRxRings: [],
      hostRings: null,
    };
  }

  config(): AdapterConfig {
    return ringPairConfig(this.#slots, this.region.bufSize);
  }

  register(on: boolean, krings: { rx: readonly KRing[] }): void {
    const k = on ? (krings.rx[0] ?? null) : null;
    this.#rx = k;
    if (k !== null) this.#fill = k.hwtail;
    this.registered(on);
  }

  /** A subclass's part of nm_register (none by default). */
  protected registered(_on: boolean): void {}

  abstract txsync(k: KRing, flags: number): void;

  rxsync(k: KRing): void {
    k.hwcur = k.rhead;
    k.hwtail = this.#fill;
    this.rxSynced();
  }

  /** A subclass's part of rxsync, after publishing (none by default). */
  protected rxSynced(): void {}

  /**
   * Copies `src[off, off + len)` into the RX ring after the last frame filled: all of it,
   * or nothing and the reason (RX_*). `onRx` runs for a filled frame. Never throws.
   */
  protected rxFill(src: Buffer, off: number, len: number): number {
    const k = this.#rx;
    if (k === null) return RX_NO_RING;
    const region = this.region;
    const bufSize = region.bufSize;
    const need = len === 0 ? 1 : Math.ceil(len / bufSize);
    if (need > NETMAP_MAX_FRAGS) return RX_BAD;
    const n = k.numSlots;
    const at = this.#fill;
    if (at >= n) return RX_BAD;
    // Free slots from the fill position up to (not onto) the one before hwcur.
    const free = (k.hwcur - at - 1 + n) % n;
    if (free < need) return RX_FULL;
    const m = region.mem;
    let t = at;
    let from = 0;
    for (let i = 0; i < need; i++) {
      const s = ringSlot(k.r, t);
      const buf = slotBufIdx(m, s);
      if (!region.validBuf(buf)) return RX_BAD;
      const l = Math.min(bufSize, len - from);
      const to = region.bufOff(buf);
      // Buffer.copy makes a view per call before its native copy: a short frame is cheaper
      // copied by a JS loop, one 32-bit store per four bytes read (half the cost of a store
      // per byte at 60 bytes; measured on the VXLAN receive path). A buffer starts on a
      // 2 KiB boundary, so `to` is word-aligned; the host is little-endian (base/endian.ts).
      if (l <= RX_LOOP_MAX) copyIn(m.u8, m.u32, to, src, off + from, l);
      else src.copy(m.u8, to, off + from, off + from + l);
      from += l;
      slotSetLen(m, s, l);
      slotSetFlags(m, s, i + 1 < need ? NS_MOREFRAG : 0);
      t = t + 1 === n ? 0 : t + 1;
    }
    this.#fill = t;
    this.onRx?.();
    return RX_FILLED;
  }
}

/** Copies `src[at, at + len)` to `d8[to, to + len)`; `to` is a multiple of 4. */
export function copyIn(
  d8: Uint8Array,
  d32: Uint32Array,
  to: number,
  src: Uint8Array,
  at: number,
  len: number,
): void {
  const words = len >>> 2;
  const di = to >>> 2;
  let a = at;
  for (let i = 0; i < words; i++, a += 4)
    d32[di + i] = src[a]! | (src[a + 1]! << 8) | (src[a + 2]! << 16) | (src[a + 3]! << 24);
  for (let j = words << 2; j < len; j++) d8[to + j] = src[at + j]!;
}
