/**
 * A raw netif frontend for netback's tests: TX and RX rings in the guest's memory, one
 * persistently granted page per ring slot (TX read-only, RX writable), raw requests with
 * NETTXF flags, more_data chains and GSO extras, and RX parsing with rx-parse.ts. It works
 * over plain memory and a grant table, so the same code runs in a guest worker and in the
 * test's own thread.
 */
import { type GrantTable, TRANSFER_PENDING } from "../../src/hv/grant-table.js";
import { PAGE_SIZE } from "../../src/hv/memory.js";
import { parseRxPacket, RX_SLOT_BYTES, RxPacket, RxVerdict } from "../../src/netfront/rx-parse.js";
import { RingArea } from "../../src/ring/area.js";
import { FrontRing } from "../../src/ring/front.js";
import { type Mem, privateMem } from "../../src/wire/mem.js";
import {
  extraGsoSize,
  extraGsoType,
  extraGsoWrite,
  extraHashAlgorithm,
  extraHashType,
  extraHashValue,
  extraType,
  NETIF_RSP_NULL,
  NETIF_RX_ENTRY_SIZE,
  NETIF_TX_ENTRY_SIZE,
  NETTXF_extra_info,
  NETTXF_more_data,
  rxReqWrite,
  txReqWrite,
  txRspId,
  txRspStatus,
  XEN_NETIF_EXTRA_FLAG_MORE,
  XEN_NETIF_EXTRA_TYPE_HASH,
} from "../../src/wire/xen/netif.js";

export interface SendOpts {
  /** NETTXF_csum_blank / NETTXF_data_validated. */
  flags?: number;
  gsoType?: number;
  gsoSize?: number;
  /** Bytes per slot (default 4096 - offset); the first slot's offset. */
  slotBytes?: number;
  offset?: number;
}

export interface RxFrame {
  data: Uint8Array;
  flags: number;
  gsoType: number;
  gsoSize: number;
  /** The HASH extra-info slot, when the backend sent one. */
  hash?: { type: number; algorithm: number; value: number };
}

export class TestFront {
  readonly mem: Mem;
  readonly tx: FrontRing;
  readonly rx: FrontRing;
  readonly txRingRef: number;
  readonly rxRingRef: number;
  /** Every page's grant of each ring (2^ringOrder pages; the first is txRingRef/rxRingRef). */
  readonly txRingRefs: number[];
  readonly rxRingRefs: number[];
  readonly #txPage: Int32Array;
  readonly #txRef: Int32Array;
  readonly #rxPage: Int32Array;
  readonly #rxRef: Int32Array;
  readonly #rsp = privateMem(256 * NETIF_TX_ENTRY_SIZE);
  readonly #rxb = privateMem(256 * NETIF_RX_ENTRY_SIZE);
  readonly #pkt = new RxPacket();
  /** TX response statuses seen, by status. */
  readonly txStatus = new Map<number, number>();
  txAnswered = 0;
  /** Responses (not NULL) naming an id with no request of send()'s in flight. */
  txIdErrors = 0;
  #txBusy = new Uint8Array(0);

  /** Requests of send()'s not answered yet. */
  get txInFlight(): number {
    return this.#txBusy.reduce((n, b) => n + b, 0);
  }
  rxDropped = 0;
  /** Flip mode (useFlip): the guest's table, and data slots whose entry got no page. */
  #flip: GrantTable | null = null;
  #backend = 0;
  flipMissing = 0;

  constructor(mem: Mem, grants: GrantTable, alloc: () => number, backend: number, ringOrder = 0) {
    this.mem = mem;
    this.#backend = backend;
    // A gap after each page of a multi-page ring, so its pages are not contiguous (as in a
    // backend's mapping) and slots straddling two pages take the ring's bounce path.
    const ringPage = (): number => {
      const p = alloc();
      if (ringOrder > 0) alloc();
      return p;
    };
    const txRingPages = Array.from({ length: 1 << ringOrder }, ringPage);
    const rxRingPages = Array.from({ length: 1 << ringOrder }, ringPage);
    this.txRingRefs = txRingPages.map((p) => grants.grantAccess(backend, p, false));
    this.rxRingRefs = rxRingPages.map((p) => grants.grantAccess(backend, p, false));
    this.txRingRef = this.txRingRefs[0]!;
    this.rxRingRef = this.rxRingRefs[0]!;
    this.tx = FrontRing.init(
      new RingArea(
        mem,
        txRingPages.map((p) => p * PAGE_SIZE),
        NETIF_TX_ENTRY_SIZE,
      ),
    );
    this.rx = FrontRing.init(
      new RingArea(
        mem,
        rxRingPages.map((p) => p * PAGE_SIZE),
        NETIF_RX_ENTRY_SIZE,
      ),
    );
    const nt = this.tx.nrEnts;
    const nr = this.rx.nrEnts;
    this.#txPage = new Int32Array(nt);
    this.#txRef = new Int32Array(nt);
    for (let i = 0; i < nt; i++) {
      this.#txPage[i] = alloc();
      this.#txRef[i] = grants.grantAccess(backend, this.#txPage[i], true);
    }
    this.#rxPage = new Int32Array(nr);
    this.#rxRef = new Int32Array(nr);
    for (let i = 0; i < nr; i++) {
      this.#rxPage[i] = alloc();
      this.#rxRef[i] = grants.grantAccess(backend, this.#rxPage[i], false);
    }
  }

