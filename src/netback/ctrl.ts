/**
 * netback's control ring service (netif.h "Control ring"): answers every
 * XEN_NETIF_CTRL_TYPE_* request with Linux's statuses, in ring order, and notifies when
 * the frontend asks. Hash messages configure the vif's VifHash (hash.ts); the GREF
 * messages manage the per-queue staging tables (staging.ts), or are NOT_SUPPORTED, as in
 * Linux, when staging is switched off.
 *
 * Tables the frontend names by grant (key, mapping, gref lists) are grant-copied into a
 * Domain-0 page before anything reads them, so the guest cannot change them while they
 * are checked; every check runs before anything is committed (XSA-270: offset + length
 * without overflow and within the table, each entry below the number of queues; a gref
 * list without duplicates, within the bound, every grant mappable, else nothing is
 * added). Each request is read once into locals; a hostile request is answered, never
 * thrown.
 */
import { TOEPLITZ_KEY_MAX } from "../base/toeplitz.js";
import { PAGE_SIZE } from "../hv/memory.js";
import type { BackRing } from "../ring/back.js";
import { type Mem, privateMem } from "../wire/mem.js";
import {
  DOMID_SELF,
  GNTCOPY_dest_gref,
  GNTCOPY_source_gref,
  GNTTAB_COPY_SIZE,
  gcopyWrite,
} from "../wire/xen/grant.js";
import {
  ctrlReqData,
  ctrlReqId,
  ctrlReqType,
  ctrlRspWrite,
  XEN_NETIF_CTRL_ENTRY_SIZE,
  XEN_NETIF_CTRL_HASH_ALGORITHM_NONE,
  XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ,
  XEN_NETIF_CTRL_HASH_TYPE_IPV4,
  XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP,
  XEN_NETIF_CTRL_HASH_TYPE_IPV6,
  XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP,
  XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW,
  XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER,
  XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED,
  XEN_NETIF_CTRL_STATUS_SUCCESS,
  XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING,
  XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING,
  XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE,
  XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS,
  XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE,
  XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
  XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
  XEN_NETIF_CTRL_TYPE_SET_HASH_KEY,
  XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING,
  XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE,
  XEN_NETIF_CTRLF_GREF_readonly,
  XEN_NETIF_GREF_SIZE,
} from "../wire/xen/netif-ctrl.js";
import { HASH_MAPPING_MAX, VifHash } from "./hash.js";
import { STAGING_GRANTS_PER_QUEUE, StagingTable } from "./staging.js";
import type { VifDomain } from "./vif-domain.js";

/** The hash types netback computes (GET_HASH_FLAGS). */
export const CTRL_HASH_FLAGS =
  XEN_NETIF_CTRL_HASH_TYPE_IPV4 |
  XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP |
  XEN_NETIF_CTRL_HASH_TYPE_IPV6 |
  XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP;

/** Requests answered per event before the loop runs other work. */
const CTRL_BUDGET = 64;

export interface NetbackCtrlOptions {
  /** Serve ADD/DEL/GET_GREF_MAPPING (staging grants); false answers NOT_SUPPORTED, as Linux. */
  readonly staging: boolean;
  /** Grants each queue may keep mapped; default STAGING_GRANTS_PER_QUEUE. */
  readonly stagingMax?: number;
}

/** What a vif's queues read of the control ring's state. */
export interface VifCtrl {
  readonly hash: VifHash;
  /** Queue q's staging table (null when staging is off). */
  staging(q: number): StagingTable | null;
}

export type CtrlCounter = "requests" | "success" | "notSupported" | "invalid" | "overflow";

