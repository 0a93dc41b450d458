/**
 * One queue's transmit side. Frames are copied into a pool of pages granted read-only to
 * the backend once, at attach (persistent grants: the backend maps or copies from them, and
 * every slot names its gref); a frame larger than a page spans one slot per page with
 * NETTXF_more_data (only with feature-sg). The first slot's size is the whole frame, as
 * netif.h requires; a GSO frame carries one GSO extra right after its first slot.
 *
 * Frames of up to TX_SMALL_BUF bytes go in small buffers, SMALL_PER_PAGE to a granted page
 * (a request names the page's gref and the buffer's offset in it, as Linux's netfront sends
 * from page fragments): a run of small frames then touches a sixteenth of the pages, and
 * each page a backend or sender touches costs a TLB entry on both sides. Larger frames, and
 * small ones while the small buffers are all in flight, take a page each.
 *
 * A slot's id is its buffer's index: responses may come back in any order, and each must
 * name a buffer in flight, once (Linux's "Response has incorrect id" and "Response for
 * inactive request"); anything else is fatal and the queue stops touching the ring.
 * Requests are pushed once per batch by `flush` (scheduled on the domain's loop by the
 * first frame of a batch), with at most one notification. Nothing here allocates per frame.
 *
 * Every frame is copied into pool pages that hold nothing but frames for this backend (the
 * stack's own memory is never granted): that is the bounce Linux does for an untrusted
 * backend (XSA-403) in both modes. With `bounce` (netfront's `trusted` = 0) the pages are
 * also zeroed before they are granted, so the backend cannot read what they held before.
 */
import type { Counters } from "../base/counters.js";
import type { Domain } from "../hv/domain.js";
import { PAGE_SIZE } from "../hv/memory.js";
import { ringErrorText } from "../ring/errors.js";
import type { FrontRing } from "../ring/front.js";
import { privateMem } from "../wire/mem.js";
import {
  extraGsoWrite,
  extraMcastWrite,
  NETIF_RSP_DROPPED,
  NETIF_RSP_ERROR,
  NETIF_RSP_NULL,
  NETIF_RSP_OKAY,
  NETIF_TX_ENTRY_SIZE,
  NETTXF_csum_blank,
  NETTXF_data_validated,
  NETTXF_extra_info,
  NETTXF_more_data,
  txReqWrite,
  txRspId,
  txRspStatus,
  XEN_NETIF_GSO_TYPE_TCPV4,
  XEN_NETIF_GSO_TYPE_TCPV6,
  XEN_NETIF_MAX_TX_SIZE,
} from "../wire/xen/netif.js";
import { FrameSource, zeroPages } from "./copy.js";
import type { NetfrontQueueCounter } from "./counters.js";
import type { FrontFeatures } from "./device-api.js";
import { allocPoolPages, endPoolGrants } from "./pool-grants.js";

const ETH_HLEN = 14;
/** Slots of the largest frame: 64 KiB over pages, plus its GSO extra. */
export const TX_MAX_SLOTS = Math.ceil(XEN_NETIF_MAX_TX_SIZE / PAGE_SIZE) + 1;
const CSUM_FLAGS = NETTXF_csum_blank | NETTXF_data_validated;
/** Bytes of a small TX buffer: an ACK, an ARP, a minimum-size frame fit. */
export const TX_SMALL_BUF = 256;
const SMALL_PER_PAGE = PAGE_SIZE / TX_SMALL_BUF;

export interface TxPlace {
  readonly dom: Domain;
  readonly ring: FrontRing;
  readonly backDomid: number;
  readonly port: number;
  readonly features: FrontFeatures;
  /** The backend is not trusted: the pool is zeroed before it is granted. */
  readonly bounce: boolean;
}

