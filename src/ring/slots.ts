/**
 * What both ends of a ring do the same way: write entries at their private producer index
 * (through a bounce buffer for a slot that straddles two pages), publish the index with the
 * notify decision of io/ring.h, and copy entries the peer produced into private memory.
 */
import { type Mem, privateMem } from "../wire/mem.js";
import { SRING_REQ_EVENT, SRING_REQ_PROD, SRING_RSP_EVENT, SRING_RSP_PROD } from "../wire/xen/sring.js";
import type { RingArea } from "./area.js";

/** Writes one entry at a time into `area`, bouncing straddling slots through private memory. */
export class SlotWriter {
  readonly #area: RingArea;
  readonly #stage: Mem;
  #staged = -1;
  /** Where the offset returned by `begin` points: the ring itself or the bounce buffer. */
  wmem: Mem;

  constructor(area: RingArea) {
    this.#area = area;
    this.#stage = privateMem(area.entrySize);
    this.wmem = area.mem;
  }

  /** The byte offset in `wmem` to write slot `slot` at. */
  begin(slot: number): number {
    const off = this.#area.slotOff[slot];
    if (off >= 0) {
      this.wmem = this.#area.mem;
      return off;
    }
    this.#staged = slot;
    this.wmem = this.#stage;
    return 0;
  }

  end(): void {
    if (this.#staged < 0) return;
    this.#area.writeSlot(this.#staged, this.#stage, 0);
    this.#staged = -1;
    this.wmem = this.#area.mem;
  }
}

/**
 * RING_PUSH_*_AND_CHECK_NOTIFY: stores `now` at `prodI` (the atomic store orders the entries
 * before it) and returns whether the peer's event index at `eventI` lies in (old, now].
 */
export function publish(u32: Uint32Array, prodI: number, eventI: number, old: number, now: number): boolean {
  Atomics.store(u32, prodI, now);
  const evt = Atomics.load(u32, eventI);
  return (now - evt) >>> 0 < (now - old) >>> 0;
}

/** Copies `n` entries from ring index `idx` on into `dst` at `at`; returns the next index. */
export function copySlots(area: RingArea, idx: number, n: number, dst: Mem, at: number): number {
  const mask = area.nrEnts - 1;
  const esz = area.entrySize;
  const nw = area.words;
  const slotOff = area.slotOff;
  const src = area.mem.u32;
  const d = dst.u32;
  let di = at >>> 2;
  let i = 0;
  while (i < n) {
    const slot = idx & mask;
    const off = slotOff[slot];
    if (off < 0) {
      area.readSlot(slot, dst, di << 2);
      di += nw;
      idx = (idx + 1) >>> 0;
      i++;
      continue;
    }
    // The slots after this one that end within its page lie back to back: one word loop for
    // them all rather than a slot at a time.
    const inPage = (4096 - (off & 4095)) / esz;
    const run = Math.min(n - i, mask + 1 - slot, inPage | 0);
    const words = run * nw;
    const si = off >>> 2;
    for (let w = 0; w < words; w++) d[di + w] = src[si + w];
    di += words;
    idx = (idx + run) >>> 0;
    i += run;
  }
  return idx;
}

/** Uint32 indices of the four sring header words of `area`. */
export function sringWords(area: RingArea): {
  reqProd: number;
  reqEvent: number;
  rspProd: number;
  rspEvent: number;
} {
  return {
    reqProd: (area.hdr + SRING_REQ_PROD) >>> 2,
    reqEvent: (area.hdr + SRING_REQ_EVENT) >>> 2,
    rspProd: (area.hdr + SRING_RSP_PROD) >>> 2,
    rspEvent: (area.hdr + SRING_RSP_EVENT) >>> 2,
  };
}

/**
 * What the two ends of a ring hold alike: the area, the header word indices, the entry
 * writer and the producer index last published. FrontRing produces requests, BackRing
 * responses; each keeps its own private consumer and producer indices.
 */
export abstract class RingEnd {
  readonly area: RingArea;
  readonly nrEnts: number;
  protected readonly mask: number;
  protected readonly u32: Uint32Array;
  protected readonly reqProdI: number;
  protected readonly reqEventI: number;
  protected readonly rspProdI: number;
  protected readonly rspEventI: number;
  protected readonly writer: SlotWriter;
  /** The producer index this end last published. */
  protected pushed: number;

  protected constructor(area: RingArea, start: number) {
    this.area = area;
    this.nrEnts = area.nrEnts;
    this.mask = area.nrEnts - 1;
    this.u32 = area.mem.u32;
    const w = sringWords(area);
    this.reqProdI = w.reqProd;
    this.reqEventI = w.reqEvent;
    this.rspProdI = w.rspProd;
    this.rspEventI = w.rspEvent;
    this.writer = new SlotWriter(area);
    this.pushed = start;
  }

  /** Where the offset returned by the begin… call points: the ring itself or a bounce buffer. */
  get wmem(): Mem {
    return this.writer.wmem;
  }
}
