/**
 * One queue's receive side. `start` grants a pool of pages writable to the backend and posts
 * one rx request per page; buffers are found by ring position (request k sits in slot
 * k & mask with id k & mask, and its response comes back in the same slot), so a response
 * can only ever name a buffer this queue posted.
 *
 * Each event copies every published response into private memory once and parses it
 * (rx-parse.ts). As Linux's netfront (xennet_get_responses, xennet_set_skb_gso), a bad
 * packet is dropped, its buffers recycled and counted in rx_errors: a failed status, offset
 * + size past the page, a bad or missing extra, a bad GSO extra, more_data past what was
 * published, too many slots. Only a response whose id is off its position (a buffer this
 * queue did not post there) is a protocol violation: fatal, and the queue stops touching
 * the ring. A good frame goes to
 * the receive callback straight from its page when it fills one slot, gathered into a
 * private buffer when it spans several; then every consumed buffer is posted again and the
 * batch pushed once. The callback must copy what it keeps: the buffer is reposted when it
 * returns.
 *
 * An untrusted backend (`bounce`, netfront's `trusted` = 0, XSA-403) keeps its grant of
 * every buffer and may rewrite a page while the frame in it is being parsed: then every
 * frame, single-slot ones too, is copied into private memory first and the callback sees
 * only the copy (counted in rx_bounced), and the pool's pages are zeroed before they are
 * granted, so the backend never reads what they held before.
 */
import type { Counters } from "../base/counters.js";
import type { Domain } from "../hv/domain.js";
import { PAGE_SIZE } from "../hv/memory.js";
import { ringErrorText } from "../ring/errors.js";
import type { FrontRing } from "../ring/front.js";
import { type Mem, privateMem } from "../wire/mem.js";
import {
  extraGsoSize,
  extraGsoType,
  NETIF_RX_ENTRY_SIZE,
  NETRXF_csum_blank,
  NETRXF_data_validated,
  rxReqWrite,
  rxRspOffset,
  rxRspStatus,
  XEN_NETIF_GSO_TYPE_TCPV4,
  XEN_NETIF_GSO_TYPE_TCPV6,
  XEN_NETIF_NR_SLOTS_MIN,
} from "../wire/xen/netif.js";
import { copyMem, zeroPages } from "./copy.js";
import type { NetfrontQueueCounter } from "./counters.js";
import { allocPoolPages, endPoolGrants } from "./pool-grants.js";
import { endOffers, FLIP_FILLED, FLIP_PARKED, reoffer, settleOffer } from "./rx-flip.js";
import { parseRxPacket, RxPacket, RxReason, RxVerdict } from "./rx-parse.js";

/** The stack's receive: `len` bytes at `frame[off]`, NETRXF_* checksum flags. */
export type ReceiveFn = (frame: Uint8Array, off: number, len: number, flags: number) => void;

/** What the receive callback may read of the frame it is handed besides its bytes. */
export interface RxMeta {
  /** XEN_NETIF_GSO_TYPE_* of the frame being delivered (0: not GSO) and its MSS. */
  gsoType: number;
  gsoSize: number;
}

const CSUM_FLAGS = NETRXF_csum_blank | NETRXF_data_validated;
/** The most data slots a frame may take (rx-parse's bound). */
const MAX_DATA_SLOTS = XEN_NETIF_NR_SLOTS_MIN + 1;

export interface RxPlace {
  readonly dom: Domain;
  readonly ring: FrontRing;
  readonly backDomid: number;
  readonly port: number;
  /** Copy every frame out of its granted page before delivery (the backend is not trusted). */
  readonly bounce: boolean;
  /** Notify the backend when buffers are posted (feature-rx-notify); false: it polls. Default true. */
  readonly notify?: boolean;
  /** The xdp-headroom we asked for: each slot's data starts that far in. Default 0. */
  readonly headroom?: number;
  /** Buffers are accept-transfer offers and frames arrive by page flip (rx-flip.ts). Default false. */
  readonly flip?: boolean;
}

