/**
 * The hypervisor side of grant tables: map, unmap and batched copy, run in the thread of
 * the domain that asks (the privileged driver domain holds every guest's memory, grant
 * frames and active table; a guest holds only its own, so anything foreign is an unknown
 * domain to it).
 *
 * Every check Xen 4.17 makes on a v1 entry: ref in range (GNTST_bad_gntref), type
 * permit_access and granted to the caller (GNTST_general_error), no write through a
 * readonly entry (GNTST_general_error), frame inside the granter's memory, offset + len
 * inside one page (GNTST_bad_copy_arg). While an entry is mapped or a copy runs through it,
 * it carries GTF_reading (and GTF_writing for write access); the bits are cleared only when
 * the last use ends. Pin counts live in the granter's active table, a SharedArrayBuffer only
 * privileged threads hold, guarded per entry by a lock bit. Guest input never throws here:
 * every failure is a GNTST_* status.
 *
 * What a hostile granter cannot do here: hold the caller's thread (an entry whose
 * flags|domid word keeps changing under the swap fails after five tries, as in Xen); take
 * the map handles other granters' grants need (each granter has its own bound on live
 * mappings, hence on the pins they hold); or make a handle kept across an await end some
 * other granter's mapping after its own were ended (handles carry a generation).
 */

import { copyBytes } from "../wire/copy.js";
import type { Mem } from "../wire/mem.js";
import {
  DOMID_SELF,
  GNTCOPY_dest_gref,
  GNTCOPY_source_gref,
  GNTST_bad_copy_arg,
  GNTST_bad_domain,
  GNTST_bad_gntref,
  GNTST_bad_handle,
  GNTST_bad_page,
  GNTST_general_error,
  GNTST_no_device_space,
  GNTST_okay,
  GNTST_permission_denied,
  GNTTAB_COPY_SIZE,
  GRANT_ENTRY_V1_SIZE,
  GTF_permit_access,
  GTF_reading,
  GTF_readonly,
  GTF_type_mask,
  GTF_writing,
  gcopyDestDomid,
  gcopyDestGmfnHi,
  gcopyDestGmfnLo,
  gcopyDestOffset,
  gcopyDestRef,
  gcopyFlags,
  gcopyLen,
  gcopySetStatus,
  gcopySrcDomid,
  gcopySrcGmfnHi,
  gcopySrcGmfnLo,
  gcopySrcOffset,
  gcopySrcRef,
} from "../wire/xen/grant.js";
import { PAGE_SHIFT, PAGE_SIZE } from "./memory.js";

/** Int32 words per active entry: [lock|pins, frame, pinning domid, spare]. */
const ACT_STRIDE = 4;
const ACT_LOCK = 0x80000000 | 0;
const READ_ONE = 1;
const WRITE_ONE = 1 << 15;
const PIN_MASK = 0x7fff;

export function createActiveTable(nEntries: number): SharedArrayBuffer {
  return new SharedArrayBuffer(nEntries * ACT_STRIDE * 4);
}

/** What the hypervisor side knows of one granting domain. */
export interface GrantingDomain {
  readonly domid: number;
  /** The domain's memory. */
  readonly mem: Mem;
  readonly nPages: number;
  /** Its grant frames (v1 entries). */
  readonly table: Mem;
  readonly nEntries: number;
  /** Pin counts, shared by privileged threads only. */
  readonly active: Int32Array;
}

export function grantingDomain(
  domid: number,
  memory: SharedArrayBuffer,
  table: Mem,
  active: SharedArrayBuffer,
  mem: Mem,
): GrantingDomain {
  return {
    domid,
    mem,
    nPages: memory.byteLength >>> PAGE_SHIFT,
    table,
    nEntries: table.byteLength / GRANT_ENTRY_V1_SIZE,
    active: new Int32Array(active),
  };
}

/**
 * A map handle is a plain non-negative number: the slot in bits 0-19 and the slot's
 * generation in bits 20-30. Ending a mapping bumps its slot's generation, so a handle kept
 * across an await after its granter died (releaseDomain ended it) cannot end the mapping
 * that reuses the slot: it fails with GNTST_bad_handle. Freed slots are reused oldest
 * first, so a stale handle names its slot's generation again only after 2^11 reuses.
 */
