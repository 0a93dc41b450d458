/**
 * A bounded queue of frames waiting for an RX ring (netmap's mbq for the emulated adapter
 * and for the host RX ring): frames are copied in when they arrive and copied into slots at
 * the next rxsync. A full queue, or a frame longer than a buffer, is a drop the caller
 * counts (netmap logs "full hwcur … hwtail … qlen" and drops). Preallocated: one
 * buffer-sized cell per entry, no allocation per frame.
 */
import type { KRing } from "./kring.js";
import { ringSlot, slotBufIdx, slotSetFlags, slotSetLen } from "./layout.js";
import type { NetmapRegion } from "./mem.js";

export class FrameQueue {
  readonly capacity: number;
  readonly cellSize: number;
  readonly #cells: Uint8Array;
  readonly #len: Uint16Array;
  #head = 0;
  #count = 0;

  constructor(capacity: number, cellSize: number) {
    this.capacity = capacity;
    this.cellSize = cellSize;
    this.#cells = new Uint8Array(capacity * cellSize);
    this.#len = new Uint16Array(capacity);
  }

  get length(): number {
    return this.#count;
  }

  /** Copies `frame` in; false (nothing queued) when full or the frame exceeds a cell. */
  push(frame: Uint8Array): boolean {
    if (this.#count === this.capacity || frame.length > this.cellSize) return false;
    const cell = (this.#head + this.#count) % this.capacity;
    this.#cells.set(frame, cell * this.cellSize);
    this.#len[cell] = frame.length;
    this.#count++;
    return true;
  }

  /**
   * The import half of an rxsync: fills the free slots of RX kring `k` from hwtail up to
   * (not onto) the slot before hwcur, moving hwtail. Slots whose buffer is not a valid one
   * (a user's bad NS_BUF_CHANGED already cleaned to 0) stop the import. Returns frames moved.
   */
  drainInto(k: KRing, region: NetmapRegion): number {
    const m = region.mem;
    const size = this.cellSize;
    let moved = 0;
    while (this.#count > 0) {
      const next = k.hwtail + 1 === k.numSlots ? 0 : k.hwtail + 1;
      if (next === k.hwcur) break;
      const s = ringSlot(k.r, k.hwtail);
      const idx = slotBufIdx(m, s);
      const len = this.#len[this.#head];
      if (!region.validBuf(idx) || len > region.bufSize) break;
      const from = this.#head * size;
      m.u8.set(this.#cells.subarray(from, from + len), region.bufOff(idx));
      slotSetLen(m, s, len);
      slotSetFlags(m, s, 0);
      k.hwtail = next;
      this.#head = this.#head + 1 === this.capacity ? 0 : this.#head + 1;
      this.#count--;
      moved++;
    }
    return moved;
  }
}
