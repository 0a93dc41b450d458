/**
 * Staging grants (Xen's design "Staging grants for network I/O requests"): pages the
 * frontend registers over the control ring (ADD_GREF_MAPPING) so that netback maps each
 * once and then moves frames to and from it with plain copies, where an unregistered grant
 * costs a grant copy (or a map and an unmap) per frame. One table per queue, bounded (the
 * answer to GET_GREF_MAPPING_SIZE), so a guest holds at most that many of Domain-0's
 * mappings through it. The table only records; ctrl.ts maps and unmaps.
 */
import type { Mem } from "../wire/mem.js";

/**
 * Grants one queue may keep mapped (GET_GREF_MAPPING_SIZE): its TX and RX pools at the
 * largest ring (order 4: 4096 requests each). A guest cannot stage more than it has granted,
 * and Domain-0's mappings of one guest are bounded by GrantOps besides.
 */
export const STAGING_GRANTS_PER_QUEUE = 2 * 4096;

/**
 * Grant refs below this are looked up in a flat array (a guest's refs are indices into its
 * grant table, small in practice); larger ones in a Map. The array grows to the largest
 * small ref staged, so it costs 4 bytes per ref of the guest's table at most.
 */
const DIRECT_REFS = 1 << 16;

export class StagingTable {
  readonly max: number;
  /** gref -> slot, for refs >= DIRECT_REFS. */
  readonly #slot = new Map<number, number>();
  /** gref -> slot + 1 (0: not staged), for refs < DIRECT_REFS: the datapath's lookup. */
  #direct = new Int32Array(0);
  #size = 0;
  readonly #free: number[] = [];
  readonly handle: Int32Array;
  /** Byte offset of the mapped page in `mem[slot]`. */
  readonly off: Int32Array;
  readonly writable: Uint8Array;
  readonly mem: (Mem | null)[];

  constructor(max = STAGING_GRANTS_PER_QUEUE) {
    this.max = max;
    this.handle = new Int32Array(max).fill(-1);
    this.off = new Int32Array(max);
    this.writable = new Uint8Array(max);
    this.mem = new Array<Mem | null>(max).fill(null);
    for (let i = max - 1; i >= 0; i--) this.#free.push(i);
  }

  get size(): number {
    return this.#size;
  }

  /** The slot `gref` (a u32, as the rings carry it) is staged in, or -1. */
  find(gref: number): number {
    const d = this.#direct;
    if (gref >= 0 && gref < d.length) return d[gref] - 1;
    if (gref < DIRECT_REFS) return -1;
    return this.#slot.get(gref) ?? -1;
  }

  /**
   * Records a mapping; the caller checked room and that `gref` is new. `gref` is a u32, as
   * `find` is asked with (a ref read as an int32 would be one `find` never matches).
   */
  add(gref: number, handle: number, mem: Mem, off: number, writable: boolean): void {
    if (!(Number.isInteger(gref) && gref >= 0 && gref <= 0xffffffff))
      throw new RangeError(`staging gref ${gref} is not a u32`);
    const s = this.#free.pop();
    if (s === undefined) throw new RangeError("staging table full");
    if (gref >= 0 && gref < DIRECT_REFS) {
      if (gref >= this.#direct.length) {
        const grown = new Int32Array(Math.min(DIRECT_REFS, Math.max(256, 2 * (gref + 1))));
        grown.set(this.#direct);
        this.#direct = grown;
      }
      this.#direct[gref] = s + 1;
    } else this.#slot.set(gref, s);
    this.#size++;
    this.handle[s] = handle;
    this.mem[s] = mem;
    this.off[s] = off;
    this.writable[s] = writable ? 1 : 0;
  }

  /** Forgets `gref`: its map handle, or -1 when it was not staged. */
  remove(gref: number): number {
    const s = this.find(gref);
    if (s < 0) return -1;
    if (gref < DIRECT_REFS) this.#direct[gref] = 0;
    else this.#slot.delete(gref);
    this.#size--;
    const h = this.handle[s];
    this.handle[s] = -1;
    this.mem[s] = null;
    this.#free.push(s);
    return h;
  }

  /** Forgets every grant; returns their map handles. */
  clear(): number[] {
    const hs: number[] = [];
    for (const g of [...this.#slot.keys()]) hs.push(this.remove(g));
    const d = this.#direct;
    for (let g = 0; g < d.length; g++) if (d[g] !== 0) hs.push(this.remove(g));
    return hs;
  }
}