const SLOT_BITS = 20;
const SLOT_MASK = (1 << SLOT_BITS) - 1;
const MAX_SLOTS = 1 << SLOT_BITS;
const GEN_MASK = 0x7ff;

/**
 * Xen gives up on a grant entry whose flags|domid word keeps changing under its
 * compare-and-swap after five tries (_set_status_v1: "Shared grant entry is unstable").
 */
const CAS_TRIES = 5;

export interface GrantOpsOptions {
  /**
   * Live mappings the caller may hold of one granting domain's grants (Xen's maptrack
   * limit, kept per granter so that one guest's grants can never take the handles every
   * other guest needs). Default: the granter's number of grant entries, one mapping per
   * entry it can grant.
   */
  mapsPerDomain?: number;
}

/** Per granting domain: live mappings of its grants and their bound. */
interface Held {
  maps: number;
  readonly limit: number;
}

export class GrantOps {
  readonly domid: number;
  readonly #self: { mem: Mem; nPages: number };
  readonly #doms = new Map<number, GrantingDomain>();
  readonly #held = new Map<number, Held>();
  readonly #mapsPerDomain: number;
  // Map slots, struct-of-arrays; a free slot has hDom = -1.
  #hDom = new Int32Array(64).fill(-1);
  #hRef = new Int32Array(64);
  #hWrite = new Uint8Array(64);
  #hOff = new Int32Array(64);
  #hGen = new Uint16Array(64);
  // Free slots, a FIFO ring (oldest freed first).
  #freeQ = new Int32Array(64);
  #freeHead = 0;
  #freeN = 0;
  #nextSlot = 0;
  #live = 0;

  constructor(domid: number, self: { mem: Mem; nPages: number }, opts: GrantOpsOptions = {}) {
    this.domid = domid;
    this.#self = self;
    const per = opts.mapsPerDomain ?? 0;
    this.#mapsPerDomain = Number.isInteger(per) && per > 0 ? Math.min(per, MAX_SLOTS) : 0;
  }

  addDomain(d: GrantingDomain): void {
    this.#doms.set(d.domid, d);
    const limit = this.#mapsPerDomain > 0 ? this.#mapsPerDomain : Math.min(d.nEntries, MAX_SLOTS);
    this.#held.set(d.domid, { maps: 0, limit });
  }

  /** What this caller knows of granting domain `domid` (for GrantTransfer). */
  granting(domid: number): GrantingDomain | undefined {
    return this.#doms.get(domid);
  }

  hasDomain(domid: number): boolean {
    return this.#doms.has(domid);
  }

  /** Live mappings, for leak checks. */
  get liveMappings(): number {
    return this.#live;
  }

  /**
   * Pins (readers + writers) held on the active entries of every domain this caller knows,
   * for leak checks: a full scan, not for a hot path.
   */
  pinsHeld(): number {
    let n = 0;
    for (const d of this.#doms.values()) {
      const act = d.active;
      for (let a = 0; a < act.length; a += ACT_STRIDE) {
        const pins = Atomics.load(act, a) & ~ACT_LOCK;
        n += (pins & PIN_MASK) + ((pins >>> 15) & PIN_MASK);
      }
    }
    return n;
  }

  /** Live mappings of `domid`'s grants and their bound (zeros for an unknown domain). */
  mappingsOf(domid: number): { maps: number; limit: number } {
    const h = this.#held.get(domid);
    return h === undefined ? { maps: 0, limit: 0 } : { maps: h.maps, limit: h.limit };
  }