export class FrontRx {
  readonly #dom: Domain;
  readonly #ring: FrontRing;
  readonly #port: number;
  readonly #notify: boolean;
  readonly #headroom: number;
  readonly #mask: number;
  readonly #c: Float64Array;
  readonly #cPackets: number;
  readonly #cBytes: number;
  readonly #cDropped: number;
  readonly #cErrors: number;
  readonly #cBounced: number;
  readonly #bounce: boolean;
  readonly #fatal: (reason: string) => void;
  readonly #deliver: () => ReceiveFn;
  readonly #meta: RxMeta;
  #pages: number[] = [];
  #ref = new Int32Array(0);
  #off = new Int32Array(0);
  /** The buffer posted at each ring slot. */
  readonly #slotBuf: Int32Array;
  readonly #batch: Mem;
  readonly #gather: Mem;
  readonly #pkt = new RxPacket();
  readonly #nWanted: number;
  #broken = false;
  #closed = false;
  #started = false;
  readonly #flip: boolean;
  /** Flip mode: per buffer, what its entry said when its response was read (rx-flip.ts). */
  #got = new Uint8Array(0);

  constructor(
    p: RxPlace,
    c: Counters<NetfrontQueueCounter>,
    fatal: (reason: string) => void,
    buffers: number,
    deliver: () => ReceiveFn,
    meta: RxMeta,
  ) {
    this.#dom = p.dom;
    this.#ring = p.ring;
    this.#port = p.port;
    this.#notify = p.notify ?? true;
    this.#headroom = p.headroom ?? 0;
    this.#mask = p.ring.nrEnts - 1;
    this.#c = c.f64;
    this.#cPackets = c.slot("rx_packets");
    this.#cBytes = c.slot("rx_bytes");
    this.#cDropped = c.slot("rx_dropped");
    this.#cErrors = c.slot("rx_errors");
    this.#cBounced = c.slot("rx_bounced");
    this.#bounce = p.bounce;
    this.#fatal = fatal;
    this.#deliver = deliver;
    this.#meta = meta;
    this.#nWanted = Math.min(buffers, p.ring.nrEnts);
    this.#slotBuf = new Int32Array(p.ring.nrEnts).fill(-1);
    this.#batch = privateMem(p.ring.nrEnts * NETIF_RX_ENTRY_SIZE);
    this.#gather = privateMem(MAX_DATA_SLOTS * PAGE_SIZE);
    this.#backDomid = p.backDomid;
    this.#flip = p.flip === true;
  }

  readonly #backDomid: number;

