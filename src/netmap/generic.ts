/**
 * The generic (emulated) adapter, netmap's netmap_generic.c: native netmap I/O for a device
 * that only offers "send this frame" and "a frame arrived" callbacks. txsync copies each
 * slot out through `send`; frames handed to `receive` wait in a bounded queue (drops
 * counted, as netmap's mbq does) and are copied into slots at rxsync. One TX and one RX
 * ring, and on request host rings (HostRings: `sendUp` to a host stack, `fromHost` from
 * it), in the same region so transparent forwarding swaps buffers.
 */
import { Counters } from "../base/counters.js";
import { type AdapterConfig, type NetmapAdapter, ringPairConfig } from "./adapter.js";
import type { NetmapDevice } from "./context.js";
import { FrameQueue } from "./frame-queue.js";
import { HostRings, type SendUp } from "./host-rings.js";
import { ringIrq } from "./irq.js";
import type { KRing } from "./kring.js";
import { NETMAP_BUF_RESERVED, NR_RX, NR_TX, ringBytes, ringSlot, slotBufIdx, slotLen } from "./layout.js";
import { NetmapRegion } from "./mem.js";

export const GENERIC_COUNTERS = [
  "txPackets",
  "txBytes",
  "rxPackets",
  "rxBytes",
  "rxDrops",
  "txErrors",
] as const;
const [C_TX, C_TXB, C_RX, C_RXB, C_DROP, C_ERR] = [0, 1, 2, 3, 4, 5];

export interface GenericOptions {
  slots?: number;
  /** Received frames that may wait for an rxsync (default: slots). */
  queueLen?: number;
  /** Spare buffers in the region for extra-buffer requests (default: slots). */
  spareBufs?: number;
  /** Gives the device host rings whose TX side hands frames to this host stack. */
  sendUp?: SendUp;
}

export interface GenericDevice {
  /** Transmits one frame; the bytes are valid only during the call. */
  send(frame: Uint8Array): void;
}

let nextRegionId = 1000;

export class GenericAdapter implements NetmapAdapter {
  readonly name: string;
  readonly region: NetmapRegion;
  readonly txRing: number;
  readonly rxRing: number;
  readonly counters = new Counters(GENERIC_COUNTERS);
  /** The host rings, when asked for with `sendUp`. */
  readonly hostRings: HostRings | null;
  readonly #dev: GenericDevice;
  readonly #slots: number;
  /** Received frames waiting for an rxsync. */
  readonly #queue: FrameQueue;
  #rx: KRing | null = null;

  /** `slots` and `queueLen` may still be given positionally. */
  constructor(
    name: string,
    dev: GenericDevice,
    slotsOrOpts: number | GenericOptions = {},
    queueLen?: number,
  ) {
    const o: GenericOptions =
      typeof slotsOrOpts === "number" ? { slots: slotsOrOpts, queueLen } : slotsOrOpts;
    const slots = o.slots ?? 1024;
    const rings = o.sendUp === undefined ? 2 : 4;
    this.name = name;
    this.#dev = dev;
    this.#slots = slots;
    this.region = new NetmapRegion(nextRegionId++, {
      ifBytes: 1024,
      ringBytes: rings * ringBytes(slots),
      nBufs: NETMAP_BUF_RESERVED + rings * slots + (o.spareBufs ?? slots),
    });
    this.txRing = this.region.allocRingWithBufs(slots, NR_TX, 0, name);
    this.rxRing = this.region.allocRingWithBufs(slots, NR_RX, 0, name);
    this.hostRings =
      o.sendUp === undefined
        ? null
        : new HostRings(this.region, { slots, queueLen: o.queueLen, ringid: 1, sendUp: o.sendUp });
    this.#queue = new FrameQueue(o.queueLen ?? slots, this.region.bufSize);
  }

  /** What netmap_attach registers: `ctx.attach(adapter.device())` makes `netmap:NAME` open it. */
  device(): NetmapDevice {
    const h = this.hostRings;
    return {
      name: this.name,
      adapter: this,
      region: this.region,
      txRings: [this.txRing],
      rxRings: [this.rxRing],
      hostTxRings: h === null ? [] : [h.txRing],
      hostRxRings: h === null ? [] : [h.rxRing],
      hostRings: h,
    };
  }

  config(): AdapterConfig {
    return ringPairConfig(this.#slots, this.region.bufSize);
  }

  register(on: boolean, krings: { rx: readonly KRing[] }): void {
    this.#rx = on ? (krings.rx[0] ?? null) : null;
  }

  txsync(k: KRing): void {
    const m = this.region.mem;
    const f = this.counters.f64;
    for (let i = k.hwcur; i !== k.rhead; i = i + 1 === k.numSlots ? 0 : i + 1) {
      const s = ringSlot(k.r, i);
      const len = slotLen(m, s);
      const idx = slotBufIdx(m, s);
      if (!this.region.validBuf(idx) || len > this.region.bufSize) {
        f[C_ERR]++;
        continue;
      }
      const off = this.region.bufOff(idx);
      this.#dev.send(m.u8.subarray(off, off + len));
      f[C_TX]++;
      f[C_TXB] += len;
    }
    k.hwcur = k.rhead;
    k.hwtail = k.rhead === 0 ? k.numSlots - 1 : k.rhead - 1;
  }

  rxsync(k: KRing): void {
    k.hwcur = k.rhead;
    this.#queue.drainInto(k, this.region);
  }

  /**
   * A frame arrived from the device (netmap's generic_rx_handler): queued for the next
   * rxsync, or dropped and counted when the queue is full or the frame too long.
   */
  receive(frame: Uint8Array): boolean {
    const f = this.counters.f64;
    if (!this.#queue.push(frame)) {
      f[C_DROP]++;
      return false;
    }
    f[C_RX]++;
    f[C_RXB] += frame.length;
    if (this.#rx !== null) ringIrq(this.region.mem, this.rxRing);
    return true;
  }
}
