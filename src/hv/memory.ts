/**
 * A domain's memory: one SharedArrayBuffer of 4 KiB pages that only the domain and the
 * privileged driver domain hold. Page numbers are the domain's frame numbers (GFNs), as
 * written in grant entries.
 */
import { assert } from "../base/assert.js";
import { type Mem, memOf } from "../wire/mem.js";

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;

export interface DomainMemory {
  readonly domid: number;
  readonly nPages: number;
  readonly mem: Mem;
}

export function createMemory(domid: number, nPages: number): SharedArrayBuffer {
  assert(Number.isInteger(nPages) && nPages > 0, `domain ${domid}: page count must be positive`);
  return new SharedArrayBuffer(nPages * PAGE_SIZE);
}

export function memoryOf(domid: number, sab: SharedArrayBuffer): DomainMemory {
  return { domid, nPages: sab.byteLength >>> PAGE_SHIFT, mem: memOf(sab) };
}

/**
 * The domain's private page allocator (a guest's own bookkeeping: nothing shared).
 * Pages come from a free stack, so successive allocations are not promised to be
 * contiguous; multi-page users must work with any set of pages.
 */
export class PageAllocator {
  readonly #free: number[] = [];
  readonly #used: Uint8Array;

  constructor(nPages: number, reserved = 0) {
    this.#used = new Uint8Array(nPages);
    for (let p = nPages - 1; p >= reserved; p--) this.#free.push(p);
    for (let p = 0; p < reserved; p++) this.#used[p] = 1;
  }

  get freePages(): number {
    return this.#free.length;
  }

  /** One page, or -1 when memory is exhausted. */
  alloc(): number {
    const p = this.#free.pop();
    if (p === undefined) return -1;
    this.#used[p] = 1;
    return p;
  }

  /** `n` pages (not necessarily contiguous), or null without taking any. */
  allocMany(n: number): number[] | null {
    if (n > this.#free.length) return null;
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(this.alloc());
    return out;
  }

  /**
   * `n` contiguous pages (a netmap passthrough region: Domain-0 views it as one range), the
   * first page's number, or -1 without taking any. A scan of the whole map: setup only.
   */
  allocRun(n: number): number {
    const used = this.#used;
    let run = 0;
    for (let p = used.length - 1; p >= 0; p--) {
      run = used[p] === 0 ? run + 1 : 0;
      if (run < n) continue;
      for (let q = p; q < p + n; q++) used[q] = 1;
      // Compacted in place: a spread of a big guest's free list overflows the call stack.
      const free = this.#free;
      let w = 0;
      for (let i = 0; i < free.length; i++) if (used[free[i]] === 0) free[w++] = free[i];
      free.length = w;
      return p;
    }
    return -1;
  }

  free(page: number): void {
    if (this.#used[page] !== 1) assert(false, `page ${page} freed twice or never allocated`);
    this.#used[page] = 0;
    this.#free.push(page);
  }
}