  /**
   * Forgets a dead domain: every mapping of its grants is ended and its pins released.
   * Returns how many mappings were ended.
   */
  releaseDomain(domid: number): number {
    if (!this.#doms.has(domid)) return 0;
    let n = 0;
    for (let s = 0; s < this.#nextSlot; s++) {
      if (this.#hDom[s] !== domid) continue;
      this.#end(s);
      n++;
    }
    this.#doms.delete(domid);
    this.#held.delete(domid);
    return n;
  }

  /**
   * GNTTABOP_map_grant_ref: a handle (>= 0) or a negative GNTST_* status
   * (GNTST_no_device_space once this caller holds its bound of `domid`'s grants). The
   * mapped page is at `mappedOff(handle)` in `mappedMem(handle)`.
   */
  map(domid: number, ref: number, readonly: boolean): number {
    const d = this.#doms.get(domid);
    const held = this.#held.get(domid);
    if (d === undefined || held === undefined) return GNTST_bad_domain;
    if (held.maps >= held.limit) return GNTST_no_device_space;
    const st = this.#acquire(d, ref, !readonly);
    if (st < 0) return st;
    const s = this.#allocSlot();
    if (s < 0) {
      this.#release(d, ref, !readonly);
      return GNTST_no_device_space;
    }
    this.#hDom[s] = domid;
    this.#hRef[s] = ref;
    this.#hWrite[s] = readonly ? 0 : 1;
    this.#hOff[s] = st << PAGE_SHIFT;
    held.maps++;
    this.#live++;
    return s | (this.#hGen[s] << SLOT_BITS);
  }

  /** Byte offset of the mapped page in `mappedMem(handle)`, or -1 for a stale handle. */
  mappedOff(handle: number): number {
    const s = this.#slotOf(handle);
    return s < 0 ? -1 : this.#hOff[s];
  }

  mappedMem(handle: number): Mem {
    const s = this.#slotOf(handle);
    const d = s < 0 ? undefined : this.#doms.get(this.#hDom[s]);
    if (d === undefined) throw new RangeError(`Grant handle ${handle} is not mapped`);
    return d.mem;
  }

  /** GNTTABOP_unmap_grant_ref: GNTST_okay, or GNTST_bad_handle for an unknown or stale handle. */
  unmap(handle: number): number {
    const s = this.#slotOf(handle);
    if (s < 0) return GNTST_bad_handle;
    this.#end(s);
    return GNTST_okay;
  }

  /** The live slot `handle` names, or -1 (not a handle, ended, or an older generation). */
  #slotOf(handle: number): number {
    if ((handle | 0) !== handle || handle < 0) return -1;
    const s = handle & SLOT_MASK;
    if (s >= this.#nextSlot || this.#hDom[s] < 0 || this.#hGen[s] !== handle >>> SLOT_BITS) return -1;
    return s;
  }

  #end(s: number): void {
    const domid = this.#hDom[s];
    const d = this.#doms.get(domid);
    if (d !== undefined) this.#release(d, this.#hRef[s], this.#hWrite[s] === 1);
    const held = this.#held.get(domid);
    if (held !== undefined) held.maps--;
    this.#hDom[s] = -1;
    this.#hGen[s] = (this.#hGen[s] + 1) & GEN_MASK;
    this.#freeQ[(this.#freeHead + this.#freeN) % this.#freeQ.length] = s;
    this.#freeN++;
    this.#live--;
  }

  /**
   * GNTTABOP_copy over `n` gnttab_copy structs at `base` in `ops`: each op gets its own
   * status; returns how many failed. Consecutive ops through the same entry keep it pinned
   * (one pin per run, as Xen caches the last source and destination of a batch).
   */
  copy(ops: Mem, base: number, n: number): number {
    let failed = 0;
    let sDom: GrantingDomain | null = null;
    let sRef = -1;
    let sFrame = -1;
    let dDom: GrantingDomain | null = null;
    let dRef = -1;
    let dFrame = -1;
    for (let i = 0; i < n; i++) {
      const at = base + i * GNTTAB_COPY_SIZE;
      const flags = gcopyFlags(ops, at);
      const len = gcopyLen(ops, at);
      const srcOff = gcopySrcOffset(ops, at);
      const dstOff = gcopyDestOffset(ops, at);
      if (srcOff + len > PAGE_SIZE || dstOff + len > PAGE_SIZE) {
        gcopySetStatus(ops, at, GNTST_bad_copy_arg);
        failed++;
        continue;
      }
      // Source.
      let srcMem: Mem;
      let srcPage: number;
      if (flags & GNTCOPY_source_gref) {
        const dom = this.#domOf(gcopySrcDomid(ops, at));
        const ref = gcopySrcRef(ops, at);
        if (dom === null) {
          gcopySetStatus(ops, at, GNTST_bad_domain);
          failed++;
          continue;
        }
        if (dom !== sDom || ref !== sRef) {
          if (sDom !== null) this.#release(sDom, sRef, false);
          sDom = null;
          const st = this.#acquire(dom, ref, false);
          if (st < 0) {
            gcopySetStatus(ops, at, st);
            failed++;
            continue;
          }
          sDom = dom;
          sRef = ref;
          sFrame = st;
        }
        srcMem = dom.mem;
        srcPage = sFrame;
      } else {
        const st = this.#localFrame(gcopySrcDomid(ops, at), gcopySrcGmfnLo(ops, at), gcopySrcGmfnHi(ops, at));
        if (st < 0) {
          gcopySetStatus(ops, at, st);
          failed++;
          continue;
        }
        srcMem = this.#self.mem;
        srcPage = st;
      }
      // Destination.
      let dstMem: Mem;
      let dstPage: number;
      if (flags & GNTCOPY_dest_gref) {
        const dom = this.#domOf(gcopyDestDomid(ops, at));
        const ref = gcopyDestRef(ops, at);
        if (dom === null) {
          gcopySetStatus(ops, at, GNTST_bad_domain);
          failed++;
          continue;
        }
        if (dom !== dDom || ref !== dRef) {
          if (dDom !== null) this.#release(dDom, dRef, true);
          dDom = null;
          const st = this.#acquire(dom, ref, true);
          if (st < 0) {
            gcopySetStatus(ops, at, st);
            failed++;
            continue;
          }
          dDom = dom;
          dRef = ref;
          dFrame = st;
        }
        dstMem = dom.mem;
        dstPage = dFrame;
      } else {
        const st = this.#localFrame(
          gcopyDestDomid(ops, at),
          gcopyDestGmfnLo(ops, at),
          gcopyDestGmfnHi(ops, at),
        );
        if (st < 0) {
          gcopySetStatus(ops, at, st);
          failed++;
          continue;
        }
        dstMem = this.#self.mem;
        dstPage = st;
      }
      copyBytes(dstMem, dstPage * PAGE_SIZE + dstOff, srcMem, srcPage * PAGE_SIZE + srcOff, len);
      gcopySetStatus(ops, at, GNTST_okay);
    }
    if (sDom !== null) this.#release(sDom, sRef, false);
    if (dDom !== null) this.#release(dDom, dRef, true);
    return failed;
  }

  #domOf(domid: number): GrantingDomain | null {
    if (domid === DOMID_SELF) domid = this.domid;
    return this.#doms.get(domid) ?? null;
  }