export class NetbackCtrl implements VifCtrl {
  readonly hash = new VifHash();
  readonly #dom: VifDomain;
  readonly #ring: BackRing;
  readonly #port: number;
  readonly #front: number;
  readonly #queues: number;
  readonly #tables: StagingTable[] | null;
  /** One Domain-0 page the frontend's tables are copied into before they are read. */
  #page: number;
  readonly #req = privateMem(XEN_NETIF_CTRL_ENTRY_SIZE);
  readonly #op = privateMem(GNTTAB_COPY_SIZE);
  readonly #mapping = new Uint32Array(HASH_MAPPING_MAX);
  /** grant_ref_t is a u32: refs at or above 2^31 stay the numbers the datapath looks up. */
  readonly #refs = new Uint32Array(PAGE_SIZE / XEN_NETIF_GREF_SIZE);
  readonly #ro = new Uint8Array(PAGE_SIZE / XEN_NETIF_GREF_SIZE);
  readonly #handles = new Int32Array(PAGE_SIZE / XEN_NETIF_GREF_SIZE);
  /** Answers by status, for tests and status. */
  readonly counts: Record<CtrlCounter, number> = {
    requests: 0,
    success: 0,
    notSupported: 0,
    invalid: 0,
    overflow: 0,
  };
  #dead = false;
  #deferred = false;

  constructor(
    dom: VifDomain,
    ring: BackRing,
    port: number,
    frontDomid: number,
    queues: number,
    opts: NetbackCtrlOptions,
  ) {
    this.#dom = dom;
    this.#ring = ring;
    this.#port = port;
    this.#front = frontDomid;
    this.#queues = queues;
    const max = opts.stagingMax ?? STAGING_GRANTS_PER_QUEUE;
    this.#tables = opts.staging ? Array.from({ length: queues }, () => new StagingTable(max)) : null;
    const page = dom.pages.alloc();
    if (page < 0) throw new RangeError(`netback: domain ${dom.domid} has no page for the control ring`);
    this.#page = page;
  }

  staging(q: number): StagingTable | null {
    return this.#tables?.[q] ?? null;
  }

