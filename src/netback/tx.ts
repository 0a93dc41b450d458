/**
 * netback TX for one queue: frames the guest transmits, out through the switch (TX is the
 * guest's view).
 *
 * On the queue's TX event, in batches: every published request is copied once into
 * private memory (BackRing.copyRequests) and parsed there (parseTxPacket: gref, offset +
 * size within the page, slot counts, the size chain, extras). A fatal packet disables the
 * vif through its VifFatal; a dropped one is answered NETIF_RSP_ERROR (extras
 * NETIF_RSP_NULL). A good one: the first TX_COPY_LEN bytes are grant-copied, over as many
 * slots as they span, into a Domain-0 page before anything reads a header (the guest
 * cannot change them under the switch); the rest of every slot is grant-mapped read-only
 * and referenced, not copied (a ValeFrags list), and the frame is forwarded. VALE runs in
 * this thread, so when `forward` returns the frame has been delivered: only then are the
 * pages unmapped and the responses written. Responses are pushed, and the guest notified,
 * once per batch; a batch ends after `budget` slots and the rest runs after the loop's
 * other work (dom.loop.defer), so one guest cannot hold the thread.
 *
 * A slot whose grant the frontend staged (ctrl.ts, staging.ts) is already mapped: its
 * header bytes are copied with a plain copy and the rest referenced from the standing
 * mapping, with no grant operation at all.
 *
 * The pending pool bounds the slots a queue holds mapped; with synchronous delivery it
 * holds at most one frame's.
 */
