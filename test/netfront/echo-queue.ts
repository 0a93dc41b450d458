/**
 * A test backend for one netfront queue, usable in Domain-0's worker and in one thread: it
 * maps the guest's two rings, reads each TX frame (first slot, GSO extra, more_data slots)
 * into local staging pages by grant copy, and copies it back into the buffers the guest
 * posted on its RX ring (one slot per page, the GSO extra after the first slot, checksum
 * flags turned into their NETRXF bits), answering every TX slot (extras with NULL).
 * `hostile` makes it break the protocol in one chosen way, once the guest has sent
 * `hostileAfter` frames. Allocation-free per frame, so the GC test can run through it.
 */
import type { GrantOps } from "../../src/hv/grant-ops.js";
import { PAGE_SIZE } from "../../src/hv/memory.js";
import { RingArea } from "../../src/ring/area.js";
import { BackRing } from "../../src/ring/back.js";
import { type Mem, privateMem } from "../../src/wire/mem.js";
import {
  DOMID_SELF,
  GNTCOPY_dest_gref,
  GNTCOPY_source_gref,
  GNTTAB_COPY_SIZE,
  gcopyWrite,
} from "../../src/wire/xen/grant.js";
import {
  extraGsoSize,
  extraGsoType,
  extraGsoWrite,
  extraType,
  NETIF_RSP_ERROR,
  NETIF_RSP_NULL,
  NETIF_RSP_OKAY,
  NETIF_RX_ENTRY_SIZE,
  NETIF_TX_ENTRY_SIZE,
  NETRXF_csum_blank,
  NETRXF_data_validated,
  NETRXF_extra_info,
  NETRXF_more_data,
  NETTXF_csum_blank,
  NETTXF_data_validated,
  NETTXF_extra_info,
  NETTXF_more_data,
  rxReqGref,
  rxReqId,
  rxRspWrite,
  txReqFlags,
  txReqGref,
  txReqId,
  txReqOffset,
  txReqSize,
  txRspSetStatus,
  txRspWrite,
  XEN_NETIF_EXTRA_TYPE_GSO,
} from "../../src/wire/xen/netif.js";
import { SRING_RSP_PROD } from "../../src/wire/xen/sring.js";

export const HOSTILE = [
  "none",
  "txBadId",
  "txDouble",
  "txBadStatus",
  "rxOffset",
  "rxBadId",
  "rxBadExtra",
  "rxBadGso",
  "rxProd",
  /** Honest failures, not violations: frame 0 answered NETIF_RSP_ERROR on TX and RX. */
  "errors",
] as const;
export type Hostile = (typeof HOSTILE)[number];

const MAX_SLOTS = 19;

export interface EchoStats {
  frames: number;
  bytes: number;
  /** Frames echoed with a GSO extra. */
  gso: number;
  errors: number;
}

export class EchoQueue {
  readonly tx: BackRing;
  readonly rx: BackRing;
  readonly stats: EchoStats = { frames: 0, bytes: 0, gso: 0, errors: 0 };
  readonly #gnt: GrantOps;
  readonly #guest: number;
  readonly #handles: number[] = [];
  readonly #stage: number;
  readonly #req = privateMem(MAX_SLOTS * NETIF_TX_ENTRY_SIZE);
  readonly #rxReq = privateMem(MAX_SLOTS * NETIF_RX_ENTRY_SIZE);
  readonly #ops = privateMem(64 * GNTTAB_COPY_SIZE);
  readonly #hostile: Hostile;
  readonly #hostileAfter: number;
  /** Copy ops of the last frame echoed into RX (still in #ops until the next frame). */
  #lastRxOps = 0;
  #lastRxBytes = 0;
  /** Id of the first frame's first slot (for the double completion). */
  #firstId = -1;
  /** False: frames are answered and echoed without their bytes (GC tests: GrantOps makes a view per large copy). */
  readonly #copy: boolean;
  /** TX is left unread until `release` (the ring-full test). */
  hold: boolean;

  /**
   * `stage`: byte offset of MAX_SLOTS contiguous pages of the caller's own memory (frame
   * numbers stage/4096 on).
   */
  constructor(
    gnt: GrantOps,
    guest: number,
    txRefs: readonly number[],
    rxRefs: readonly number[],
    stage: number,
    opts: { hostile?: Hostile; hostileAfter?: number; hold?: boolean; copy?: boolean } = {},
  ) {
    this.#gnt = gnt;
    this.#guest = guest;
    this.#stage = stage;
    this.#hostile = opts.hostile ?? "none";
    this.#hostileAfter = opts.hostileAfter ?? 0;
    this.hold = opts.hold ?? false;
    this.#copy = opts.copy ?? true;
    this.tx = this.#attach(txRefs, NETIF_TX_ENTRY_SIZE);
    this.rx = this.#attach(rxRefs, NETIF_RX_ENTRY_SIZE);
  }