  /** The pool's grants (writable by the backend), for staging (ctrl.ts). */
  get poolRefs(): Int32Array {
    // Accept-transfer offers are no writable grants: nothing to stage.
    if (this.#flip) return new Int32Array(0);
    return this.#ref;
  }

  get broken(): boolean {
    return this.#broken || this.#closed;
  }

  /** Grants the pool writable and fills the ring (xennet_alloc_rx_buffers). */
  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    const dom = this.#dom;
    const pages = allocPoolPages(dom, this.#nWanted, "RX");
    const n = pages.length;
    this.#pages = pages;
    if (this.#bounce) zeroPages(dom.memory.mem, pages);
    this.#ref = new Int32Array(n).fill(-1);
    this.#off = new Int32Array(n);
    this.#got = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const ref = this.#flip
        ? dom.grants.offerTransfer(this.#backDomid, pages[i])
        : dom.grants.grantAccess(this.#backDomid, pages[i], false);
      if (ref < 0) {
        for (let j = i; j < n; j++) dom.pages.free(pages[j]);
        this.#ref = this.#ref.subarray(0, i);
        this.close();
        throw new RangeError(`Domain ${dom.domid} has no free grant entry for its RX pool`);
      }
      this.#ref[i] = ref;
      this.#off[i] = pages[i] * PAGE_SIZE;
      this.#post(i);
    }
    if (this.#ring.pushRequestsAndCheckNotify() && this.#notify) dom.evtchn.send(this.#port);
  }

  #post(buf: number): void {
    const ring = this.#ring;
    const slot = ring.reqProdPvt & this.#mask;
    this.#slotBuf[slot] = buf;
    const at = ring.beginRequest();
    rxReqWrite(ring.wmem, at, slot, this.#ref[buf]);
    ring.endRequest();
  }

  /**
   * The RX event: delivers every published frame, reposts, then re-arms rsp_event. Returns
   * false when no response had been published (a spurious event, see late-eoi.ts).
   */
  poll(): boolean {
    if (!this.#started) return false;
    let found = false;
    const ring = this.#ring;
    const batch = this.#batch;
    const pkt = this.#pkt;
    const mask = this.#mask;
    const mem = this.#dom.memory.mem;
    const meta = this.#meta;
    for (;;) {
      if (this.#broken || this.#closed) return found;
      const first = ring.rspCons;
      const n = ring.copyResponses(batch, 0, ring.nrEnts);
      if (n < 0) {
        this.#fail(`rx: ${ringErrorText(n)}`);
        return true;
      }
      if (n === 0) {
        if (ring.finalCheckForResponses()) continue;
        return found;
      }
      found = true;
      if (this.#flip)
        for (let k = 0; k < n; k++) {
          const buf = this.#slotBuf[(first + k) & mask];
          this.#got[buf] = settleOffer(this.#dom, this.#ref, this.#pages, buf);
        }
      let i = 0;
      while (i < n) {
        const v = parseRxPacket(batch, 0, i, n - i, first, mask, pkt, this.#headroom);
        if (v !== RxVerdict.Ok) {
          // A buffer named where it was not posted: the backend is broken. Anything else
          // costs only this packet, as in Linux (a failed copy is netback's honest report).
          if (pkt.reason === RxReason.BadId) {
            this.#fail(`rx: ${pkt.describe()}`);
            return true;
          }
          this.#c[this.#cErrors]++;
          i += pkt.consumed;
          continue;
        }
        meta.gsoType = 0;
        meta.gsoSize = 0;
        if (pkt.gsoAt >= 0) {
          const x = pkt.gsoAt * NETIF_RX_ENTRY_SIZE;
          const type = extraGsoType(batch, x);
          const size = extraGsoSize(batch, x);
          if ((type !== XEN_NETIF_GSO_TYPE_TCPV4 && type !== XEN_NETIF_GSO_TYPE_TCPV6) || size === 0) {
            this.#c[this.#cErrors]++;
            i += pkt.consumed;
            continue;
          }
          meta.gsoType = type;
          meta.gsoSize = size;
        }
        if (this.#flip && !this.#flipped(first, i, pkt)) {
          this.#c[this.#cErrors]++;
          i += pkt.consumed;
          continue;
        }
        const len = pkt.length;
        if (len === 0) {
          this.#c[this.#cDropped]++;
          i += pkt.consumed;
          continue;
        }
        const at = i * NETIF_RX_ENTRY_SIZE;
        const head = this.#headroom;
        const off0 = this.#off[this.#slotBuf[(first + i) & mask]] + rxRspOffset(batch, at) + head;
        const flags = pkt.flags & CSUM_FLAGS;
        const cb = this.#deliver();
        if (pkt.nData === 1 && !this.#bounce) {
          cb(mem.u8, off0, len, flags);
        } else {
          const g = this.#gather;
          if (this.#bounce) this.#c[this.#cBounced]++;
          let done = rxRspStatus(batch, at) - head;
          copyMem(g, 0, mem, off0, done);
          // Continuation slots follow the first slot's extras.
          for (let k = i + 1 + pkt.nExtras; k < i + pkt.consumed; k++) {
            const a = k * NETIF_RX_ENTRY_SIZE;
            const size = rxRspStatus(batch, a) - head;
            const src = this.#off[this.#slotBuf[(first + k) & mask]] + rxRspOffset(batch, a) + head;
            copyMem(g, done, mem, src, size);
            done += size;
          }
          cb(g.u8, 0, len, flags);
        }
        this.#c[this.#cPackets]++;
        this.#c[this.#cBytes] += len;
        i += pkt.consumed;
      }
      if (this.#closed) return true;
      // Every consumed slot held a posted buffer (extras too): all go back, in one push.
      for (let k = 0; k < n; k++) {
        const buf = this.#slotBuf[(first + k) & mask];
        if (
          this.#flip &&
          (this.#got[buf] === FLIP_PARKED ||
            !reoffer(this.#dom, this.#backDomid, this.#ref, this.#pages, buf))
        )
          continue;
        this.#post(buf);
      }
      if (ring.pushRequestsAndCheckNotify() && this.#notify) this.#dom.evtchn.send(this.#port);
    }
  }

  /** Flip mode: every data slot of the packet at `i` got its page. */
  #flipped(first: number, i: number, pkt: RxPacket): boolean {
    const mask = this.#mask;
    if (this.#got[this.#slotBuf[(first + i) & mask]] !== FLIP_FILLED) return false;
    for (let k = i + 1 + pkt.nExtras; k < i + pkt.consumed; k++)
      if (this.#got[this.#slotBuf[(first + k) & mask]] !== FLIP_FILLED) return false;
    return true;
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
    this.#closed = true;
    if (this.#flip) {
      const held = endOffers(this.#dom, this.#ref, this.#pages);
      this.#pages = [];
      this.#ref = new Int32Array(0);
      return held;
    }
    return endPoolGrants(this.#dom, this.#ref, this.#pages);
  }
}
