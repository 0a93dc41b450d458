/**
 * GNTTABOP_transfer: the caller gives one of its pages to a guest that offered a page in
 * a GTF_accept_transfer entry (page flipping, the receive path Xen's first netback used).
 *
 * A worker cannot remap memory: every domain's pages are slots of its own
 * SharedArrayBuffer, fixed for its life. So a transfer here moves the page's *contents*
 * and the *ownership records*, not a mapping: the whole 4 KiB of the caller's page is
 * copied into the slot the guest offered (so the guest's page holds exactly what the
 * caller's page held, and nothing of what the guest's slot held before), the caller's
 * slot is zeroed (scrubbed) and recorded as no longer the caller's until it repopulates
 * it ({@link GrantTransfer.populate}, XENMEM_populate_physmap's part). The cost is a
 * 4 KiB copy plus a 4 KiB clear per transfer whatever the frame's length, against a copy
 * of just the frame's bytes on the grant-copy path.
 *
 * Accounting, as Xen keeps it: the guest's page count is taken down by one when its
 * offered page is taken (at commit) and up by one when the transferred page lands, so a
 * transfer never grows it; the caller's count drops by one and returns only through
 * populate, bounded by its maximum; a page that is not the caller's (never populated, or
 * already transferred) fails with GNTST_bad_page, so no page is ever the caller's and the
 * guest's at once. The entry goes GTF_accept_transfer → | GTF_transfer_committed (a
 * compare-and-swap that fails if the guest revoked the offer meanwhile) → frame written →
 * | GTF_transfer_completed. Guest input never throws here: every failure is a GNTST_*.
 */
import type { Mem } from "../wire/mem.js";
import {
  GNTST_bad_domain,
  GNTST_bad_gntref,
  GNTST_bad_page,
  GNTST_general_error,
  GNTST_okay,
  GRANT_ENTRY_V1_SIZE,
  GTF_accept_transfer,
  GTF_transfer_committed,
  GTF_transfer_completed,
} from "../wire/xen/grant.js";
import type { GrantingDomain } from "./grant-ops.js";
import { PAGE_SIZE } from "./memory.js";

/** As in Xen's gnttab_prepare_for_transfer: an entry that keeps changing under the swap. */
const CAS_TRIES = 5;

/** The hypervisor's page count of one guest. */
interface GuestPages {
  tot: number;
}

export class GrantTransfer {
  readonly domid: number;
  readonly #self: { mem: Mem; nPages: number };
  readonly #lookup: (domid: number) => GrantingDomain | undefined;
  /** 1 = the caller's page is populated (its own), 0 = given away and not yet repopulated. */
  readonly #owned: Uint8Array;
  #tot: number;
  readonly #guests = new Map<number, GuestPages>();
  /**
   * A view of each own page that was transferred, made once: a page's copy is native, and
   * a fresh view per transfer would be an allocation per frame on a flip vif's hot path.
   */
  readonly #pageViews: (Uint8Array | undefined)[] = [];
  /** Transfers that succeeded, for figures. */
  transfers = 0;

  constructor(
    domid: number,
    self: { mem: Mem; nPages: number },
    lookup: (domid: number) => GrantingDomain | undefined,
  ) {
    this.domid = domid;
    this.#self = self;
    this.#lookup = lookup;
    this.#owned = new Uint8Array(self.nPages).fill(1);
    this.#tot = self.nPages;
  }

  /** The caller's page count (its populated pages). */
  get pages(): number {
    return this.#tot;
  }

  /** Whether the caller owns `page` now. */
  owns(page: number): boolean {
    return Number.isInteger(page) && page >= 0 && page < this.#owned.length && this.#owned[page] === 1;
  }

  /** The hypervisor's page count of guest `domid` (its memory size until a transfer touches it). */
  guestPages(domid: number): number {
    const g = this.#guests.get(domid);
    if (g !== undefined) return g.tot;
    const d = this.#lookup(domid);
    return d === undefined ? 0 : d.nPages;
  }

  /**
   * Gives `page` back to the caller after a transfer took it (a fresh, zeroed page in the
   * same slot). GNTST_okay, or GNTST_bad_page for a page the caller still owns or that is
   * outside its memory.
   */
  populate(page: number): number {
    if (!Number.isInteger(page) || page < 0 || page >= this.#owned.length) return GNTST_bad_page;
    if (this.#owned[page] === 1 || this.#tot >= this.#self.nPages) return GNTST_bad_page;
    this.#owned[page] = 1;
    this.#tot++;
    return GNTST_okay;
  }

  /** GNTTABOP_transfer of the caller's `page` into `domid`'s accept-transfer entry `ref`. */
  transfer(page: number, domid: number, ref: number): number {
    if (!this.owns(page)) return GNTST_bad_page;
    const d = domid === this.domid ? undefined : this.#lookup(domid);
    if (d === undefined) return GNTST_bad_domain;
    if (!Number.isInteger(ref) || ref < 0 || ref >= d.nEntries) return GNTST_bad_gntref;
    let g = this.#guests.get(domid);
    if (g === undefined) {
      g = { tot: d.nPages };
      this.#guests.set(domid, g);
    }
    const w32 = d.table.u32;
    const wi = (ref * GRANT_ENTRY_V1_SIZE) >>> 2;
    // The frame is read before the commit and only this local is used after it: a guest
    // rewriting the entry meanwhile changes nothing here.
    let frame = -1;
    for (let tries = 1; ; tries++) {
      const word = Atomics.load(w32, wi);
      if ((word & 0xffff) !== GTF_accept_transfer || word >>> 16 !== this.domid) return GNTST_general_error;
      frame = Atomics.load(w32, wi + 1);
      if (frame >= d.nPages) return GNTST_general_error;
      const next = (word | GTF_transfer_committed) >>> 0;
      if (Atomics.compareExchange(w32, wi, word, next) === word) break;
      if (tries === CAS_TRIES) return GNTST_general_error;
    }
    // Committed: the offered page is the hypervisor's now, the guest can no longer revoke.
    g.tot--;
    // Multiplied, not shifted: a frame past 2 GiB would shift into a negative offset.
    const src = page * PAGE_SIZE;
    let view = this.#pageViews[page];
    if (view === undefined) {
      view = this.#self.mem.u8.subarray(src, src + PAGE_SIZE);
      this.#pageViews[page] = view;
    }
    d.mem.u8.set(view, frame * PAGE_SIZE);
    this.#self.mem.u8.fill(0, src, src + PAGE_SIZE);
    this.#owned[page] = 0;
    this.#tot--;
    g.tot++;
    Atomics.store(w32, wi + 1, frame);
    // Published last: the guest reads the frame only after it sees the completed bit.
    Atomics.or(d.table.u16, (ref * GRANT_ENTRY_V1_SIZE) >>> 1, GTF_transfer_completed);
    this.transfers++;
    return GNTST_okay;
  }
}