  #attach(refs: readonly number[], entry: number): BackRing {
    const offs: number[] = [];
    let mem: Mem | undefined;
    for (const ref of refs) {
      const h = this.#gnt.map(this.#guest, ref, false);
      if (h < 0) throw new Error(`map of ring gref ${ref} failed: ${h}`);
      this.#handles.push(h);
      offs.push(this.#gnt.mappedOff(h));
      mem = this.#gnt.mappedMem(h);
    }
    const ring = BackRing.attach(new RingArea(mem as Mem, offs, entry));
    if (typeof ring === "number") throw new Error(`ring attach failed: ${ring}`);
    return ring;
  }

  /** Unmaps the rings. */
  close(): void {
    for (const h of this.#handles) this.#gnt.unmap(h);
    this.#handles.length = 0;
  }

  /**
   * Serves every frame it can; returns a bit mask of what to notify: 1 TX, 2 RX. Stops when
   * the RX ring has no room for a largest frame, and asks to hear of new RX buffers.
   */
  step(): number {
    let notify = 0;
    if (this.hold) return 0;
    for (;;) {
      if (!this.#rxRoom()) break;
      const n = this.tx.unconsumedRequests();
      if (n < 0) {
        this.stats.errors++;
        break;
      }
      if (n === 0) {
        if (this.tx.finalCheckForRequests()) continue;
        break;
      }
      if (!this.#frame()) break;
    }
    if (this.tx.unpushedResponses > 0 && this.tx.pushResponsesAndCheckNotify()) notify |= 1;
    if (this.rx.unpushedResponses > 0) {
      if (this.#hostile === "rxProd" && this.stats.frames > this.#hostileAfter) {
        // A producer index far past anything the guest posted.
        const u32 = this.rx.area.mem.u32;
        Atomics.store(u32, (this.rx.area.hdr + SRING_RSP_PROD) >>> 2, (this.rx.rspProdPvt + 5000) >>> 0);
        notify |= 2;
      } else if (this.rx.pushResponsesAndCheckNotify()) notify |= 2;
    }
    return notify;
  }

  /**
   * Room on the RX ring for a largest frame; when short, asks to be notified at the next
   * buffer the guest posts, then looks once more (the guest may have posted meanwhile).
   */
  #rxRoom(): boolean {
    const rx = this.rx;
    let have = rx.unconsumedRequests();
    if (have >= MAX_SLOTS) return true;
    if (have < 0) return false;
    rx.setReqEvent((rx.reqCons + have + 1) >>> 0);
    have = rx.unconsumedRequests();
    return have >= MAX_SLOTS;
  }

  /** One TX frame: read, copy, echo, answer. False when its slots are not all published. */
  #frame(): boolean {
    const tx = this.tx;
    const req = this.#req;
    if (tx.copyRequests(req, 0, 1) !== 1) return this.#short();
    const fl0 = txReqFlags(req, 0);
    let n = 1;
    let extras = 0;
    if ((fl0 & NETTXF_extra_info) !== 0) {
      if (tx.copyRequests(req, NETIF_TX_ENTRY_SIZE, 1) !== 1) return this.#short();
      n = 2;
      extras = 1;
    }
    let more = (fl0 & NETTXF_more_data) !== 0;
    while (more && n < MAX_SLOTS) {
      if (tx.copyRequests(req, n * NETIF_TX_ENTRY_SIZE, 1) !== 1) return this.#short();
      more = (txReqFlags(req, n * NETIF_TX_ENTRY_SIZE) & NETTXF_more_data) !== 0;
      n++;
    }
    const flags0 = txReqFlags(req, 0);
    const total = txReqSize(req, 0);
    const gsoAt = extras === 1 ? NETIF_TX_ENTRY_SIZE : -1;
    const gso = gsoAt >= 0 && extraType(req, gsoAt) === XEN_NETIF_EXTRA_TYPE_GSO;
    // Data slots: 0, then extras+1 .. n-1. The first slot's size is what the rest leave.
    let rest = 0;
    for (let k = 1 + extras; k < n; k++) rest += txReqSize(req, k * NETIF_TX_ENTRY_SIZE);
    const size0 = total - rest;
    const frameNo = this.stats.frames;
    const ops = this.#ops;
    let nOps = 0;
    let pos = 0;
    for (let k = 0; k < n; k++) {
      if (k >= 1 && k <= extras) continue;
      const at = k * NETIF_TX_ENTRY_SIZE;
      const len = k === 0 ? size0 : txReqSize(req, at);
      nOps = this.#split(nOps, true, txReqGref(req, at), txReqOffset(req, at), false, 0, pos, len);
      pos += len;
    }
    if (this.#copy) this.#gnt.copy(ops, 0, nOps);
    // Answer TX: data slots by id, the extra NULL in its slot.
    const hostile = frameNo >= this.#hostileAfter ? this.#hostile : "none";
    for (let k = 0; k < n; k++) {
      const at = k * NETIF_TX_ENTRY_SIZE;
      const r = tx.beginResponse();
      if (k >= 1 && k <= extras) txRspSetStatus(tx.wmem, r, NETIF_RSP_NULL);
      else {
        let id = txReqId(req, at);
        let status = NETIF_RSP_OKAY;
        if (frameNo === 0 && k === 0) this.#firstId = id;
        if (k === 0 && hostile === "txBadId") id = 40000;
        if (k === 0 && hostile === "txDouble" && frameNo > 0) id = this.#firstId;
        if (k === 0 && hostile === "txBadStatus") status = 7;
        if (k === 0 && hostile === "errors" && frameNo === 0) status = NETIF_RSP_ERROR;
        txRspWrite(tx.wmem, r, id, status);
      }
      tx.endResponse();
    }
    // Echo into RX: one page per slot, the GSO extra after the first.
    const nData = Math.max(1, Math.ceil(total / PAGE_SIZE));
    const nRx = nData + (gso ? 1 : 0);
    const rx = this.rx;
    const rq = this.#rxReq;
    if (rx.copyRequests(rq, 0, nRx) !== nRx) {
      this.stats.errors++;
      return false;
    }
    const rxFlags =
      (flags0 & NETTXF_csum_blank ? NETRXF_csum_blank | NETRXF_data_validated : 0) |
      (flags0 & NETTXF_data_validated ? NETRXF_data_validated : 0);
    nOps = 0;
    pos = 0;
    let d = 0;
    for (let k = 0; k < nRx; k++) {
      const at = k * NETIF_RX_ENTRY_SIZE;
      const w = rx.beginResponse();
      if (gso && k === 1) {
        if (hostile === "rxBadExtra") {
          extraGsoWrite(rx.wmem, w, 0, extraGsoSize(req, gsoAt), extraGsoType(req, gsoAt));
          rx.wmem.u8[w] = 9;
        } else if (hostile === "rxBadGso") extraGsoWrite(rx.wmem, w, 0, 0, 7);
        else extraGsoWrite(rx.wmem, w, 0, extraGsoSize(req, gsoAt), extraGsoType(req, gsoAt));
        rx.endResponse();
        continue;
      }
      const len = Math.min(PAGE_SIZE, total - pos);
      let fl = d + 1 < nData ? NETRXF_more_data : 0;
      if (d === 0) fl |= rxFlags | (gso ? NETRXF_extra_info : 0);
      let id = rxReqId(rq, at);
      let off = 0;
      if (d === 0 && hostile === "rxBadId") id = (id + 1) & 0xffff;
      if (d === 0 && hostile === "rxOffset") off = PAGE_SIZE - 8;
      rxRspWrite(rx.wmem, w, id, off, fl, hostile === "errors" && frameNo === 0 ? NETIF_RSP_ERROR : len);
      rx.endResponse();
      nOps = this.#split(nOps, false, 0, pos, true, rxReqGref(rq, at), off, Math.min(len, PAGE_SIZE - off));
      pos += len;
      d++;
    }
    if (this.#copy) this.#gnt.copy(ops, 0, nOps);
    this.#lastRxOps = nOps;
    this.#lastRxBytes = total;
    this.stats.frames++;
    this.stats.bytes += total;
    if (gso) this.stats.gso++;
    return true;
  }

  /**
   * A hostile backend's move: writes `byte` over the last frame it echoed, in the guest's
   * RX buffers it still holds grants for, after having delivered it. `stageMem` is the
   * memory the staging offset given at construction lies in.
   */
  rewriteLastRx(stageMem: Mem, byte: number): void {
    stageMem.u8.fill(byte, this.#stage, this.#stage + this.#lastRxBytes);
    this.#gnt.copy(this.#ops, 0, this.#lastRxOps);
  }

  /** A frame whose slots were not all published: the guest broke the batch rule. */
  #short(): boolean {
    this.stats.errors++;
    return false;
  }

  /**
   * Adds copy ops for `len` bytes between a guest gref and the staging area, split so no
   * op crosses a staging page. `pos` is the byte position in the staging area.
   */
  #split(
    nOps: number,
    fromGuest: boolean,
    srcRef: number,
    srcOff: number,
    toGuest: boolean,
    dstRef: number,
    dstOff: number,
    len: number,
  ): number {
    const ops = this.#ops;
    let done = 0;
    while (done < len) {
      const stagePos = fromGuest ? dstOff + done : srcOff + done;
      const room = PAGE_SIZE - (stagePos & (PAGE_SIZE - 1));
      const chunk = Math.min(room, len - done);
      const frame = (this.#stage + stagePos) >>> 12;
      const pageOff = stagePos & (PAGE_SIZE - 1);
      const at = nOps * GNTTAB_COPY_SIZE;
      if (fromGuest)
        gcopyWrite(
          ops,
          at,
          srcRef,
          this.#guest,
          srcOff + done,
          frame,
          DOMID_SELF,
          pageOff,
          chunk,
          GNTCOPY_source_gref,
        );
      else if (toGuest)
        gcopyWrite(
          ops,
          at,
          frame,
          DOMID_SELF,
          pageOff,
          dstRef,
          this.#guest,
          dstOff + done,
          chunk,
          GNTCOPY_dest_gref,
        );
      nOps++;
      done += chunk;
    }
    return nOps;
  }
}
