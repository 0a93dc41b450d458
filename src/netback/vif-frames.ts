/**
 * A backend vif as a stream of frames, for a program of your own in the driver domain:
 * every frame the guest sends is handed to `listen`'s callback, and `write` sends a frame
 * to the guest. Underneath, the vif is opened in netmap mode (as netmap takes a NIC from
 * the host stack, the vif leaves its switch's datapath): guest frames land in the port's
 * RX rings, and a frame written goes into TX ring 0, which the vif delivers to the guest
 * by grant copy into the buffers it posted.
 *
 * The netmap view has one ring pair per queue attached when it opens, at least one: open
 * it in the hotplug step (before the guest connects) for a one-queue vif, or once the
 * guest is connected to see every queue.
 */
import {
  NS_MOREFRAG,
  ringHead,
  ringNumSlots,
  ringSlot,
  ringTail,
  slotBufIdx,
  slotFlags,
  slotLen,
  slotSetFlags,
  slotSetLen,
} from "../netmap/layout.js";
import type { NetmapPort } from "../netmap/port.js";
import { nmRingAdvance, nmRingSpace } from "../netmap/ring.js";
import type { NetbackVif } from "./vif.js";

/**
 * Called for each frame the guest sent, at `frame[off..off+len)`. The bytes are valid
 * only during the call (the slot goes back to the vif after it): copy what you keep.
 */
export type VifFrameListener = (frame: Uint8Array, off: number, len: number) => void;

/** Largest frame gathered from several netmap slots (a GSO frame): 64 KiB and a header. */
const MAX_FRAME = 65536 + 14;

export class VifFrames {
  /** The vif's name, `vif<domid>.<devid>`. */
  readonly name: string;
  readonly #port: NetmapPort;
  readonly #vif: NetbackVif;
  #listener: VifFrameListener | null = null;
  #scheduled = false;
  #closed = false;
  /** Where a frame spanning slots is gathered; made on the first such frame. */
  #gather: Uint8Array | null = null;
  /** Frames seen, frames written to the guest, writes refused (ring full or too long). */
  received = 0;
  written = 0;
  refused = 0;
  /** Why this closed itself: the listener threw (its message); undefined otherwise. */
  error: string | undefined;
  readonly #drain = (): void => {
    this.#scheduled = false;
    if (!this.#closed) this.#receive();
  };

  private constructor(vif: NetbackVif) {
    this.name = vif.name;
    this.#vif = vif;
    this.#port = vif.openNetmap();
    // The vif calls this from its datapath's flush: the frames are read after it returns,
    // so a listener that writes back into a vif never re-enters a datapath mid-batch.
    vif.onRx = () => {
      if (this.#scheduled) return;
      this.#scheduled = true;
      queueMicrotask(this.#drain);
    };
  }

  /** Takes `vif` off its switch's datapath and hands its frames to this object. */
  static open(vif: NetbackVif): VifFrames {
    return new VifFrames(vif);
  }

  /** Sets the one receiver of the guest's frames (replacing the previous one). */
  listen(fn: VifFrameListener): void {
    this.#listener = fn;
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#drain);
    }
  }

  /**
   * Sends `frame[off..off+len)` to the guest (copied before this returns). False, taking
   * nothing, when the ring is full, the frame does not fit a slot, or this is closed.
   * A frame taken while the guest is not connected is dropped by the vif and counted
   * (its switch-port counter `txErrors`), as a NIC drops with its link down.
   */
  write(frame: Uint8Array, off = 0, len = frame.length - off): boolean {
    const port = this.#port;
    const k = port.tx[0];
    if (this.#closed || k === undefined || len < 0 || off < 0 || off + len > frame.length) {
      this.refused++;
      return false;
    }
    const m = port.mem;
    const r = k.r;
    if (len > port.region.bufSize || nmRingSpace(m, r) === 0) {
      this.refused++;
      return false;
    }
    const h = ringHead(m, r);
    const at = ringSlot(r, h);
    // A byte loop rather than set(subarray()): no view allocated per frame.
    const dst = m.u8;
    const to = port.region.bufOff(slotBufIdx(m, at));
    for (let i = 0; i < len; i++) dst[to + i] = frame[off + i]!;
    slotSetLen(m, at, len);
    slotSetFlags(m, at, 0);
    nmRingAdvance(m, r, h + 1 === ringNumSlots(m, r) ? 0 : h + 1);
    port.txsync();
    this.written++;
    return true;
  }

  /** Leaves netmap mode; the vif goes back to its switch's datapath, if it has one. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#vif.onRx = null;
    this.#port.close();
  }

  #receive(): void {
    const port = this.#port;
    const m = port.mem;
    port.rxsync();
    for (const k of port.rx) {
      const r = k.r;
      const n = ringNumSlots(m, r);
      let h = ringHead(m, r);
      const tail = ringTail(m, r);
      let gathered = 0;
      // Bounded by the ring: at most n slots between head and tail.
      while (h !== tail) {
        const at = ringSlot(r, h);
        const len = slotLen(m, at);
        const off = port.region.bufOff(slotBufIdx(m, at));
        const more = (slotFlags(m, at) & NS_MOREFRAG) !== 0;
        h = h + 1 === n ? 0 : h + 1;
        if (!more && gathered === 0) {
          this.#deliver(m.u8, off, len);
          continue;
        }
        this.#gather ??= new Uint8Array(MAX_FRAME);
        const g = this.#gather;
        if (gathered + len <= MAX_FRAME) for (let i = 0; i < len; i++) g[gathered + i] = m.u8[off + i]!;
        gathered += len;
        if (more) continue;
        if (gathered <= MAX_FRAME) this.#deliver(this.#gather, 0, gathered);
        gathered = 0;
      }
      nmRingAdvance(m, r, h);
    }
    port.rxsync(); // hands the slots back to the vif
  }

  #deliver(u8: Uint8Array, off: number, len: number): void {
    this.received++;
    const fn = this.#listener;
    if (fn === null) return;
    try {
      fn(u8, off, len);
    } catch (e) {
      // Thrown from here it would end Domain-0's thread and every guest's backend with it.
      this.error = e instanceof Error ? e.message : String(e);
      this.close();
    }
  }
}
