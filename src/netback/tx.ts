/**
 * netback TX for one queue: frames the guest transmits, out through the switch (TX is the
 * guest's view).
 *
 * On the queue's TX event, in batches shaped as netmap's nm_bdg_preflush: every published
 * request is copied once into private memory (BackRing.copyRequests: one read of req_prod)
 * and parsed there (parseTxPacket: gref, offset + size within the page, slot counts, the
 * size chain, extras; a one-slot packet, the common case, is told from its first slot by
 * oneSlotSize), up to TX_BATCH good packets into private columns. A fatal packet
 * disables the vif through its VifFatal; a dropped one is answered NETIF_RSP_ERROR (extras
 * NETIF_RSP_NULL), after the good packets before it have gone. For the good ones: the
 * first TX_COPY_LEN bytes of every packet are copied, over as many slots as they span,
 * into a Domain-0 page before anything reads a header (the guest cannot change them under
 * the switch), with one grant-copy call for the whole batch; the rest of every slot is
 * grant-mapped read-only and referenced, not copied (a ValeFrags list, one reused per
 * batch place), and the batch goes to the switch in one call (destinations looked up for
 * the batch, then delivered per destination). VALE runs in this thread, so when that call
 * returns the frames have been delivered: only then are the pages unmapped and the
 * responses written. Responses are pushed, and the guest notified, once per pass of the
 * loop below (a pass ends when the guest's published requests are used up, or after
 * `budget` slots); a run ends after `budget` slots and the rest runs after the loop's other
 * work (dom.loop.defer), so one guest cannot hold the thread. Receivers' wake-ups wait for
 * the end of the run (notify-hold.ts).
 *
 * A slot whose grant the frontend staged (ctrl.ts, staging.ts) is already mapped: its
 * header bytes are copied with a plain copy and the rest referenced from the standing
 * mapping, with no grant operation at all.
 *
 * The pending pool bounds the slots a queue holds mapped; with synchronous delivery it
 * holds at most one batch's.
 */
import type { Counters } from "../base/counters.js";
import { PAGE_SHIFT } from "../hv/memory.js";
import type { BackRing } from "../ring/back.js";
import { ringErrorText } from "../ring/errors.js";
import { VALE_F_CSUM_BLANK, VALE_F_DATA_VALID, ValeFrags } from "../vale/frags.js";
import { copyBytes } from "../wire/copy.js";
import { type Mem, privateMem } from "../wire/mem.js";
import {
  DOMID_SELF,
  GNTCOPY_source_gref,
  GNTST_okay,
  GNTTAB_COPY_SIZE,
  gcopyStatus,
  gcopyWrite,
} from "../wire/xen/grant.js";
import {
  extraGsoSize,
  extraGsoType,
  extraMcastAddr,
  NETIF_RSP_ERROR,
  NETIF_RSP_NULL,
  NETIF_RSP_OKAY,
  NETIF_TX_ENTRY_SIZE,
  NETTXF_csum_blank,
  NETTXF_data_validated,
  txReqFlags,
  txReqGref,
  txReqId,
  txReqOffset,
  txReqSize,
} from "../wire/xen/netif.js";
import type { VifQueueCounter } from "./counters.js";
import type { Rate } from "./credit.js";
import { CreditGate } from "./credit-gate.js";
import { McastList } from "./mcast.js";
import { type NotifyHold, notifyHoldOf } from "./notify-hold.js";
import { PendingPool } from "./pending.js";
import { writeTxResponse } from "./rsp-write.js";
import type { StagingTable } from "./staging.js";
import {
  FATAL_SKB_SLOTS_DEFAULT,
  oneSlotSize,
  parseTxPacket,
  TX_SLOT_BYTES,
  TxPacket,
  type TxParseLimits,
  TxVerdict,
} from "./tx-parse.js";
import type { VifDomain } from "./vif-domain.js";