export class FrontTx {
  readonly #dom: Domain;
  readonly #ring: FrontRing;
  readonly #port: number;
  readonly #features: FrontFeatures;
  readonly #c: Float64Array;
  readonly #cPackets: number;
  readonly #cBytes: number;
  readonly #cDropped: number;
  readonly #cErrors: number;
  readonly #cFull: number;
  readonly #cUnanswered: number;
  readonly #fatal: (reason: string) => void;
  /** The pool's pages (the page buffers', then the small buffers') and their grants. */
  readonly #pages: number[];
  #pageRefs: Int32Array;
  /** Per buffer: its page's grant, its byte offset in domain memory and in its page. */
  readonly #ref: Int32Array;
  readonly #off: Int32Array;
  readonly #pgOff: Int32Array;
  /** Buffers [0, #nPage) are pages, the rest TX_SMALL_BUF each. */
  readonly #nPage: number;
  /** 1 while the buffer's slot is in flight. */
  readonly #busy: Uint8Array;
  /** Free page buffers, and free small ones. */
  readonly #free: Int32Array;
  #nFree: number;
  readonly #freeS: Int32Array;
  #nFreeS: number;
  /** Free buffers below which `transmit` reaps completions first. */
  readonly #lowWater: number;
  readonly #rsp;
  readonly #src = new FrameSource();
  readonly #flushFn: () => void;
  #flushScheduled = false;
  /** The buffer lent to a zero-copy sender (`lend`), -1 when none. */
  #lent = -1;
  #broken = false;
  #closed = false;
  /** A transmit was refused for lack of room: the device owes the stack a writable call. */
  wantWritable = false;
  /**
   * The last request for room was refused (and counted in tx_ring_full): further refusals
   * before one is granted are the same full ring, not counted again.
   */
  #refusing = false;
  /** 1 while the buffer's slot carries a multicast request, not a frame. */
  readonly #ctl: Uint8Array;
  /** Multicast requests the backend answered ERROR (its list was full). */
  mcastRefused = 0;

  constructor(
    p: TxPlace,
    c: Counters<NetfrontQueueCounter>,
    fatal: (reason: string) => void,
    buffers: number,
  ) {
    this.#dom = p.dom;
    this.#ring = p.ring;
    this.#port = p.port;
    this.#features = p.features;
    this.#c = c.f64;
    this.#cPackets = c.slot("tx_packets");
    this.#cBytes = c.slot("tx_bytes");
    this.#cDropped = c.slot("tx_dropped");
    this.#cErrors = c.slot("tx_errors");
    this.#cFull = c.slot("tx_ring_full");
    this.#cUnanswered = c.slot("tx_unanswered");
    this.#fatal = fatal;
    const big = allocPoolPages(p.dom, Math.min(buffers, p.ring.nrEnts), "TX");
    const nPage = big.length;
    let small: number[];
    try {
      small = allocPoolPages(p.dom, Math.ceil(nPage / SMALL_PER_PAGE), "TX small-buffer");
    } catch (e) {
      for (const pg of big) p.dom.pages.free(pg);
      throw e;
    }
    const pages = big.concat(small);
    const n = nPage + small.length * SMALL_PER_PAGE;
    this.#pages = pages;
    this.#nPage = nPage;
    if (p.bounce) zeroPages(p.dom.memory.mem, pages);
    this.#pageRefs = new Int32Array(pages.length);
    this.#ref = new Int32Array(n);
    this.#off = new Int32Array(n);
    this.#pgOff = new Int32Array(n);
    this.#busy = new Uint8Array(n);
    this.#ctl = new Uint8Array(n);
    this.#free = new Int32Array(nPage);
    this.#freeS = new Int32Array(n - nPage);
    for (let j = 0; j < pages.length; j++) {
      const ref = p.dom.grants.grantAccess(p.backDomid, pages[j], true);
      if (ref < 0) {
        for (let k = j; k < pages.length; k++) p.dom.pages.free(pages[k]);
        this.#pageRefs = this.#pageRefs.subarray(0, j);
        this.close();
        throw new RangeError(`Domain ${p.dom.domid} has no free grant entry for its TX pool`);
      }
      this.#pageRefs[j] = ref;
    }
    for (let i = 0; i < n; i++) {
      // Small buffer s lives at slot s % SMALL_PER_PAGE of small page s / SMALL_PER_PAGE.
      const s = i - nPage;
      const j = s < 0 ? i : nPage + Math.floor(s / SMALL_PER_PAGE);
      const inPage = s < 0 ? 0 : (s % SMALL_PER_PAGE) * TX_SMALL_BUF;
      this.#ref[i] = this.#pageRefs[j];
      this.#pgOff[i] = inPage;
      this.#off[i] = pages[j] * PAGE_SIZE + inPage;
    }
    for (let i = 0; i < nPage; i++) this.#free[i] = nPage - 1 - i;
    for (let s = 0; s < n - nPage; s++) this.#freeS[s] = n - 1 - s;
    this.#nFree = nPage;
    this.#nFreeS = n - nPage;
    this.#lowWater = nPage >>> 2;
    this.#rsp = privateMem(p.ring.nrEnts * NETIF_TX_ENTRY_SIZE);
    this.#flushFn = () => this.flush();
  }