  /** Grants staged over every queue. */
  get stagedGrants(): number {
    let n = 0;
    for (const t of this.#tables ?? []) n += t.size;
    return n;
  }

  /** The control channel's event: answers what the frontend published. */
  run(): boolean {
    if (this.#dead) return false;
    const ring = this.#ring;
    let found = false;
    let budget = CTRL_BUDGET;
    for (;;) {
      while (budget > 0) {
        const n = ring.copyRequests(this.#req, 0, 1);
        if (n < 0) {
          // A request index past what the ring holds: stop serving this ring.
          this.#dead = true;
          return true;
        }
        if (n === 0) break;
        found = true;
        budget--;
        this.#answer();
      }
      if (ring.unpushedResponses > 0 && ring.pushResponsesAndCheckNotify()) this.#dom.evtchn.send(this.#port);
      if (budget === 0) {
        if (!this.#deferred) {
          this.#deferred = true;
          this.#dom.loop.defer(() => {
            this.#deferred = false;
            this.run();
          });
        }
        return found;
      }
      if (!ring.finalCheckForRequests()) return found;
    }
  }

  /**
   * Stops serving and unmaps every staged grant, unless the guest is gone (`alive` false:
   * its mappings ended with it). The queues stopped first, so no frame uses them.
   */
  close(alive: boolean): void {
    if (this.#page < 0) return;
    this.#dead = true;
    for (const t of this.#tables ?? []) {
      for (const h of t.clear()) if (alive && h >= 0) this.#dom.gnt.unmap(h);
    }
    this.#dom.pages.free(this.#page);
    this.#page = -1;
  }

  #answer(): void {
    const r = this.#req;
    const id = ctrlReqId(r, 0);
    const type = ctrlReqType(r, 0);
    const d0 = ctrlReqData(r, 0, 0);
    const d1 = ctrlReqData(r, 0, 1);
    const d2 = ctrlReqData(r, 0, 2);
    this.#data = 0;
    const status = this.#serve(type, d0, d1, d2);
    this.counts.requests++;
    if (status === XEN_NETIF_CTRL_STATUS_SUCCESS) this.counts.success++;
    else if (status === XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED) this.counts.notSupported++;
    else if (status === XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER) this.counts.invalid++;
    else this.counts.overflow++;
    const ring = this.#ring;
    const at = ring.beginResponse();
    ctrlRspWrite(ring.wmem, at, id, type, status, status === XEN_NETIF_CTRL_STATUS_SUCCESS ? this.#data : 0);
    ring.endResponse();
  }

  /** The response's data word for the request being served. */
  #data = 0;

  #serve(type: number, d0: number, d1: number, d2: number): number {
    const h = this.hash;
    switch (type) {
      case XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM:
        if (d0 !== XEN_NETIF_CTRL_HASH_ALGORITHM_NONE && d0 !== XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ)
          return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
        h.algorithm = d0;
        return XEN_NETIF_CTRL_STATUS_SUCCESS;
      case XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS:
        this.#data = CTRL_HASH_FLAGS;
        return XEN_NETIF_CTRL_STATUS_SUCCESS;
      case XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS:
        if ((d0 & ~CTRL_HASH_FLAGS) !== 0) return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
        if (h.algorithm === XEN_NETIF_CTRL_HASH_ALGORITHM_NONE)
          return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
        h.hasher.flags = d0;
        return XEN_NETIF_CTRL_STATUS_SUCCESS;
      case XEN_NETIF_CTRL_TYPE_SET_HASH_KEY:
        return this.#setKey(d0, d1);
      case XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE:
        this.#data = HASH_MAPPING_MAX;
        return XEN_NETIF_CTRL_STATUS_SUCCESS;
      case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE:
        if (d0 > HASH_MAPPING_MAX) return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
        h.size = d0;
        h.mapping.fill(0);
        return XEN_NETIF_CTRL_STATUS_SUCCESS;
      case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING:
        return this.#setMapping(d0, d1, d2);
      case XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE:
        if (this.#tables === null) return XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
        if (d0 >= this.#queues) return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
        this.#data = this.#tables[d0]!.max;
        return XEN_NETIF_CTRL_STATUS_SUCCESS;
      case XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING:
        if (this.#tables === null) return XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
        return this.#addGrefs(d0, d1, d2);
      case XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING:
        if (this.#tables === null) return XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
        return this.#delGrefs(d0, d1, d2);
      default:
        return XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
    }
  }

  /** Grant-copies `len` bytes of the frontend's `gref` (from offset 0) into the page; false on failure. */
  #fetch(gref: number, len: number): boolean {
    if (len === 0) return true;
    gcopyWrite(this.#op, 0, gref, this.#front, 0, this.#page, DOMID_SELF, 0, len, GNTCOPY_source_gref);
    return this.#dom.gnt.copy(this.#op, 0, 1) === 0;
  }

  /** Grant-copies `len` bytes of the page back to the frontend's `gref`; false on failure. */
  #store(gref: number, len: number): boolean {
    if (len === 0) return true;
    gcopyWrite(this.#op, 0, this.#page, DOMID_SELF, 0, gref, this.#front, 0, len, GNTCOPY_dest_gref);
    return this.#dom.gnt.copy(this.#op, 0, 1) === 0;
  }

  get #pageMem(): Mem {
    return this.#dom.memory.mem;
  }

  get #pageOff(): number {
    return this.#page * PAGE_SIZE;
  }

  #setKey(gref: number, len: number): number {
    if (len > TOEPLITZ_KEY_MAX) return XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW;
    if (!this.#fetch(gref, len)) return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
    const key = this.hash.hasher.key;
    key.fill(0);
    const u8 = this.#pageMem.u8;
    const base = this.#pageOff;
    for (let i = 0; i < len; i++) key[i] = u8[base + i];
    this.hash.hasher.keyLen = len;
    return XEN_NETIF_CTRL_STATUS_SUCCESS;
  }

  #setMapping(gref: number, len: number, off: number): number {
    const h = this.hash;
    // XSA-270: the sum (JS numbers: u32 + u32 cannot wrap), the table bound, one page of entries.
    if (off + len > h.size || len > PAGE_SIZE / 4) return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
    if (!this.#fetch(gref, len * 4)) return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
    const u32 = this.#pageMem.u32;
    const base = this.#pageOff >>> 2;
    const m = this.#mapping;
    for (let i = 0; i < len; i++) {
      const q = u32[base + i];
      if (q >= this.#queues) return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
      m[i] = q;
    }
    for (let i = 0; i < len; i++) h.mapping[off + i] = m[i];
    return XEN_NETIF_CTRL_STATUS_SUCCESS;
  }

  /** Copies the gref list in and reads each entry once into #refs/#ro; false on failure. */
  #readList(gref: number, count: number): boolean {
    if (count > PAGE_SIZE / XEN_NETIF_GREF_SIZE || !this.#fetch(gref, count * XEN_NETIF_GREF_SIZE))
      return false;
    const m = this.#pageMem;
    const base = this.#pageOff;
    for (let i = 0; i < count; i++) {
      const at = base + i * XEN_NETIF_GREF_SIZE;
      this.#refs[i] = m.u32[at >>> 2];
      this.#ro[i] = m.u16[(at + 4) >>> 1] & XEN_NETIF_CTRLF_GREF_readonly ? 1 : 0;
    }
    return true;
  }

  #addGrefs(queue: number, gref: number, count: number): number {
    if (queue >= this.#queues) return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
    const t = this.#tables![queue]!;
    if (count > t.max - t.size) return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
    if (!this.#readList(gref, count)) return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
    const refs = this.#refs;
    // No grant twice, in the list or already staged: a second mapping of one page would
    // outlive the DEL that names it once.
    for (let i = 0; i < count; i++) {
      if (t.find(refs[i]) >= 0) return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
      for (let j = 0; j < i; j++) if (refs[j] === refs[i]) return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
    }
    const gnt = this.#dom.gnt;
    const hs = this.#handles;
    for (let i = 0; i < count; i++) {
      const hd = gnt.map(this.#front, refs[i], this.#ro[i] === 1);
      const bad =
        hd < 0 || gnt.mappedOff(hd) < 0 || gnt.mappedOff(hd) + PAGE_SIZE > gnt.mappedMem(hd).byteLength;
      if (bad) {
        if (hd >= 0) gnt.unmap(hd);
        for (let j = 0; j < i; j++) gnt.unmap(hs[j]);
        return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
      }
      hs[i] = hd;
    }
    for (let i = 0; i < count; i++)
      t.add(refs[i], hs[i], gnt.mappedMem(hs[i]), gnt.mappedOff(hs[i]), this.#ro[i] === 0);
    return XEN_NETIF_CTRL_STATUS_SUCCESS;
  }

  #delGrefs(queue: number, gref: number, count: number): number {
    if (queue >= this.#queues) return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
    const t = this.#tables![queue]!;
    if (!this.#readList(gref, count)) return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
    const m = this.#pageMem;
    const base = this.#pageOff;
    let removed = 0;
    for (let i = 0; i < count; i++) {
      const hd = t.remove(this.#refs[i]);
      let st = XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
      if (hd >= 0) {
        this.#dom.gnt.unmap(hd);
        removed++;
        st = XEN_NETIF_CTRL_STATUS_SUCCESS;
      }
      m.u16[(base + i * XEN_NETIF_GREF_SIZE + 6) >>> 1] = st;
    }
    this.#data = removed;
    // The statuses go back into the frontend's list (it is writable, netif.h says).
    if (!this.#store(gref, count * XEN_NETIF_GREF_SIZE)) return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
    return XEN_NETIF_CTRL_STATUS_SUCCESS;
  }
}