/** Linux's XEN_NETBACK_TX_COPY_LEN: bytes copied before any header is read. */
export const TX_COPY_LEN = 128;
/** Slots a queue handles before letting the loop run other work. */
export const TX_BUDGET_DEFAULT = 256;
/** Most slots one packet spans: first, extras (at most one per type), fragments. */
const MAX_PKT_SLOTS = 1 + 8 + FATAL_SKB_SLOTS_DEFAULT + 1;
/** Packets one batch takes: their copied headers fill one page. */
export const TX_BATCH = 4096 / TX_COPY_LEN;

export interface TxQueueOptions {
  budget: number;
  fatalSlots: number;
  pendingSlots: number;
  /** The vif's multicast list (shared by its queues, as Linux keeps it per vif); default: the queue's own. */
  mcast?: McastList;
  /** The queue's staged grants (null: every slot takes the grant-copy path). */
  staging?: StagingTable | null;
  /** The backend's `rate` (credit.ts); default unlimited. */
  rate?: Rate;
}

/** Where a queue's frames go: the vif forwards them (switch, or its netmap ring). */
export interface TxSink {
  /** Delivers (or drops) frames `frames[0..n)`, in order, before returning. */
  forwardBatch(frames: readonly ValeFrags[], n: number): void;
  /** The batch is over: wake receivers. */
  flush(): void;
}