  /** Flip mode: every RX buffer becomes an accept-transfer offer; receive() settles and re-offers. */
  useFlip(grants: GrantTable): void {
    this.#flip = grants;
    for (let i = 0; i < this.#rxRef.length; i++) {
      grants.endAccess(this.#rxRef[i]);
      this.#rxRef[i] = grants.offerTransfer(this.#backend, this.#rxPage[i]);
    }
  }

  /** Flip mode: ends buffer `id`'s offer (whether its page came) and offers the page again. */
  #settle(id: number): boolean {
    const g = this.#flip!;
    const r = g.endTransfer(this.#rxRef[id]);
    if (r === TRANSFER_PENDING) return false;
    this.#rxRef[id] = g.offerTransfer(this.#backend, this.#rxPage[id]);
    return r === this.#rxPage[id];
  }

  /** The grants of the TX and RX buffer pools (one page per ring slot). */
  get poolRefs(): { tx: Int32Array; rx: Int32Array } {
    return { tx: this.#txRef, rx: this.#rxRef };
  }

  /** Slots a frame of `len` bytes takes with these options (data + extra). */
  static slotsFor(len: number, o: SendOpts = {}): number {
    const off = o.offset ?? 0;
    const per = o.slotBytes ?? PAGE_SIZE - off;
    let n = 0;
    let left = len;
    let first = true;
    while (left > 0 || first) {
      const room = first ? Math.min(per, PAGE_SIZE - off) : Math.min(per, PAGE_SIZE);
      left -= Math.min(room, left);
      n++;
      first = false;
    }
    return n + (o.gsoType ? 1 : 0);
  }

  /** Queues one frame as raw TX requests (not published); false when the ring is full. */
  send(frame: Uint8Array, o: SendOpts = {}): boolean {
    const ring = this.tx;
    const need = TestFront.slotsFor(frame.length, o);
    if (ring.freeRequests() < need) return false;
    const mask = ring.nrEnts - 1;
    const off0 = o.offset ?? 0;
    const per = o.slotBytes ?? PAGE_SIZE - off0;
    const u8 = this.mem.u8;
    let done = 0;
    let first = true;
    while (first || done < frame.length) {
      const id = ring.reqProdPvt & mask;
      const off = first ? off0 : 0;
      const room = Math.min(per, PAGE_SIZE - off);
      const take = Math.min(room, frame.length - done);
      const dst = this.#txPage[id] * PAGE_SIZE + off;
      for (let k = 0; k < take; k++) u8[dst + k] = frame[done + k];
      const more = done + take < frame.length;
      const at = ring.beginRequest();
      let flags = more ? NETTXF_more_data : 0;
      if (first) flags |= (o.flags ?? 0) | (o.gsoType ? NETTXF_extra_info : 0);
      txReqWrite(ring.wmem, at, this.#txRef[id], off, flags, id, first ? frame.length : take);
      if (this.#txBusy.length !== ring.nrEnts) this.#txBusy = new Uint8Array(ring.nrEnts);
      this.#txBusy[id] = 1;
      ring.endRequest();
      if (first && o.gsoType) {
        const x = ring.beginRequest();
        extraGsoWrite(ring.wmem, x, 0, o.gsoSize ?? 1448, o.gsoType);
        ring.endRequest();
      }
      done += take;
      first = false;
    }
    return true;
  }

  /** Writes one raw request (hostile tests); returns its ring index. */
  rawTx(slot: number, offset: number, flags: number, size: number, gref?: number): number {
    const ring = this.tx;
    const id = ring.reqProdPvt & (ring.nrEnts - 1);
    const at = ring.beginRequest();
    txReqWrite(ring.wmem, at, gref ?? this.#txRef[slot & (ring.nrEnts - 1)], offset, flags, id, size);
    ring.endRequest();
    return id;
  }

  /** A raw extra slot (type, flags, and a multicast extra's `addr`) for hostile tests. */
  rawExtra(type: number, more: boolean, addr?: readonly number[]): void {
    const ring = this.tx;
    const at = ring.beginRequest();
    ring.wmem.u8[at] = type;
    ring.wmem.u8[at + 1] = more ? XEN_NETIF_EXTRA_FLAG_MORE : 0;
    if (addr !== undefined) ring.wmem.u8.set(addr.slice(0, 6), at + 2);
    ring.endRequest();
  }

  /** Publishes queued TX requests; whether the backend must be notified. */
  pushTx(): boolean {
    return this.tx.pushRequestsAndCheckNotify();
  }

  /** Reads TX responses, counting statuses; returns how many. */
  reapTx(): number {
    let got = 0;
    for (;;) {
      const n = this.tx.copyResponses(this.#rsp, 0, 256);
      // Re-arm rsp_event before leaving, so the next response notifies.
      if (n <= 0 && !this.tx.finalCheckForResponses()) break;
      if (n <= 0) continue;
      for (let i = 0; i < n; i++) {
        const st = txRspStatus(this.#rsp, i * NETIF_TX_ENTRY_SIZE);
        const id = txRspId(this.#rsp, i * NETIF_TX_ENTRY_SIZE);
        if (st !== NETIF_RSP_NULL) {
          if (this.#txBusy[id] === 1) this.#txBusy[id] = 0;
          else this.txIdErrors++;
        }
        this.txStatus.set(st, (this.txStatus.get(st) ?? 0) + 1);
      }
      got += n;
    }
    this.txAnswered += got;
    return got;
  }

  /** Posts RX buffers until `n` are outstanding (or the ring is full); whether to notify. */
  postRx(n = this.rx.nrEnts): boolean {
    const ring = this.rx;
    const mask = ring.nrEnts - 1;
    let posted = 0;
    while (ring.freeRequests() > 0 && ring.nrEnts - ring.freeRequests() < n) {
      const id = ring.reqProdPvt & mask;
      const at = ring.beginRequest();
      rxReqWrite(ring.wmem, at, id, this.#rxRef[id]);
      ring.endRequest();
      posted++;
    }
    return posted > 0 && ring.pushRequestsAndCheckNotify();
  }

  /** Consumes every answered frame without looking at its bytes (allocation-free); reposts. */
  receiveCount(): number {
    const ring = this.rx;
    const mask = ring.nrEnts - 1;
    const b = this.#rxb;
    let got = 0;
    for (;;) {
      const first = ring.rspCons;
      const n = ring.copyResponses(b, 0, 256);
      if (n < 0) break;
      if (n === 0) {
        if (ring.finalCheckForResponses()) continue;
        break;
      }
      for (let s = 0; s < n; ) {
        if (parseRxPacket(b, 0, s, n - s, first, mask, this.#pkt) === RxVerdict.Ok) got++;
        else this.rxDropped++;
        s += this.#pkt.consumed;
      }
    }
    this.postRx();
    return got;
  }

  /** The xdp-headroom this frontend asked for: data starts that far into each buffer. */
  headroom = 0;

  /** Reads every whole frame answered; `repost` keeps the ring stocked. */
  receive(out: RxFrame[], repost = true): number {
    const ring = this.rx;
    const mask = ring.nrEnts - 1;
    const b = this.#rxb;
    let got = 0;
    for (;;) {
      const first = ring.rspCons;
      const avail = ring.unconsumedResponses();
      if (avail < 0) break;
      if (avail === 0) {
        if (ring.finalCheckForResponses()) continue;
        break;
      }
      // Copy only whole packets: parse against what is published, then consume.
      const n = ring.copyResponses(b, 0, Math.min(avail, 256));
      let s = 0;
      while (s < n) {
        const v = parseRxPacket(b, 0, s, n - s, first, mask, this.#pkt, this.headroom);
        const p = this.#pkt;
        let filled = true;
        if (this.#flip !== null && v === RxVerdict.Ok) {
          if (!this.#settle((first + s) & mask)) filled = false;
          for (let x = 1; x <= p.nExtras; x++) this.#settle((first + s + x) & mask);
          for (let k = s + 1 + p.nExtras; k < s + p.consumed; k++)
            if (!this.#settle((first + k) & mask)) filled = false;
        } else if (this.#flip !== null)
          for (let k = s; k < s + p.consumed; k++) this.#settle((first + k) & mask);
        if (!filled) this.flipMissing++;
        if (v !== RxVerdict.Ok || !filled) this.rxDropped++;
        else {
          const data = new Uint8Array(p.length);
          let at = 0;
          const slots = [s, ...Array.from({ length: p.nData - 1 }, (_, k) => s + 1 + p.nExtras + k)];
          for (const k of slots) {
            const r = k * RX_SLOT_BYTES;
            const id = (first + k) & mask;
            const off = b.u16[(r + 2) >>> 1];
            const st = b.i16[(r + 6) >>> 1];
            const src = this.#rxPage[id] * PAGE_SIZE + off + this.headroom;
            data.set(this.mem.u8.subarray(src, src + st - this.headroom), at);
            at += st - this.headroom;
          }
          const g = p.gsoAt >= 0 ? p.gsoAt * RX_SLOT_BYTES : -1;
          let hash: RxFrame["hash"];
          for (let x = 1; x <= p.nExtras; x++) {
            const r = (s + x) * RX_SLOT_BYTES;
            if (extraType(b, r) === XEN_NETIF_EXTRA_TYPE_HASH)
              hash = {
                type: extraHashType(b, r),
                algorithm: extraHashAlgorithm(b, r),
                value: extraHashValue(b, r),
              };
          }
          out.push({
            data,
            flags: p.flags,
            gsoType: g >= 0 ? extraGsoType(b, g) : 0,
            gsoSize: g >= 0 ? extraGsoSize(b, g) : 0,
            ...(hash === undefined ? {} : { hash }),
          });
          got++;
        }
        s += p.consumed;
      }
    }
    if (repost) this.postRx();
    return got;
  }
}