  /** The pool's grants (read-only to the backend), one per page, for staging (ctrl.ts). */
  get poolRefs(): Int32Array {
    return this.#pageRefs;
  }

  get broken(): boolean {
    return this.#broken || this.#closed;
  }

  /** Buffers not in flight (pages and small ones). */
  get freeBuffers(): number {
    return this.#nFree + this.#nFreeS;
  }

  /** Takes a free buffer for a frame of `len` bytes: a small one when it fits and one is free. */
  #take(len: number): number {
    if (len <= TX_SMALL_BUF && this.#nFreeS > 0) return this.#freeS[--this.#nFreeS];
    return this.#free[--this.#nFree];
  }

  /** Free buffers a frame of `len` bytes in `nData` slots may take. */
  #freeFor(len: number, nData: number): number {
    return nData === 1 && len <= TX_SMALL_BUF ? this.#nFree + this.#nFreeS : this.#nFree;
  }

  #giveBack(id: number): void {
    if (id < this.#nPage) this.#free[this.#nFree++] = id;
    else this.#freeS[this.#nFreeS++] = id;
  }

  /** Bytes buffer `id` holds. */
  #capacity(id: number): number {
    return id < this.#nPage ? PAGE_SIZE : TX_SMALL_BUF;
  }

  /**
   * Queues the `len`-byte frame at `frame[from]` with its NETTXF checksum flags (a GSO frame
   * with `gsoType` and MSS `gsoSize`). False, taking nothing, when the ring or the pool has no room; an
   * unsendable frame is counted in tx_dropped and taken (true), so the stack never waits for it.
   */
  transmit(
    frame: Uint8Array,
    len: number,
    flags: number,
    gsoType: number,
    gsoSize: number,
    from = 0,
  ): boolean {
    if (this.#broken || this.#closed) return false;
    const f = this.#features;
    const gso = gsoType !== 0;
    const nData = Math.ceil(len / PAGE_SIZE);
    if (
      !(len >= ETH_HLEN && len <= XEN_NETIF_MAX_TX_SIZE && from >= 0 && len <= frame.length - from) ||
      (nData > 1 && !f.sg) ||
      (gso &&
        (!(gsoType === XEN_NETIF_GSO_TYPE_TCPV4
          ? f.gsoTcpv4
          : gsoType === XEN_NETIF_GSO_TYPE_TCPV6 && f.gsoTcpv6) ||
          !(gsoSize > 0 && gsoSize <= 0xffff)))
    ) {
      this.#c[this.#cDropped]++;
      return true;
    }
    if (!this.#room(nData + (gso ? 1 : 0), nData, len)) return false;
    const ring = this.#ring;
    const mem = this.#dom.memory.mem;
    let done = 0;
    for (let k = 0; k < nData; k++) {
      const chunk = Math.min(len - done, PAGE_SIZE);
      const id = this.#take(chunk);
      this.#busy[id] = 1;
      this.#src.copyOut(frame, from + done, mem, this.#off[id], chunk);
      let fl = k + 1 < nData ? NETTXF_more_data : 0;
      if (k === 0) fl |= (flags & CSUM_FLAGS) | (gso ? NETTXF_extra_info : 0);
      const at = ring.beginRequest();
      txReqWrite(ring.wmem, at, this.#ref[id], this.#pgOff[id], fl, id, k === 0 ? len : chunk);
      ring.endRequest();
      if (k === 0 && gso) {
        const x = ring.beginRequest();
        extraGsoWrite(ring.wmem, x, 0, gsoSize, gsoType);
        ring.endRequest();
      }
      done += chunk;
    }
    this.#c[this.#cPackets]++;
    this.#c[this.#cBytes] += len;
    this.#scheduleFlush();
    return true;
  }

  /**
   * Ring requests free for others: a lent buffer holds one back, so that its commit always
   * finds a slot whatever was sent meanwhile.
   */
  #freeRequests(): number {
    return this.#ring.freeRequests() - (this.#lent >= 0 ? 1 : 0);
  }

  /**
   * True when `need` ring requests and `nData` buffers for a frame of `len` bytes are free,
   * reaping first when short; false (wantWritable set, the TX event armed; counted in
   * tx_ring_full unless the request before was refused too) when they are not.
   */
  #room(need: number, nData: number, len: number): boolean {
    const ring = this.#ring;
    // Completions are taken here rather than from an event (xennet_start_xmit's gc): once a
    // quarter of the pool is left, reap what the backend answered meanwhile.
    if (this.#freeFor(len, nData) < this.#lowWater + nData) this.reap();
    if (this.#freeRequests() >= need && this.#freeFor(len, nData) >= nData) {
      this.#refusing = false;
      return true;
    }
    // Take back what the backend answered meanwhile before pushing back, as netfront's
    // xmit does; the writable call itself comes from the event handler, never from here.
    // Each look consumes at least one response, so the ring's size bounds the looks.
    for (let look = 0; ; look++) {
      this.reap();
      if (this.#broken) return false;
      if (this.#freeRequests() >= need && this.#freeFor(len, nData) >= nData) {
        this.#refusing = false;
        return true;
      }
      this.#armEvent();
      // A response pushed between the reap and the arm raised no event (rsp_event was
      // still where the last poll left it): look again before waiting for one, as
      // RING_FINAL_CHECK_FOR_RESPONSES does.
      if (ring.unconsumedResponses() === 0 || look >= ring.nrEnts) {
        // One count per time the ring fills, not per refused request: a refused lend and
        // the copying transmit of the same frame that follows it (the stack's fallback), or
        // a sender retrying before its writable call, meet the same full ring.
        if (!this.#refusing) this.#c[this.#cFull]++;
        this.#refusing = true;
        this.wantWritable = true;
        return false;
      }
    }
  }

  /**
   * Lends a free pool buffer for the caller to build a frame of at most `maxLen` bytes
   * in place (no copy): returns its byte offset in the domain's memory, or -1 when none can
   * be lent (ring or pool full: wantWritable is set and the writable call follows; the queue
   * broken or closed; `maxLen` above one page). One buffer is lent at a time: asking again
   * before `commit` or `abort` returns the same one, or, when `maxLen` outgrows that (a small
   * buffer), a page holding what was written so far (-1, the lend ended, when no page is
   * free or the queue broke). The buffer is granted to the backend, which may read it at any time:
   * only frame bytes belong in it.
   */
  lend(maxLen: number): number {
    const ok = !this.#broken && !this.#closed && maxLen >= 0 && maxLen <= PAGE_SIZE;
    const held = this.#lent;
    if (held >= 0) {
      if (ok && maxLen <= this.#capacity(held)) return this.#off[held];
      if (!ok || this.#nFree === 0) {
        this.abort();
        return -1;
      }
      const id = this.#free[--this.#nFree];
      const mem = this.#dom.memory.mem;
      mem.u8.copyWithin(this.#off[id], this.#off[held], this.#off[held] + TX_SMALL_BUF);
      this.#giveBack(held);
      this.#lent = id;
      return this.#off[id];
    }
    if (!ok || !this.#room(1, 1, maxLen)) return -1;
    const id = this.#take(maxLen);
    this.#lent = id;
    return this.#off[id];
  }

  /** The lent buffer's offset, -1 when none is lent. */
  get lentAt(): number {
    return this.#lent >= 0 ? this.#off[this.#lent] : -1;
  }

  /**
   * Queues the `len`-byte frame built in the lent buffer with its NETTXF checksum flags,
   * ending the lend. False when nothing was lent or the queue broke or closed meanwhile (the
   * buffer is gone with it); a length outside 14..one page is counted in tx_dropped and
   * the buffer taken back (true), as `transmit` does with an unsendable frame.
   */
  commit(len: number, flags: number): boolean {
    const id = this.#lent;
    if (id < 0 || this.#broken || this.#closed) return false;
    this.#lent = -1;
    // A length past the lent buffer would name the bytes of the buffer after it.
    if (!(len >= ETH_HLEN && len <= this.#capacity(id))) {
      this.#giveBack(id);
      this.#c[this.#cDropped]++;
      return true;
    }
    // The lend held this request back: the ring has room for it.
    const ring = this.#ring;
    this.#busy[id] = 1;
    const at = ring.beginRequest();
    txReqWrite(ring.wmem, at, this.#ref[id], this.#pgOff[id], flags & CSUM_FLAGS, id, len);
    ring.endRequest();
    this.#c[this.#cPackets]++;
    this.#c[this.#cBytes] += len;
    this.#scheduleFlush();
    return true;
  }

  /** Takes the lent buffer back unsent (nothing happens when none is lent). */
  abort(): void {
    const id = this.#lent;
    if (id < 0) return;
    this.#lent = -1;
    if (!this.#closed) this.#giveBack(id);
  }

  #scheduleFlush(): void {
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      this.#dom.loop.soon(this.#flushFn);
    }
  }

  /**
   * Queues a multicast add or delete (XEN_NETIF_EXTRA_TYPE_MCAST_ADD/DEL) for `mac`, as
   * netif.h has it: a data slot of size 0 (it holds one of our buffers only so its answer
   * names an id in flight) followed by the extra. False when the ring or pool is full.
   */
  control(type: number, mac: number): boolean {
    if (this.#broken || this.#closed) return false;
    const ring = this.#ring;
    if (this.#freeRequests() < 2 || this.#freeFor(0, 1) < 1) this.reap();
    if (this.#freeRequests() < 2 || this.#freeFor(0, 1) < 1) return false;
    const id = this.#take(0);
    this.#busy[id] = 1;
    this.#ctl[id] = 1;
    const at = ring.beginRequest();
    txReqWrite(ring.wmem, at, this.#ref[id], this.#pgOff[id], NETTXF_extra_info, id, 0);
    ring.endRequest();
    const x = ring.beginRequest();
    extraMcastWrite(ring.wmem, x, type, 0, mac);
    ring.endRequest();
    this.#scheduleFlush();
    return true;
  }

  /** Publishes the batch: one push, a notification only when the backend asked for one. */
  flush(): void {
    this.#flushScheduled = false;
    if (this.#broken || this.#closed) return;
    if (this.#ring.pushRequestsAndCheckNotify()) this.#dom.evtchn.send(this.#port);
  }

  /**
   * The TX event: reclaims answered slots. The event is re-armed only while a refused
   * sender waits for room; otherwise completions are reaped from `transmit`, and an idle
   * or lightly loaded queue takes no TX interrupts at all. Returns false when no response
   * was there to reap (a spurious event, see late-eoi.ts; Linux's xennet_tx_buf_gc).
   */
  poll(): boolean {
    if (this.#broken || this.#closed) return false;
    const cons0 = this.#ring.rspCons;
    do {
      this.reap();
      if (this.#broken) return true;
      if (this.wantWritable) this.#armEvent();
      else this.#disarmEvent();
    } while (this.wantWritable && this.#ring.unconsumedResponses() !== 0);
    return this.#ring.rspCons !== cons0;
  }

  /** True once a refused sender may try again. */
  writableAgain(): boolean {
    if (!this.wantWritable || this.#broken || this.#closed) return false;
    const slots = Math.min(TX_MAX_SLOTS, this.#ring.nrEnts);
    const bufs = Math.min(TX_MAX_SLOTS - 1, this.#nPage);
    if (this.#freeRequests() < slots || this.#nFree < bufs) return false;
    this.wantWritable = false;
    return true;
  }

  /**
   * Asks for the next TX event halfway through what is in flight (Linux's
   * xennet_tx_buf_gc), so completions wake us in batches.
   */
  #armEvent(): void {
    const ring = this.#ring;
    const out = (ring.reqProdPvt - ring.rspCons) >>> 0;
    ring.setRspEvent((ring.rspCons + (out >>> 1) + 1) >>> 0);
  }

  /**
   * Asks for no TX event: rsp_event one full ring past the last request, an index the
   * backend cannot answer before the frontend has pushed a ring's worth more (by then
   * `transmit` has reaped and, if it ran short, re-armed). Any rsp_event value is the
   * frontend's to choose; the backend's check only decides whether it notifies.
   */
  #disarmEvent(): void {
    const ring = this.#ring;
    ring.setRspEvent((ring.reqProdPvt + ring.nrEnts) >>> 0);
  }

  /** Consumes every published response, each read once from private memory. */
  reap(): void {
    const ring = this.#ring;
    const rsp = this.#rsp;
    const n0 = this.#busy.length;
    for (;;) {
      const n = ring.copyResponses(rsp, 0, ring.nrEnts);
      if (n < 0) {
        this.#fail(`tx: ${ringErrorText(n)}`);
        return;
      }
      if (n === 0) return;
      for (let i = 0; i < n; i++) {
        const at = i * NETIF_TX_ENTRY_SIZE;
        const status = txRspStatus(rsp, at);
        // Extras are answered NULL in their own slot, id unset.
        if (status === NETIF_RSP_NULL) continue;
        const id = txRspId(rsp, at);
        if (id >= n0) {
          this.#fail(`tx: Response has incorrect id ${id}`);
          return;
        }
        if (this.#busy[id] !== 1) {
          this.#fail(`tx: Response for inactive request ${id}`);
          return;
        }
        if (status !== NETIF_RSP_OKAY) {
          if (status !== NETIF_RSP_ERROR && status !== NETIF_RSP_DROPPED) {
            this.#fail(`tx: Response ${id} has bad status ${status}`);
            return;
          }
          if (this.#ctl[id] === 1) this.mcastRefused++;
          else this.#c[this.#cErrors]++;
        }
        this.#ctl[id] = 0;
        this.#busy[id] = 0;
        this.#giveBack(id);
      }
    }
  }

  /** Stops touching the ring (the other half of the queue broke the protocol). */
  halt(): void {
    this.#broken = true;
  }

  #fail(reason: string): void {
    this.#broken = true;
    this.#fatal(reason);
  }

  /** Stops and ends every buffer grant; returns how many the backend still holds. */
  close(): number {
    if (!this.#closed) {
      let inFlight = 0;
      for (let i = 0; i < this.#busy.length; i++) inFlight += this.#busy[i];
      this.#c[this.#cUnanswered] += inFlight;
    }
    this.#closed = true;
    this.#lent = -1;
    return endPoolGrants(this.#dom, this.#pageRefs, this.#pages);
  }
}
