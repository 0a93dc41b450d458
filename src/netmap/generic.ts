/**
 * The generic (emulated) adapter, netmap's netmap_generic.c: native netmap I/O for a device
 * that only offers "send this frame" and "a frame arrived" callbacks. txsync copies each
 * slot out through `send`; frames handed to `receive` wait in a bounded queue (drops
 * counted, as netmap's mbq does) and are copied into slots at rxsync. One TX and one RX
 * ring. The same shape serves host rings: `send` passes frames up to a host stack and the
 * stack's frames come in through `receive`.
 */
import { Counters } from "../base/counters.js";
import type { AdapterConfig, NetmapAdapter } from "./adapter.js";
import { ringIrq } from "./irq.js";
import type { KRing } from "./kring.js";
import {
  NETMAP_BUF_RESERVED,
  NR_RX,
  NR_TX,
  ringBytes,
  ringSlot,
  slotBufIdx,
  slotLen,
  slotSetFlags,
  slotSetLen,
} from "./layout.js";
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
  readonly #dev: GenericDevice;
  readonly #slots: number;
  /** Received frames waiting for an rxsync: one buffer-sized cell each. */
  readonly #queue: Uint8Array;
  readonly #qLen: Uint16Array;
  #qHead = 0;
  #qCount = 0;
  #rx: KRing | null = null;

  constructor(name: string, dev: GenericDevice, slots = 1024, queueLen = slots) {
    this.name = name;
    this.#dev = dev;
    this.#slots = slots;
    this.region = new NetmapRegion(nextRegionId++, {
      ifBytes: 256,
      ringBytes: 2 * ringBytes(slots),
      nBufs: NETMAP_BUF_RESERVED + 2 * slots,
    });
    this.txRing = this.region.allocRing(slots, NR_TX, 0);
    this.rxRing = this.region.allocRing(slots, NR_RX, 0);
    for (const r of [this.txRing, this.rxRing])
      for (let i = 0; i < slots; i++) this.region.mem.u32[ringSlot(r, i) >>> 2] = this.region.allocBuf();
    this.#queue = new Uint8Array(queueLen * this.region.bufSize);
    this.#qLen = new Uint16Array(queueLen);
  }

  config(): AdapterConfig {
    return {
      txRings: 1,
      rxRings: 1,
      txSlots: this.#slots,
      rxSlots: this.#slots,
      rxBufMaxSize: this.region.bufSize,
    };
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
    const m = this.region.mem;
    const size = this.region.bufSize;
    const cap = this.#qLen.length;
    while (this.#qCount > 0) {
      const next = k.hwtail + 1 === k.numSlots ? 0 : k.hwtail + 1;
      if (next === k.hwcur) break;
      const s = ringSlot(k.r, k.hwtail);
      const len = this.#qLen[this.#qHead];
      const from = this.#qHead * size;
      m.u8.set(this.#queue.subarray(from, from + len), this.region.bufOff(slotBufIdx(m, s)));
      slotSetLen(m, s, len);
      slotSetFlags(m, s, 0);
      k.hwtail = next;
      this.#qHead = this.#qHead + 1 === cap ? 0 : this.#qHead + 1;
      this.#qCount--;
    }
  }

  /**
   * A frame arrived from the device (netmap's generic_rx_handler): queued for the next
   * rxsync, or dropped and counted when the queue is full or the frame too long.
   */
  receive(frame: Uint8Array): boolean {
    const f = this.counters.f64;
    const cap = this.#qLen.length;
    if (this.#qCount === cap || frame.length > this.region.bufSize) {
      f[C_DROP]++;
      return false;
    }
    const cell = (this.#qHead + this.#qCount) % cap;
    this.#queue.set(frame, cell * this.region.bufSize);
    this.#qLen[cell] = frame.length;
    this.#qCount++;
    f[C_RX]++;
    f[C_RXB] += frame.length;
    if (this.#rx !== null) ringIrq(this.region.mem, this.rxRing);
    return true;
  }
}