import type { Counters } from "../base/counters.js";
import { PAGE_SHIFT } from "../hv/memory.js";
import type { BackRing } from "../ring/back.js";
import { ringErrorText } from "../ring/errors.js";
import { VALE_F_CSUM_BLANK, VALE_F_DATA_VALID, ValeFrags } from "../vale/frags.js";
import { copyBytes } from "../wire/copy.js";
import { type Mem, privateMem } from "../wire/mem.js";
import { DOMID_SELF, GNTCOPY_source_gref, GNTTAB_COPY_SIZE, gcopyWrite } from "../wire/xen/grant.js";
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
  txReqGref,
  txReqId,
  txReqOffset,
  txReqSize,
  txRspWrite,
} from "../wire/xen/netif.js";
import type { VifQueueCounter } from "./counters.js";
import { McastList } from "./mcast.js";
import { PendingPool } from "./pending.js";
import type { StagingTable } from "./staging.js";
import {
  FATAL_SKB_SLOTS_DEFAULT,
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

export interface TxQueueOptions {
  budget: number;
  fatalSlots: number;
  pendingSlots: number;
  /** The vif's multicast list (shared by its queues, as Linux keeps it per vif); default: the queue's own. */
  mcast?: McastList;
  /** The queue's staged grants (null: every slot takes the grant-copy path). */
  staging?: StagingTable | null;
}

/** Where a queue's frames go: the vif forwards them (switch, or its netmap ring). */
export interface TxSink {
  /** Delivers the frame (or drops it, counted by the switch) before returning. */
  forward(f: ValeFrags): void;
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
  readonly #ops = privateMem(MAX_PKT_SLOTS * GNTTAB_COPY_SIZE);
  /** Per data slot of the packet: its batch index, bytes already copied, pool entry. */
  readonly #slotAt = new Int32Array(MAX_PKT_SLOTS);
  readonly #skip = new Int32Array(MAX_PKT_SLOTS);
  readonly #entry = new Int32Array(MAX_PKT_SLOTS);
  /** Per data slot: its staging table slot, or -1. */
  readonly #stg = new Int32Array(MAX_PKT_SLOTS);
  readonly #staging: StagingTable | null;
  readonly #frags: ValeFrags;
  /** The Domain-0 page the copied header goes to. */
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
    this.#pool = new PendingPool(opts.pendingSlots);
    this.#frags = new ValeFrags(dom.memory.mem);
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
      while (pos < this.#left && budget > 0) {
        const used = this.#packet(pos);
        if (used < 0) {
          this.#endBatch();
          return true;
        }
        if (used === 0) break;
        pos += used;
        budget -= used;
      }
      if (pos > 0 && pos < this.#left)
        batch.u8.copyWithin(0, pos * TX_SLOT_BYTES, this.#left * TX_SLOT_BYTES);
      this.#left -= pos;
      this.#endBatch();
      if (budget <= 0 || pos === 0) {
        if (!this.#deferred) {
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
   * Handles the packet at batch index `pos`: the slots it consumed, 0 to stop for now
   * (pool exhausted), -1 when it was fatal.
   */
  #packet(pos: number): number {
    const b = this.#batch;
    const pkt = this.#pkt;
    const v = parseTxPacket(b, 0, pos, this.#left - pos, this.#limits, pkt);
    if (v === TxVerdict.Fatal) {
      this.#die(pkt.describe());
      return -1;
    }
    if (v === TxVerdict.Drop) {
      this.#c[this.#cDrop]++;
      this.#answer(pkt, NETIF_RSP_ERROR);
      return pkt.consumed;
    }
    if (v === TxVerdict.Control) {
      // As Linux: an ADD (taken first when both are present) fails once the list is full.
      let status = NETIF_RSP_OKAY;
      if (pkt.mcastAddAt >= 0) {
        if (!this.#mcast.add(extraMcastAddr(b, pkt.mcastAddAt * TX_SLOT_BYTES))) status = NETIF_RSP_ERROR;
      } else this.#mcast.del(extraMcastAddr(b, pkt.mcastDelAt * TX_SLOT_BYTES));
      this.#answer(pkt, status);
      return pkt.consumed;
    }
    const nData = 1 + pkt.nFrags;
    const pool = this.#pool;
    if (pool.free < nData) {
      this.#c[this.#cPendFull]++;
      return 0;
    }
    const slotAt = this.#slotAt;
    slotAt[0] = pos;
    for (let d = 1; d < nData; d++) slotAt[d] = pos + pkt.nExtras + d;
    for (let d = 0; d < nData; d++) {
      const at = slotAt[d] * TX_SLOT_BYTES;
      this.#entry[d] = pool.alloc(txReqId(b, at), txReqGref(b, at), d === 0 ? pkt.nExtras : 0);
    }
    const status = this.#send(pkt, nData);
    for (let d = 0; d < nData; d++) {
      const e = this.#entry[d];
      const h = pool.handle[e];
      if (h >= 0) this.#dom.gnt.unmap(h);
      pool.release(e);
    }
    this.#answer(pkt, status);
    return pkt.consumed;
  }

  /** Copies the header, maps the rest, forwards: the status every data slot gets. */
  #send(pkt: TxPacket, nData: number): number {
    const b = this.#batch;
    const gnt = this.#dom.gnt;
    const front = this.#front;
    const ops = this.#ops;
    const hdrOff = this.#hdrPage << PAGE_SHIFT;
    const total = pkt.totalSize;
    const want = Math.min(total, TX_COPY_LEN);
    const st = this.#staging;
    const stg = this.#stg;
    const mem = this.#dom.memory.mem;
    let copied = 0;
    let nOps = 0;
    for (let d = 0; d < nData; d++) {
      const at = this.#slotAt[d] * TX_SLOT_BYTES;
      const size = d === 0 ? pkt.firstSize : txReqSize(b, at);
      const take = Math.min(size, want - copied);
      const sg = st === null ? -1 : st.find(txReqGref(b, at));
      stg[d] = sg;
      this.#skip[d] = take;
      if (take <= 0) {
        this.#skip[d] = 0;
        continue;
      }
      if (sg >= 0) {
        // parseTxPacket checked offset + size within the page.
        copyBytes(mem, hdrOff + copied, st!.mem[sg]!, st!.off[sg] + txReqOffset(b, at), take);
        copied += take;
        continue;
      }
      gcopyWrite(
        ops,
        nOps++ * GNTTAB_COPY_SIZE,
        txReqGref(b, at),
        front,
        txReqOffset(b, at),
        this.#hdrPage,
        DOMID_SELF,
        copied,
        take,
        GNTCOPY_source_gref,
      );
      copied += take;
    }
    this.#c[this.#cCopyOps] += nOps;
    if (nOps > 0 && gnt.copy(ops, 0, nOps) > 0) {
      this.#c[this.#cGrantErr]++;
      this.#c[this.#cDrop]++;
      return NETIF_RSP_ERROR;
    }
    const f = this.#frags;
    f.clear();
    f.push(mem, hdrOff, copied);
    let mapped = false;
    const pool = this.#pool;
    for (let d = 0; d < nData; d++) {
      const at = this.#slotAt[d] * TX_SLOT_BYTES;
      const size = d === 0 ? pkt.firstSize : txReqSize(b, at);
      const rest = size - this.#skip[d];
      if (rest <= 0) continue;
      const gref = txReqGref(b, at);
      const sg = stg[d];
      if (sg >= 0) {
        f.push(st!.mem[sg]!, st!.off[sg] + txReqOffset(b, at) + this.#skip[d], rest, front, gref);
        continue;
      }
      const h = gnt.map(front, gref, true);
      if (h < 0) {
        this.#c[this.#cGrantErr]++;
        this.#c[this.#cDrop]++;
        return NETIF_RSP_ERROR;
      }
      pool.handle[this.#entry[d]] = h;
      f.push(gnt.mappedMem(h), gnt.mappedOff(h) + txReqOffset(b, at) + this.#skip[d], rest, front, gref);
      mapped = true;
    }
    const fl = pkt.flags;
    f.flags =
      (fl & NETTXF_csum_blank ? VALE_F_CSUM_BLANK : 0) | (fl & NETTXF_data_validated ? VALE_F_DATA_VALID : 0);
    if (pkt.gsoAt >= 0) {
      const g = pkt.gsoAt * TX_SLOT_BYTES;
      f.gsoType = extraGsoType(b, g);
      f.gsoSize = extraGsoSize(b, g);
    }
    this.#sink.forward(f);
    if (mapped) {
      this.#c[this.#cZcSent]++;
      this.#c[this.#cZcOk]++;
    }
    this.#c[this.#cPkts]++;
    this.#c[this.#cBytes] += total;
    return NETIF_RSP_OKAY;
  }

  /** Responses for every slot the packet consumed, in ring order: data `status`, extras NULL. */
  #answer(pkt: TxPacket, status: number): void {
    const b = this.#batch;
    const ring = this.#ring;
    const start = pkt.start;
    const end = start + pkt.consumed;
    const xEnd = start + 1 + pkt.nExtras;
    for (let s = start; s < end; s++) {
      const isExtra = s > start && s < xEnd;
      const at = ring.beginResponse();
      txRspWrite(
        ring.wmem,
        at,
        isExtra ? 0 : txReqId(b, s * TX_SLOT_BYTES),
        isExtra ? NETIF_RSP_NULL : status,
      );
      ring.endResponse();
    }
  }
}