  /** A frame of the caller's own memory named by number: only the caller's own. */
  #localFrame(domid: number, gmfn: number, gmfnHi: number): number {
    if (domid !== DOMID_SELF && domid !== this.domid) return GNTST_permission_denied;
    if (gmfnHi !== 0 || gmfn >= this.#self.nPages) return GNTST_bad_page;
    return gmfn;
  }

  #allocSlot(): number {
    if (this.#freeN > 0) {
      const s = this.#freeQ[this.#freeHead];
      this.#freeHead = (this.#freeHead + 1) % this.#freeQ.length;
      this.#freeN--;
      return s;
    }
    if (this.#nextSlot >= MAX_SLOTS) return -1;
    if (this.#nextSlot === this.#hDom.length) this.#grow();
    return this.#nextSlot++;
  }

  /** Doubles the slot arrays; called only with no free slot, so the free ring starts empty. */
  #grow(): void {
    const n = this.#hDom.length * 2;
    const dom = new Int32Array(n).fill(-1);
    dom.set(this.#hDom);
    const ref = new Int32Array(n);
    ref.set(this.#hRef);
    const wr = new Uint8Array(n);
    wr.set(this.#hWrite);
    const off = new Int32Array(n);
    off.set(this.#hOff);
    const gen = new Uint16Array(n);
    gen.set(this.#hGen);
    this.#hDom = dom;
    this.#hRef = ref;
    this.#hWrite = wr;
    this.#hOff = off;
    this.#hGen = gen;
    this.#freeQ = new Int32Array(n);
    this.#freeHead = 0;
  }

  /**
   * Pins `ref` of `d` for reading (or writing): returns the granted frame, or a negative
   * GNTST_* status with nothing pinned. The frame is read from the guest's entry once, at
   * the first pin, and used until the last unpin, whatever the guest writes meanwhile.
   */
  #acquire(d: GrantingDomain, ref: number, write: boolean): number {
    if (!Number.isInteger(ref) || ref < 0 || ref >= d.nEntries) return GNTST_bad_gntref;
    const act = d.active;
    const a = ref * ACT_STRIDE;
    lock(act, a);
    const pins = act[a] & ~ACT_LOCK;
    const readers = pins & PIN_MASK;
    const writers = (pins >>> 15) & PIN_MASK;
    if (readers + writers === 0 || (write && writers === 0)) {
      const st = this.#markInUse(d, ref, write, readers + writers === 0);
      if (st < 0) {
        unlock(act, a, pins);
        return st;
      }
      if (readers + writers === 0) {
        act[a + 1] = st;
        act[a + 2] = this.domid;
      }
    } else if (act[a + 2] !== this.domid) {
      unlock(act, a, pins);
      return GNTST_general_error;
    }
    // Xen refuses a pin that risks overflowing the entry's counter as a general error.
    if ((write ? writers : readers) === PIN_MASK) {
      unlock(act, a, pins);
      return GNTST_general_error;
    }
    const frame = act[a + 1];
    unlock(act, a, pins + (write ? WRITE_ONE : READ_ONE));
    return frame;
  }

  /**
   * Validates the guest's entry and sets GTF_reading (and GTF_writing) with a
   * compare-and-swap on its flags|domid word, so a concurrent revoke either wins before
   * the check or finds the entry in use. Returns the frame (first pin) or 0, or a status:
   * GNTST_general_error also when the guest keeps rewriting the word under the swap, so a
   * hostile granter cannot hold the caller's thread here.
   */
  #markInUse(d: GrantingDomain, ref: number, write: boolean, first: boolean): number {
    const w32 = d.table.u32;
    const wi = (ref * GRANT_ENTRY_V1_SIZE) >>> 2;
    for (let tries = 1; ; tries++) {
      const word = Atomics.load(w32, wi);
      const flags = word & 0xffff;
      const grantee = word >>> 16;
      if ((flags & GTF_type_mask) !== GTF_permit_access || grantee !== this.domid) return GNTST_general_error;
      if (write && (flags & GTF_readonly) !== 0) return GNTST_general_error;
      let frame = 0;
      if (first) {
        frame = Atomics.load(w32, wi + 1);
        if (frame >= d.nPages) return GNTST_general_error;
      }
      const next = (word | GTF_reading | (write ? GTF_writing : 0)) >>> 0;
      if (Atomics.compareExchange(w32, wi, word, next) === word) return frame;
      if (tries === CAS_TRIES) return GNTST_general_error;
    }
  }

  #release(d: GrantingDomain, ref: number, write: boolean): void {
    const act = d.active;
    const a = ref * ACT_STRIDE;
    lock(act, a);
    const pins = (act[a] & ~ACT_LOCK) - (write ? WRITE_ONE : READ_ONE);
    const readers = pins & PIN_MASK;
    const writers = (pins >>> 15) & PIN_MASK;
    const f16 = d.table.u16;
    const fi = (ref * GRANT_ENTRY_V1_SIZE) >>> 1;
    if (readers + writers === 0) Atomics.and(f16, fi, ~(GTF_reading | GTF_writing) & 0xffff);
    else if (writers === 0 && write) Atomics.and(f16, fi, ~GTF_writing & 0xffff);
    unlock(act, a, pins);
  }
}

function lock(act: Int32Array, a: number): void {
  for (;;) {
    const v = Atomics.load(act, a);
    if ((v & ACT_LOCK) === 0 && Atomics.compareExchange(act, a, v, v | ACT_LOCK) === v) return;
  }
}

function unlock(act: Int32Array, a: number, pins: number): void {
  Atomics.store(act, a, pins & ~ACT_LOCK);
}
