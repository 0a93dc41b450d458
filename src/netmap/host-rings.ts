/**
 * Host rings: the pair of rings that connect a netmap device to its host stack (netmap's
 * host TX/RX krings, §1.11 of the reference). Packets the user puts on the host TX ring go
 * up to the stack (`sendUp`, netmap_txsync_to_host / netif_rx), and frames the stack sends
 * while the device is in netmap mode arrive on the host RX ring (`fromHost`,
 * netmap_transmit), through a bounded queue that drops and counts when full.
 *
 * Any adapter can have them: the rings live in the device's own region (so NIC and host
 * rings can swap buffers for transparent forwarding), and NetmapPort runs this object's
 * sync for the krings that are host rings instead of the adapter's.
 */
import { Counters } from "../base/counters.js";
import { FrameQueue } from "./frame-queue.js";
import { ringIrq } from "./irq.js";
import type { KRing } from "./kring.js";
import {
  NETMAP_MAX_FRAGS,
  NR_RX,
  NR_TX,
  NS_FORWARD,
  NS_MOREFRAG,
  ringSlot,
  slotBufIdx,
  slotFlags,
  slotLen,
  slotSetFlags,
} from "./layout.js";
import type { NetmapRegion } from "./mem.js";

export const HOST_COUNTERS = [
  "upPackets",
  "upBytes",
  "fromHostPackets",
  "fromHostBytes",
  "rxDrops",
  "txErrors",
] as const;
const [C_UP, C_UPB, C_IN, C_INB, C_DROP, C_ERR] = [0, 1, 2, 3, 4, 5];

/** Hands one frame to the host stack; the bytes are valid only during the call. */
export type SendUp = (frame: Uint8Array) => void;

export interface HostRingsOptions {
  slots: number;
  /** Frames from the host stack that may wait for the host RX ring (default: slots). */
  queueLen?: number;
  /** ringid of the host rings (netmap numbers them after the NIC rings). */
  ringid?: number;
  sendUp: SendUp;
}

export class HostRings {
  readonly region: NetmapRegion;
  readonly txRing: number;
  readonly rxRing: number;
  readonly counters = new Counters(HOST_COUNTERS);
  /** Where host TX (and NS_FORWARD from NIC RX) frames go; replaceable, e.g. by a switch. */
  sendUp: SendUp;
  readonly #queue: FrameQueue;
  /** Gathers NS_MOREFRAG chains into one frame for the stack. */
  readonly #scratch: Uint8Array;

  /** Lays out the two rings in `region`, each slot with a buffer of its own. */
  constructor(region: NetmapRegion, o: HostRingsOptions) {
    this.region = region;
    this.sendUp = o.sendUp;
    this.txRing = region.allocRingWithBufs(o.slots, NR_TX, o.ringid ?? 0, "host rings");
    this.rxRing = region.allocRingWithBufs(o.slots, NR_RX, o.ringid ?? 0, "host rings");
    this.#queue = new FrameQueue(o.queueLen ?? o.slots, region.bufSize);
    this.#scratch = new Uint8Array(NETMAP_MAX_FRAGS * region.bufSize);
  }

  /** Frames from the host stack still waiting for room in the host RX ring. */
  get queued(): number {
    return this.#queue.length;
  }

  isHostRing(r: number): boolean {
    return r === this.txRing || r === this.rxRing;
  }

  /**
   * netmap_transmit: the host stack sends `frame` to the device, which is in netmap mode,
   * so it is queued for the host RX ring (false and a counted drop when the queue is full).
   */
  fromHost(frame: Uint8Array): boolean {
    const f = this.counters.f64;
    if (!this.#queue.push(frame)) {
      f[C_DROP]++;
      return false;
    }
    f[C_IN]++;
    f[C_INB] += frame.length;
    ringIrq(this.region.mem, this.rxRing);
    return true;
  }

  /** netmap_txsync_to_host: everything in [hwcur, rhead) goes up; TX completes at once. */
  txsync(k: KRing): void {
    this.sendUpRange(k, k.hwcur, k.rhead, false);
    k.hwcur = k.rhead;
    k.hwtail = k.rhead === 0 ? k.numSlots - 1 : k.rhead - 1;
  }

  /** netmap_rxsync_from_host: take back [hwcur, rhead), then import queued frames. */
  rxsync(k: KRing): void {
    k.hwcur = k.rhead;
    this.#queue.drainInto(k, this.region);
  }

  /**
   * Sends the packets in slots [from, to) of kring `k` (in `region`, the device's) up to the
   * host stack, joining NS_MOREFRAG chains. With `onlyForward`, only packets whose first
   * slot carries NS_FORWARD go, and the flag is cleared on their slots (transparent mode).
   * A packet with a bad buffer or length, or a chain cut off at `to`, is counted as an
   * error. Returns the packets sent.
   */
  sendUpRange(k: KRing, from: number, to: number, onlyForward: boolean): number {
    const region = this.region;
    const m = region.mem;
    const f = this.counters.f64;
    let sent = 0;
    for (let i = from; i !== to; ) {
      // Each slot word is read once: whether the packet goes is decided on the same flags
      // that decide where its chain ends.
      let go = true;
      let total = 0;
      let ok = true;
      for (let n = 0; ; n++) {
        const s = ringSlot(k.r, i);
        const flags = slotFlags(m, s);
        const len = slotLen(m, s);
        const idx = slotBufIdx(m, s);
        if (n === 0) go = !onlyForward || (flags & NS_FORWARD) !== 0;
        if (go) {
          if (!ok || !region.validBuf(idx) || len > region.bufSize || n >= NETMAP_MAX_FRAGS) ok = false;
          else this.#scratch.set(m.u8.subarray(region.bufOff(idx), region.bufOff(idx) + len), total);
          total += len;
          if (onlyForward) slotSetFlags(m, s, flags & ~NS_FORWARD);
        }
        i = i + 1 === k.numSlots ? 0 : i + 1;
        if ((flags & NS_MOREFRAG) === 0) break;
        if (i === to) {
          ok = false;
          break;
        }
      }
      if (!go) continue;
      if (!ok) {
        f[C_ERR]++;
        continue;
      }
      this.sendUp(this.#scratch.subarray(0, total));
      f[C_UP]++;
      f[C_UPB] += total;
      sent++;
    }
    return sent;
  }
}
