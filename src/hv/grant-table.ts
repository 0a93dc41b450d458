/**
 * The granting side of a v1 grant table. The table's frames are a SharedArrayBuffer that
 * the owning domain writes directly (as a Xen guest writes its mapped grant frames) and the
 * privileged domain reads when it maps or copies. Granting writes domid and frame first and
 * publishes the flags last; revoking is a compare-and-swap on the flags that fails while
 * the hypervisor side holds the entry (GTF_reading/GTF_writing).
 */
import { assert } from "../base/assert.js";
import type { Mem } from "../wire/mem.js";
import {
  GNTTAB_NR_RESERVED_ENTRIES,
  GRANT_ENTRY_V1_SIZE,
  GTF_accept_transfer,
  GTF_permit_access,
  GTF_reading,
  GTF_readonly,
  GTF_transfer_committed,
  GTF_transfer_completed,
  GTF_writing,
} from "../wire/xen/grant.js";

/** endTransfer: the offer was withdrawn before any transfer, the page stays the guest's. */
export const TRANSFER_REVOKED = -1;
/** endTransfer: a transfer is committed but not completed yet; ask again later. */
export const TRANSFER_PENDING = -2;

export const GRANTS_PER_FRAME = 4096 / GRANT_ENTRY_V1_SIZE;

export function createGrantTable(nFrames: number): SharedArrayBuffer {
  assert(Number.isInteger(nFrames) && nFrames > 0, "grant table needs at least one frame");
  return new SharedArrayBuffer(nFrames * 4096);
}

export class GrantTable {
  readonly domid: number;
  readonly nEntries: number;
  readonly #m: Mem;
  readonly #free: number[] = [];
  readonly #live: Uint8Array;
  #nLive = 0;

  constructor(domid: number, table: Mem) {
    this.domid = domid;
    this.#m = table;
    this.nEntries = table.byteLength / GRANT_ENTRY_V1_SIZE;
    this.#live = new Uint8Array(this.nEntries);
    for (let r = this.nEntries - 1; r >= GNTTAB_NR_RESERVED_ENTRIES; r--) this.#free.push(r);
  }

  /** Grants still published (not yet ended). */
  get liveGrants(): number {
    return this.#nLive;
  }

  get freeGrants(): number {
    return this.#free.length;
  }

  /** gnttab_grant_foreign_access: a new gref for `frame`, or -1 when the table is full. */
  grantAccess(toDomid: number, frame: number, readonly: boolean): number {
    const ref = this.#free.pop();
    if (ref === undefined) return -1;
    this.grantAccessRef(ref, toDomid, frame, readonly);
    return ref;
  }

  /** Grants at a caller-chosen ref (the reserved console/xenstore refs). */
  grantAccessRef(ref: number, toDomid: number, frame: number, readonly: boolean): void {
    // Not assert(cond, `...${ref}`): the message would be built on every call (a per-frame string).
    if (!(ref >= 0 && ref < this.nEntries)) assert(false, `gref ${ref} outside the table`);
    const m = this.#m;
    const at = ref * GRANT_ENTRY_V1_SIZE;
    m.u16[(at + 2) >>> 1] = toDomid;
    m.u32[(at + 4) >>> 2] = frame;
    // Published last: the hypervisor side must never see the flags before domid and frame.
    Atomics.store(m.u16, at >>> 1, GTF_permit_access | (readonly ? GTF_readonly : 0));
    if (this.#live[ref] === 0) {
      this.#live[ref] = 1;
      this.#nLive++;
    }
  }

  /** True while the other side has the entry mapped or is copying through it. */
  isInUse(ref: number): boolean {
    return (Atomics.load(this.#m.u16, (ref * GRANT_ENTRY_V1_SIZE) >>> 1) & (GTF_reading | GTF_writing)) !== 0;
  }

  /**
   * gnttab_end_foreign_access_ref: revokes the grant unless it is in use; returns whether
   * it was revoked. A revoked ref returns to the free list.
   */
  endAccess(ref: number): boolean {
    if (!(ref >= 0 && ref < this.nEntries && this.#live[ref] === 1))
      assert(false, `gref ${ref} is not granted`);
    const flags16 = this.#m.u16;
    const i = (ref * GRANT_ENTRY_V1_SIZE) >>> 1;
    for (;;) {
      const flags = Atomics.load(flags16, i);
      if ((flags & (GTF_reading | GTF_writing)) !== 0) return false;
      if (Atomics.compareExchange(flags16, i, flags, 0) === flags) break;
    }
    this.#live[ref] = 0;
    this.#nLive--;
    if (ref >= GNTTAB_NR_RESERVED_ENTRIES) this.#free.push(ref);
    return true;
  }

  /**
   * gnttab_grant_foreign_transfer: offers page `frame` to receive a page from `fromDomid`
   * (a GTF_accept_transfer entry). Returns the ref, or -1 when the table is full.
   */
  offerTransfer(fromDomid: number, frame: number): number {
    const ref = this.#free.pop();
    if (ref === undefined) return -1;
    const m = this.#m;
    const at = ref * GRANT_ENTRY_V1_SIZE;
    m.u16[(at + 2) >>> 1] = fromDomid;
    m.u32[(at + 4) >>> 2] = frame;
    Atomics.store(m.u16, at >>> 1, GTF_accept_transfer);
    this.#live[ref] = 1;
    this.#nLive++;
    return ref;
  }

  /**
   * gnttab_end_foreign_transfer_ref without its spin: the frame now in the offered slot
   * (>= 0) once a transfer completed, TRANSFER_REVOKED when the offer was withdrawn
   * untouched (both free the ref), or TRANSFER_PENDING while a transfer is committed but
   * not complete (the ref stays live; nothing waits here).
   */
  endTransfer(ref: number): number {
    if (!(ref >= 0 && ref < this.nEntries && this.#live[ref] === 1))
      assert(false, `gref ${ref} is not granted`);
    const m = this.#m;
    const i = (ref * GRANT_ENTRY_V1_SIZE) >>> 1;
    let result = TRANSFER_REVOKED;
    for (;;) {
      const flags = Atomics.load(m.u16, i);
      if ((flags & GTF_transfer_committed) !== 0) {
        if ((flags & GTF_transfer_completed) === 0) return TRANSFER_PENDING;
        result = Atomics.load(m.u32, (ref * GRANT_ENTRY_V1_SIZE + 4) >>> 2);
        Atomics.store(m.u16, i, 0);
        break;
      }
      if (Atomics.compareExchange(m.u16, i, flags, 0) === flags) break;
    }
    this.#live[ref] = 0;
    this.#nLive--;
    if (ref >= GNTTAB_NR_RESERVED_ENTRIES) this.#free.push(ref);
    return result;
  }
}
