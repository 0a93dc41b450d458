/**
 * Where a shared ring lives: its header at the start of the first page and the entry array
 * running on across 1 to 16 pages (ring-page-order 0 to 4) that need not be contiguous in
 * the domain's memory. Slot offsets are computed once, when the ring is set up or mapped;
 * an entry that straddles a page boundary (12-byte TX entries from order 2 on: entry 677
 * spans bytes 8188-8199) is marked and moved word by word through the page table.
 * Entry sizes are multiples of 4 and pages are 4-aligned, so a straddle always splits
 * between two 32-bit words.
 */
import { assert } from "../base/assert.js";
import type { Mem } from "../wire/mem.js";
import { ringEntries, SRING_HDR_SIZE } from "../wire/xen/sring.js";

export const MAX_RING_PAGE_ORDER = 4;
const PAGE = 4096;

export class RingArea {
  readonly mem: Mem;
  /** Byte offset of the sring header. */
  readonly hdr: number;
  readonly entrySize: number;
  readonly words: number;
  readonly nrEnts: number;
  /** Byte offset of each slot, or -1 when the slot straddles two pages. */
  readonly slotOff: Int32Array;
  readonly #pageOff: Int32Array;

  /**
   * `pageOffs`: byte offset in `mem` of each of the ring's pages, in ring order; their
   * count must be a power of two up to 16.
   */
  constructor(mem: Mem, pageOffs: readonly number[], entrySize: number) {
    const n = pageOffs.length;
    assert(
      n >= 1 && n <= 1 << MAX_RING_PAGE_ORDER && (n & (n - 1)) === 0,
      `ring needs 1..16 pages (power of 2), got ${n}`,
    );
    assert(entrySize >= 4 && entrySize % 4 === 0, `ring entry size ${entrySize} is not a multiple of 4`);
    for (const off of pageOffs)
      assert(off % PAGE === 0 && off + PAGE <= mem.byteLength, `bad ring page offset ${off}`);
    this.mem = mem;
    this.hdr = pageOffs[0];
    this.entrySize = entrySize;
    this.words = entrySize >>> 2;
    this.nrEnts = ringEntries(n * PAGE, entrySize);
    this.#pageOff = Int32Array.from(pageOffs);
    this.slotOff = new Int32Array(this.nrEnts);
    for (let s = 0; s < this.nrEnts; s++) {
      const b = SRING_HDR_SIZE + s * entrySize;
      const first = b >>> 12;
      const last = (b + entrySize - 1) >>> 12;
      this.slotOff[s] = first === last ? this.#pageOff[first] + (b & (PAGE - 1)) : -1;
    }
  }

  /** Ring order: log2 of the page count. */
  get order(): number {
    return Math.log2(this.#pageOff.length);
  }

  /** Byte offset of 32-bit word `w` of slot `slot` (works for straddling slots too). */
  wordOff(slot: number, w: number): number {
    const b = SRING_HDR_SIZE + slot * this.entrySize + (w << 2);
    return this.#pageOff[b >>> 12] + (b & (PAGE - 1));
  }

  /** Copies slot `slot` into `dst` (a private Mem) at byte offset `at`. */
  readSlot(slot: number, dst: Mem, at: number): void {
    const src = this.mem.u32;
    const d = dst.u32;
    const di = at >>> 2;
    const off = this.slotOff[slot];
    const nw = this.words;
    if (off >= 0) {
      const si = off >>> 2;
      for (let w = 0; w < nw; w++) d[di + w] = src[si + w];
    } else {
      for (let w = 0; w < nw; w++) d[di + w] = src[this.wordOff(slot, w) >>> 2];
    }
  }

  /** Copies `src` at byte offset `at` into slot `slot`. */
  writeSlot(slot: number, src: Mem, at: number): void {
    const d = this.mem.u32;
    const s = src.u32;
    const si = at >>> 2;
    const off = this.slotOff[slot];
    const nw = this.words;
    if (off >= 0) {
      const di = off >>> 2;
      for (let w = 0; w < nw; w++) d[di + w] = s[si + w];
    } else {
      for (let w = 0; w < nw; w++) d[this.wordOff(slot, w) >>> 2] = s[si + w];
    }
  }
}