export class NetbackTx {
  readonly #dom: VifDomain;
  readonly #ring: BackRing;
  readonly #port: number;
  readonly #front: number;
  readonly #sink: TxSink;
  readonly #fatal: (reason: string) => void;
  readonly #mcast: McastList;
  readonly #limits: TxParseLimits;
  readonly #budget: number;
  readonly #batch: Mem;
  /** Requests copied and not yet handled, from batch index 0. */
  #left = 0;
  readonly #pkt = new TxPacket();
  readonly #pool: PendingPool;
  /** The batch's header grant copies, and the packet each op is for. */
  readonly #ops = privateMem(TX_BATCH * MAX_PKT_SLOTS * GNTTAB_COPY_SIZE);
  readonly #opPkt = new Uint8Array(TX_BATCH * MAX_PKT_SLOTS);
  /** Per packet of the batch (parsed, not yet sent): its TxPacket fields and status. */
  readonly #bStart = new Int32Array(TX_BATCH);
  readonly #bConsumed = new Int32Array(TX_BATCH);
  readonly #bExtras = new Int32Array(TX_BATCH);
  readonly #bFrags = new Int32Array(TX_BATCH);
  readonly #bFirst = new Int32Array(TX_BATCH);
  readonly #bTotal = new Int32Array(TX_BATCH);
  readonly #bFlags = new Int32Array(TX_BATCH);
  readonly #bGsoAt = new Int32Array(TX_BATCH);
  readonly #bHdrLen = new Int32Array(TX_BATCH);
  readonly #bStatus = new Int32Array(TX_BATCH);
  /** Per request of the private copy (by index): pool entry, staging slot or -1, header bytes taken. */
  readonly #entryAt: Int32Array;
  readonly #stgAt: Int32Array;
  readonly #skipAt: Int32Array;
  readonly #staging: StagingTable | null;
  /** The batch's frames, place k for its k-th forwarded packet. */
  readonly #frames: ValeFrags[];
  /** The Domain-0 page the batch's headers are copied to, TX_COPY_LEN bytes per packet. */
  readonly #hdrPage: number;
  readonly #c: Float64Array;
  readonly #cPkts: number;
  readonly #cBytes: number;
  readonly #cDrop: number;
  readonly #cFatal: number;
  readonly #cGrantErr: number;
  readonly #cEvtSent: number;
  readonly #cCopyOps: number;
  readonly #cPendFull: number;
  readonly #cZcSent: number;
  readonly #cZcOk: number;
  readonly #runBound = (): void => {
    this.#deferred = false;
    this.run();
  };
  #deferred = false;
  readonly #hold: NotifyHold;
  /** Made on the first finite rate: an unlimited queue never looks at a clock. */
  #gate: CreditGate | null = null;
  readonly #cCreditWaits: number;
  #dead = false;
  #closed = false;

  constructor(
    dom: VifDomain,
    ring: BackRing,
    port: number,
    frontDomid: number,
    sink: TxSink,
    counters: Counters<VifQueueCounter>,
    opts: TxQueueOptions,
    fatal: (reason: string) => void,
  ) {
    this.#dom = dom;
    this.#ring = ring;
    this.#port = port;
    this.#front = frontDomid;
    this.#sink = sink;
    this.#fatal = fatal;
    this.#limits = { fatalSlots: Math.min(opts.fatalSlots, FATAL_SKB_SLOTS_DEFAULT) };
    this.#budget = opts.budget;
    this.#mcast = opts.mcast ?? new McastList();
    this.#staging = opts.staging ?? null;
    this.#batch = privateMem(ring.nrEnts * NETIF_TX_ENTRY_SIZE);
    this.#entryAt = new Int32Array(ring.nrEnts);
    this.#stgAt = new Int32Array(ring.nrEnts);
    this.#skipAt = new Int32Array(ring.nrEnts);
    this.#pool = new PendingPool(opts.pendingSlots);
    this.#hold = notifyHoldOf(dom);
    this.#frames = Array.from({ length: TX_BATCH }, () => new ValeFrags(dom.memory.mem));
    const page = dom.pages.alloc();
    if (page < 0) throw new RangeError(`netback: domain ${dom.domid} has no page for a TX header buffer`);
    this.#hdrPage = page;
    this.#c = counters.f64;
    this.#cPkts = counters.slot("rx_packets");
    this.#cBytes = counters.slot("rx_bytes");
    this.#cDrop = counters.slot("rx_dropped");
    this.#cFatal = counters.slot("tx_fatal");
    this.#cGrantErr = counters.slot("grant_errors");
    this.#cEvtSent = counters.slot("evt_sent");
    this.#cCopyOps = counters.slot("gnt_copy_ops");
    this.#cPendFull = counters.slot("tx_pending_full");
    this.#cZcSent = counters.slot("tx_zerocopy_sent");
    this.#cZcOk = counters.slot("tx_zerocopy_success");
    this.#cCreditWaits = counters.slot("tx_credit_waits");
    if (opts.rate !== undefined) this.setRate(opts.rate);
  }

  /** A new `rate` (the key changed): applies from the next packet; a waiting queue keeps its timer. */
  setRate(rate: Rate): void {
    if (this.#dead) return;
    if (this.#gate === null) {
      if (!Number.isFinite(rate.bytes)) return;
      this.#gate = new CreditGate(rate, this.#dom.timers, this.#runBound);
    } else this.#gate.setRate(rate);
  }

  /** Whether the queue is waiting for its credit timer. */
  get creditWaiting(): boolean {
    return this.#gate?.waiting ?? false;
  }

  /** Charges `size` bytes: false when the queue must wait for its timer (armed here). */
  #admit(size: number): boolean {
    const g = this.#gate;
    if (g === null) return true;
    if (g.waiting) return false;
    if (g.admit(size)) return true;
    this.#c[this.#cCreditWaits]++;
    return false;
  }

  /** Slots held mapped now (0 between batches). */
  get pendingHeld(): number {
    return this.#pool.held;
  }

  /**
   * The queue's TX event (and the first look at attach): serve one budget of slots. Returns
   * false when the guest had published no request (a spurious event, see late-eoi.ts).
   */
  run(): boolean {
    if (this.#dead) return false;
    const hold = this.#hold;
    hold.begin();
    try {
      return this.#run();
    } finally {
      hold.end();
    }
  }

  #run(): boolean {
    // Out of credit: the timer runs the queue again; the guest's notifies meanwhile change nothing.
    if (this.#gate?.waiting === true) return true;
    let found = this.#left > 0;
    const ring = this.#ring;
    const batch = this.#batch;
    let budget = this.#budget;
    for (;;) {
      // Top up behind what is left, so a packet is always parsed against every slot the
      // guest has published (a packet running past them is fatal, as in Linux).
      const room = ring.nrEnts - this.#left;
      if (room > 0) {
        const n = ring.copyRequests(batch, this.#left * TX_SLOT_BYTES, room);
        if (n < 0) {
          this.#die(`TX ring: ${ringErrorText(n)}`);
          return true;
        }
        if (n > 0) found = true;
        this.#left += n;
      }
      if (this.#left === 0) {
        this.#endBatch();
        if (ring.finalCheckForRequests()) continue;
        return found;
      }
      let pos = 0;
      let nb = 0;
      /** Data slots of the batch: each may need a pool entry (a mapping) when it is sent. */
      let slots = 0;
      let stop = false;
      const pkt = this.#pkt;
      const pool = this.#pool;
      while (pos < this.#left && budget > 0) {
        if (nb < TX_BATCH && pool.free > slots) {
          const size = oneSlotSize(batch, pos * TX_SLOT_BYTES);
          if (size >= 0) {
            if (!this.#admit(size)) {
              stop = true;
              break;
            }
            this.#takeOne(nb++, pos, size, txReqFlags(batch, pos * TX_SLOT_BYTES));
            slots++;
            pos++;
            budget--;
            continue;
          }
        }
        const v = parseTxPacket(batch, 0, pos, this.#left - pos, this.#limits, pkt);
        if (v === TxVerdict.Ok && nb < TX_BATCH && this.#pool.free >= slots + 1 + pkt.nFrags) {
          if (!this.#admit(pkt.totalSize)) {
            stop = true;
            break;
          }
          this.#take(nb++, pkt);
          slots += 1 + pkt.nFrags;
          pos += pkt.consumed;
          budget -= pkt.consumed;
          continue;
        }
        // Anything else waits for the batch before it, so responses keep ring order
        // (and the pool is whole again); then this packet is parsed again.
        if (nb > 0) {
          this.#sendBatch(nb);
          nb = slots = 0;
          continue;
        }
        const used = this.#other(pos, v);
        if (used < 0) {
          this.#endBatch();
          return true;
        }
        if (used === 0) {
          stop = true;
          break;
        }
        pos += used;
        budget -= used;
      }
      if (nb > 0) this.#sendBatch(nb);
      if (pos > 0 && pos < this.#left)
        batch.u8.copyWithin(0, pos * TX_SLOT_BYTES, this.#left * TX_SLOT_BYTES);
      this.#left -= pos;
      this.#endBatch();
      if (budget <= 0 || pos === 0 || stop) {
        if (!this.#deferred && !this.creditWaiting) {
          this.#deferred = true;
          this.#dom.loop.defer(this.#runBound);
        }
        return found;
      }
    }
  }

  /** Stops serving; nothing is held between batches, so nothing is left to release. */
  close(): void {
    this.#dead = true;
    this.#gate?.close();
    if (this.#closed) return;
    this.#closed = true;
    this.#pool.forEachHeld((i) => {
      if (this.#pool.handle[i] >= 0) this.#dom.gnt.unmap(this.#pool.handle[i]);
      this.#pool.release(i);
    });
    this.#dom.pages.free(this.#hdrPage);
  }

  #endBatch(): void {
    this.#sink.flush();
    const ring = this.#ring;
    if (ring.unpushedResponses > 0 && ring.pushResponsesAndCheckNotify()) {
      this.#c[this.#cEvtSent]++;
      this.#dom.evtchn.send(this.#port);
    }
  }

  #die(reason: string): void {
    this.#dead = true;
    this.#c[this.#cFatal]++;
    this.#endBatch();
    this.#fatal(reason);
  }

  /**
   * A packet that does not join a batch, at batch index `pos` with verdict `v` (parsed into
   * #pkt): the slots it consumed, 0 to stop for now (pool exhausted, out of credit), -1
   * when it was fatal.
   */
  #other(pos: number, v: TxVerdict): number {
    const b = this.#batch;
    const pkt = this.#pkt;
    if (v === TxVerdict.Fatal) {
      this.#die(pkt.describe());
      return -1;
    }
    if (v === TxVerdict.Drop) {
      // Charged as Linux charges it (the first slot's size, before validation), so a flood
      // of bad requests is held to the rate too.
      if (!this.#admit(txReqSize(b, pos * TX_SLOT_BYTES))) return 0;
      this.#c[this.#cDrop]++;
      this.#answer(pkt.start, pkt.consumed, pkt.nExtras, NETIF_RSP_ERROR);
      return pkt.consumed;
    }
    if (v === TxVerdict.Control) {
      // As Linux: an ADD (taken first when both are present) fails once the list is full.
      let status = NETIF_RSP_OKAY;
      if (pkt.mcastAddAt >= 0) {
        if (!this.#mcast.add(extraMcastAddr(b, pkt.mcastAddAt * TX_SLOT_BYTES))) status = NETIF_RSP_ERROR;
      } else this.#mcast.del(extraMcastAddr(b, pkt.mcastDelAt * TX_SLOT_BYTES));
      this.#answer(pkt.start, pkt.consumed, pkt.nExtras, status);
      return pkt.consumed;
    }
    // A good packet with no batch before it: the pool has too few entries for it.
    this.#c[this.#cPendFull]++;
    return 0;
  }

  /** Records good packet `pkt` as the batch's `k`-th. */
  #take(k: number, pkt: TxPacket): void {
    const start = pkt.start;
    const nExtras = pkt.nExtras;
    this.#bStart[k] = start;
    this.#bConsumed[k] = pkt.consumed;
    this.#bExtras[k] = nExtras;
    this.#bFrags[k] = pkt.nFrags;
    this.#bFirst[k] = pkt.firstSize;
    this.#bTotal[k] = pkt.totalSize;
    this.#bFlags[k] = pkt.flags;
    this.#bGsoAt[k] = pkt.gsoAt;
    // A pool entry is taken only for a slot that gets mapped (#frame): staged ones need none.
    for (let d = 0; d <= pkt.nFrags; d++) this.#entryAt[slotOf(start, nExtras, d)] = -1;
  }

  /** Records the one-slot packet at batch index `start` (oneSlotSize: `size`) as the batch's `k`-th. */
  #takeOne(k: number, start: number, size: number, flags: number): void {
    this.#bStart[k] = start;
    this.#bConsumed[k] = 1;
    this.#bExtras[k] = 0;
    this.#bFrags[k] = 0;
    this.#bFirst[k] = size;
    this.#bTotal[k] = size;
    this.#bFlags[k] = flags;
    this.#bGsoAt[k] = -1;
    this.#entryAt[start] = -1;
  }

  /**
   * Sends the batch's `nb` packets: headers copied (plain copies from staged grants, one
   * grant-copy call for the rest), payloads referenced, the frames forwarded in one call,
   * then the mappings ended and every packet answered.
   */
  #sendBatch(nb: number): void {
    const b = this.#batch;
    const gnt = this.#dom.gnt;
    const ops = this.#ops;
    const opPkt = this.#opPkt;
    const st = this.#staging;
    const stgAt = this.#stgAt;
    const skipAt = this.#skipAt;
    const c = this.#c;
    let nOps = 0;
    for (let k = 0; k < nb; k++) {
      const start = this.#bStart[k];
      const hdr = k * TX_COPY_LEN;
      if (this.#bConsumed[k] === 1) {
        // One slot: its first TX_COPY_LEN bytes (a small frame whole) and nothing to walk.
        const at = start * TX_SLOT_BYTES;
        const take = Math.min(this.#bFirst[k], TX_COPY_LEN);
        const gref = txReqGref(b, at);
        const sg = st === null ? -1 : st.find(gref);
        stgAt[start] = sg;
        skipAt[start] = take;
        nOps = this.#copyHeader(k, gref, sg, txReqOffset(b, at), hdr, take, nOps);
        this.#bHdrLen[k] = take;
        this.#bStatus[k] = NETIF_RSP_OKAY;
        continue;
      }
      const nExtras = this.#bExtras[k];
      const nData = 1 + this.#bFrags[k];
      const want = Math.min(this.#bTotal[k], TX_COPY_LEN);
      let copied = 0;
      for (let d = 0; d < nData; d++) {
        const s = slotOf(start, nExtras, d);
        const at = s * TX_SLOT_BYTES;
        const size = d === 0 ? this.#bFirst[k] : txReqSize(b, at);
        const take = Math.min(size, want - copied);
        const gref = txReqGref(b, at);
        const sg = st === null ? -1 : st.find(gref);
        stgAt[s] = sg;
        if (take <= 0) {
          skipAt[s] = 0;
          continue;
        }
        skipAt[s] = take;
        nOps = this.#copyHeader(k, gref, sg, txReqOffset(b, at), hdr + copied, take, nOps);
        copied += take;
      }
      this.#bHdrLen[k] = copied;
      this.#bStatus[k] = NETIF_RSP_OKAY;
    }
    if (nOps > 0) {
      c[this.#cCopyOps] += nOps;
      if (gnt.copy(ops, 0, nOps) > 0)
        for (let j = 0; j < nOps; j++)
          if (gcopyStatus(ops, j * GNTTAB_COPY_SIZE) !== GNTST_okay) this.#fail(opPkt[j]);
    }
    const frames = this.#frames;
    let nf = 0;
    let bytes = 0;
    for (let k = 0; k < nb; k++) {
      if (this.#bStatus[k] === NETIF_RSP_OKAY && this.#frame(k, frames[nf])) {
        nf++;
        bytes += this.#bTotal[k];
      }
    }
    // Counted once for the batch, before the switch (and any tap on it) sees the frames.
    c[this.#cPkts] += nf;
    c[this.#cBytes] += bytes;
    if (nf > 0) this.#sink.forwardBatch(frames, nf);
    const pool = this.#pool;
    const ring = this.#ring;
    for (let k = 0; k < nb; k++) {
      const start = this.#bStart[k];
      if (this.#bConsumed[k] === 1) {
        // One slot, no extras: one entry to release (if mapped) and one response.
        const e = this.#entryAt[start];
        if (e >= 0) {
          const h = pool.handle[e];
          if (h >= 0) gnt.unmap(h);
          pool.release(e);
        }
        writeTxResponse(ring, txReqId(b, start * TX_SLOT_BYTES), this.#bStatus[k]);
        continue;
      }
      const nExtras = this.#bExtras[k];
      for (let d = 0; d <= this.#bFrags[k]; d++) {
        const e = this.#entryAt[slotOf(start, nExtras, d)];
        if (e < 0) continue;
        const h = pool.handle[e];
        if (h >= 0) gnt.unmap(h);
        pool.release(e);
      }
      this.#answer(start, this.#bConsumed[k], nExtras, this.#bStatus[k]);
    }
  }

  /**
   * Copies `take` header bytes of packet `k` from offset `off` of grant `gref` to byte `hdr`
   * of the header page: a plain copy from staging slot `sg` (>= 0; the parse checked offset +
   * size within the page), else one more grant-copy op of the batch. Returns the ops so far.
   */
  #copyHeader(
    k: number,
    gref: number,
    sg: number,
    off: number,
    hdr: number,
    take: number,
    nOps: number,
  ): number {
    const st = this.#staging;
    if (sg >= 0) {
      copyBytes(
        this.#dom.memory.mem,
        (this.#hdrPage << PAGE_SHIFT) + hdr,
        st!.mem[sg]!,
        st!.off[sg] + off,
        take,
      );
      return nOps;
    }
    gcopyWrite(
      this.#ops,
      nOps * GNTTAB_COPY_SIZE,
      gref,
      this.#front,
      off,
      this.#hdrPage,
      DOMID_SELF,
      hdr,
      take,
      GNTCOPY_source_gref,
    );
    this.#opPkt[nOps] = k;
    return nOps + 1;
  }

  /** Packet `k` of the batch failed a grant operation: answered with an error, counted once. */
  #fail(k: number): void {
    if (this.#bStatus[k] !== NETIF_RSP_OKAY) return;
    this.#bStatus[k] = NETIF_RSP_ERROR;
    this.#c[this.#cGrantErr]++;
    this.#c[this.#cDrop]++;
  }

  /** Fills `f` with packet `k`: its copied header, then the rest of each slot by reference. */
  #frame(k: number, f: ValeFrags): boolean {
    const b = this.#batch;
    const gnt = this.#dom.gnt;
    const front = this.#front;
    const st = this.#staging;
    const pool = this.#pool;
    const start = this.#bStart[k];
    const nExtras = this.#bExtras[k];
    const nData = 1 + this.#bFrags[k];
    f.clear();
    f.push(this.#dom.memory.mem, (this.#hdrPage << PAGE_SHIFT) + k * TX_COPY_LEN, this.#bHdrLen[k]);
    const fl = this.#bFlags[k];
    f.flags =
      (fl & NETTXF_csum_blank ? VALE_F_CSUM_BLANK : 0) | (fl & NETTXF_data_validated ? VALE_F_DATA_VALID : 0);
    // A small frame in one slot is all in its copied header: nothing more to reference.
    if (this.#bConsumed[k] === 1 && this.#bHdrLen[k] === this.#bFirst[k]) return true;
    let mapped = false;
    for (let d = 0; d < nData; d++) {
      const s = slotOf(start, nExtras, d);
      const at = s * TX_SLOT_BYTES;
      const size = d === 0 ? this.#bFirst[k] : txReqSize(b, at);
      const skip = this.#skipAt[s];
      const rest = size - skip;
      if (rest <= 0) continue;
      const gref = txReqGref(b, at);
      const sg = this.#stgAt[s];
      if (sg >= 0) {
        f.push(st!.mem[sg]!, st!.off[sg] + txReqOffset(b, at) + skip, rest, front, gref);
        continue;
      }
      const h = gnt.map(front, gref, true);
      if (h < 0) {
        this.#fail(k);
        return false;
      }
      // The gather loop counted every data slot of the batch against the pool's free entries.
      const e = pool.alloc(txReqId(b, at), gref, d === 0 ? nExtras : 0);
      if (e < 0) {
        gnt.unmap(h);
        this.#fail(k);
        return false;
      }
      this.#entryAt[s] = e;
      pool.handle[e] = h;
      f.push(gnt.mappedMem(h), gnt.mappedOff(h) + txReqOffset(b, at) + skip, rest, front, gref);
      mapped = true;
    }
    const gsoAt = this.#bGsoAt[k];
    if (gsoAt >= 0) {
      const g = gsoAt * TX_SLOT_BYTES;
      f.gsoType = extraGsoType(b, g);
      f.gsoSize = extraGsoSize(b, g);
    }
    if (mapped) {
      const c = this.#c;
      c[this.#cZcSent]++;
      c[this.#cZcOk]++;
    }
    return true;
  }

  /** Responses for every slot of a packet, in ring order: data `status`, extras NULL. */
  #answer(start: number, consumed: number, nExtras: number, status: number): void {
    const b = this.#batch;
    const ring = this.#ring;
    const end = start + consumed;
    const xEnd = start + 1 + nExtras;
    for (let s = start; s < end; s++) {
      const isExtra = s > start && s < xEnd;
      writeTxResponse(ring, isExtra ? 0 : txReqId(b, s * TX_SLOT_BYTES), isExtra ? NETIF_RSP_NULL : status);
    }
  }
}

/** Request index of data slot `d` of a packet starting at `start` with `nExtras` extras. */
function slotOf(start: number, nExtras: number, d: number): number {
  return d === 0 ? start : start + nExtras + d;
}
