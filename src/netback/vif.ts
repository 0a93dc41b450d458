/**
 * A netback vif (Linux's vifD.N netdev and the vif-bridge script in one): the queues the
 * xenbus half attaches, each with its TX (tx.ts) and RX (rx.ts), and a port on a VALE
 * switch. Guest frames go out through the switch by reference (ValeFrags: header in
 * Domain-0 memory, payload in the guest's mapped pages); frames for the guest arrive
 * through `deliverFrags` and are grant-copied into its buffers, so guest to guest the
 * payload is copied once, from the sender's page into the receiver's. The RX queue is
 * chosen by a flow hash of the frame.
 *
 * The vif is a native netmap adapter too: opening it in netmap mode (`openNetmap`) takes
 * it off the switch's datapath, as netmap takes a NIC from the host stack: frames the guest
 * sends land in the port's RX ring of their queue, and frames the user puts in TX ring q
 * go to the guest on queue q.
 *
 * A protocol violation Linux calls fatal, in any queue, stops every queue of the vif and
 * calls that queue's VifFatal once with the reason; other vifs go on.
 */
import type { Counters } from "../base/counters.js";
import type { AdapterConfig, BufChangedChecks, NetmapAdapter } from "../netmap/adapter.js";
import { ringIrq } from "../netmap/irq.js";
import type { KRing } from "../netmap/kring.js";
import {
  NETMAP_BUF_RESERVED,
  NETMAP_MAX_FRAGS,
  NR_RX,
  NR_TX,
  NS_MOREFRAG,
  ringBytes,
  ringSlot,
  slotBufIdx,
  slotSetFlags,
  slotSetLen,
} from "../netmap/layout.js";
import { NetmapRegion } from "../netmap/mem.js";
import { NetmapPort } from "../netmap/port.js";
import { ValeFrags } from "../vale/frags.js";
import { SwitchSeat } from "../vale/seat.js";
import { type PortCounter, portCounters, type ValeAttachment, type ValeSwitch } from "../vale/switch.js";
import { type VifQueueCounter, vifQueueCounters } from "./counters.js";
import { type Rate, UNLIMITED } from "./credit.js";
import type { VifCtrl } from "./ctrl.js";
import { flowHash } from "./flow-hash.js";
import { McastList, mcastWanted } from "./mcast.js";
import { MAX_PENDING_REQS_DEFAULT } from "./pending.js";
import { NetbackRx, RX_BACKLOG_BYTES_DEFAULT } from "./rx.js";
import { rxScratch } from "./scratch.js";
import { NetbackTx, TX_BUDGET_DEFAULT, type TxSink } from "./tx.js";
import { FATAL_SKB_SLOTS_DEFAULT } from "./tx-parse.js";
import type { BackQueue, BackQueueRings, BackVif, BackVifInfo, VifFatal } from "./vif-api.js";
import type { VifDomain } from "./vif-domain.js";

export interface NetbackVifOptions {
  /** Bytes of frames queued per RX queue while the guest posts no buffers (default 256 KiB). */
  rxBacklogBytes?: number;
  /** TX slots a queue handles per turn before yielding (default 256). */
  txBudget?: number;
  /** Slots after the first from which a TX packet is fatal (Linux fatal_skb_slots, default 20). */
  fatalSlots?: number;
  /** Pending TX slots per queue (Linux MAX_PENDING_REQS, default 256). */
  pendingSlots?: number;
  /** Queues the netmap view offers (config); default 1 per attached queue, at least 1. */
  netmapSlots?: number;
}

interface Queue {
  readonly rings: BackQueueRings;
  readonly tx: NetbackTx;
  readonly rx: NetbackRx;
}

let nextRegionId = 1 << 20;
const CHECKS: BufChangedChecks = { tx: false, rx: false };

export class NetbackVif implements BackVif, ValeAttachment, NetmapAdapter {
  readonly name: string;
  readonly info: BackVifInfo;
  /** The switch port's counters (VALE's view). */
  readonly counters: Counters<PortCounter> = portCounters();
  readonly checksBufChanged = CHECKS;
  /** The switch's frames come whole: netback RX segments and checksums for a guest without the offloads. */
  readonly takesOffloads = true;
  readonly #dom: VifDomain;
  readonly #opts: Required<NetbackVifOptions>;
  readonly #queues: (Queue | null)[] = [];
  readonly #counters: Counters<VifQueueCounter>[] = [];
  /** The frontend's multicast list, one per vif (mcast.ts). */
  readonly #mcast = new McastList();
  /** request-multicast-control: RX multicast goes only to addresses in the list. */
  #mcastCtrl = false;
  /** The backend's `rate`, applied to each queue's TX (per queue, as Linux does). */
  #rate: Rate = UNLIMITED;
  /** Attached queue indices, packed, for RX selection. */
  #active: number[] = [];
  /** The connection's control ring state: hash steering picks the RX queue when set. */
  #ctrl: VifCtrl | null = null;
  readonly #seat = new SwitchSeat();
  #disabled = false;
  #closed = false;
  #region: NetmapRegion | null = null;
  #nm: { tx: readonly KRing[]; rx: readonly KRing[] } | null = null;
  readonly #nmFrags: ValeFrags;
  readonly #sinks: TxSink[] = [];
  /** Called when the netmap view's RX rings got frames (poll() waiters hang here). */
  onRx: (() => void) | null = null;

  constructor(dom: VifDomain, info: BackVifInfo, opts: NetbackVifOptions = {}) {
    this.#dom = dom;
    this.info = info;
    this.name = `vif${info.frontDomid}.${info.devid}`;
    this.#opts = {
      rxBacklogBytes: opts.rxBacklogBytes ?? RX_BACKLOG_BYTES_DEFAULT,
      txBudget: opts.txBudget ?? TX_BUDGET_DEFAULT,
      fatalSlots: opts.fatalSlots ?? FATAL_SKB_SLOTS_DEFAULT,
      pendingSlots: opts.pendingSlots ?? MAX_PENDING_REQS_DEFAULT,
      netmapSlots: opts.netmapSlots ?? 256,
    };
    this.#nmFrags = new ValeFrags(dom.memory.mem);
  }

  /** Whether a fatal error stopped the vif (until its queues are attached anew). */
  get disabled(): boolean {
    return this.#disabled;
  }

  /** Queues attached now. */
  get queues(): number {
    return this.#active.length;
  }

  /** Frames and bytes waiting in queue `q`'s RX backlog. */
  rxBacklog(q: number): { frames: number; bytes: number } {
    const qu = this.#queues[q];
    return qu ? { frames: qu.rx.backlogFrames, bytes: qu.rx.backlogBytes } : { frames: 0, bytes: 0 };
  }

  attachQueue(rings: BackQueueRings, fatal: VifFatal): BackQueue {
    const q = rings.queue;
    if (!Number.isInteger(q) || q < 0 || q > 255) throw new RangeError(`${this.name}: bad queue index ${q}`);
    if (this.#closed) throw new RangeError(`${this.name}: attachQueue after close`);
    this.#queues[q]?.tx.close();
    this.#queues[q]?.rx.close();
    const scratch = rxScratch(this.#dom);
    if (scratch === null)
      throw new RangeError(`${this.name}: Domain-0 has too little memory for netback's scratch`);
    if (this.#active.length === 0) {
      this.#disabled = false;
      // A new connection starts with an empty list (Linux frees it on disconnect).
      this.#mcast.clear();
      this.#ctrl = rings.ctrl ?? null;
      this.#mcastCtrl = rings.features.multicastControl === true;
    }
    while (this.#counters.length <= q) this.#counters.push(vifQueueCounters());
    const c = this.#counters[q];
    let said = false;
    const die = (reason: string): void => {
      if (said) return;
      said = true;
      this.#disable();
      fatal(reason);
    };
    const sink = this.#sinkFor(q);
    const o = this.#opts;
    const txOpts = {
      budget: o.txBudget,
      fatalSlots: o.fatalSlots,
      pendingSlots: o.pendingSlots,
      mcast: this.#mcast,
      staging: rings.ctrl?.staging(q) ?? null,
      rate: this.#rate,
    };
    const tx = new NetbackTx(this.#dom, rings.tx, rings.txPort, rings.frontDomid, sink, c, txOpts, die);
    const rx = new NetbackRx(
      this.#dom,
      rings.rx,
      rings.rxPort,
      rings.frontDomid,
      rings.features,
      c,
      scratch,
      {
        backlogBytes: this.#opts.rxBacklogBytes,
        staging: rings.ctrl?.staging(q) ?? null,
        hash: rings.ctrl?.hash ?? null,
      },
      die,
    );
    const qu: Queue = { rings, tx, rx };
    this.#queues[q] = qu;
    this.#repack();
    const ev = this.#dom.evtchn;
    const evc = this.#counters[q]!.f64;
    const evIn = this.#counters[q]!.slot("evt_received");
    if (rings.txPort === rings.rxPort)
      ev.on(rings.txPort, () => {
        evc[evIn]++;
        const t = tx.run();
        return rx.kick() || t;
      });
    else {
      ev.on(rings.txPort, () => {
        evc[evIn]++;
        return tx.run();
      });
      ev.on(rings.rxPort, () => {
        evc[evIn]++;
        return rx.kick();
      });
    }
    // Requests published before the channel was bound would otherwise wait for the next one.
    this.#dom.loop.defer(() => {
      if (this.#queues[q] === qu) {
        tx.run();
        rx.kick();
      }
    });
    return {
      close: () => {
        if (this.#queues[q] !== qu) return;
        ev.off(rings.txPort);
        if (rings.rxPort !== rings.txPort) ev.off(rings.rxPort);
        tx.close();
        rx.close();
        this.#queues[q] = null;
        this.#repack();
      },
    };
  }

  queueCounters(): readonly Counters<VifQueueCounter>[] {
    return this.#counters;
  }

  /** Takes the switch port (the hotplug step's `vale-ctl -a`); throws when the switch is full. */
  joinSwitch(sw: ValeSwitch): void {
    this.#seat.join(sw, this);
  }

  leaveSwitch(): void {
    this.#seat.leave();
  }

  close(): void {
    if (this.#closed) return;
    for (const qu of this.#queues) {
      if (qu === null) continue;
      this.#dom.evtchn.off(qu.rings.txPort);
      if (qu.rings.rxPort !== qu.rings.txPort) this.#dom.evtchn.off(qu.rings.rxPort);
      qu.tx.close();
      qu.rx.close();
    }
    this.#queues.length = 0;
    this.#repack();
    this.leaveSwitch();
    this.#closed = true;
  }

  // --- VALE port -------------------------------------------------------------------------

  /** The netmap view's memory (made on first use: a vif on a switch never needs one). */
  get region(): NetmapRegion {
    if (this.#region === null) {
      const nq = Math.max(1, this.#active.length);
      const slots = this.#opts.netmapSlots;
      this.#region = new NetmapRegion(nextRegionId++, {
        ifBytes: 1024,
        ringBytes: 2 * nq * ringBytes(slots),
        nBufs: NETMAP_BUF_RESERVED + 2 * nq * slots,
      });
    }
    return this.#region;
  }

  /** The vif takes frames by reference (deliverFrags), never through a ring. */
  rxKring(): KRing | null {
    return null;
  }

  setXdpHeadroom(headroom: number): void {
    for (const qu of this.#queues) qu?.rx.setXdpHeadroom(headroom);
  }

  /** The backend's `rate` key changed: every queue's TX gets it from its next packet. */
  setRate(rate: Rate): void {
    this.#rate = rate;
    for (const qu of this.#queues) qu?.tx.setRate(rate);
  }

  setMulticastControl(on: boolean): void {
    this.#mcastCtrl = on;
  }

  deliverFrags(f: ValeFrags): boolean {
    const act = this.#active;
    if (this.#disabled || act.length === 0 || this.#nm !== null) return false;
    if (this.#mcastCtrl && !mcastWanted(this.#mcast, f.mem[0].u8, f.off[0], f.len[0])) return false;
    let q = act.length === 1 ? act[0] : act[flowHash(f.mem[0].u8, f.off[0], f.len[0]) % act.length];
    const ctrl = this.#ctrl;
    if (ctrl?.hash.active) {
      // The frontend's steering (ctrl.ts): its mapping entries were checked below its queue count.
      const s = ctrl.hash.queueFor(f.mem[0].u8, f.off[0], f.len[0], act.length);
      if (s >= 0 && this.#queues[s]) q = s;
    }
    return this.#queues[q]?.rx.deliver(f) ?? false;
  }

  /**
   * A switch batch for this vif: with one queue and no steering or multicast filter the
   * whole batch goes to that queue's RX at once (one look at its ring); otherwise frame by
   * frame as `deliverFrags`.
   */
  deliverBatch(
    frames: readonly ValeFrags[],
    idx: Uint16Array,
    at: number,
    n: number,
    taken: Uint8Array,
  ): void {
    const act = this.#active;
    if (
      act.length === 1 &&
      !this.#disabled &&
      this.#nm === null &&
      !this.#mcastCtrl &&
      !this.#ctrl?.hash.active
    ) {
      const qu = this.#queues[act[0]];
      if (qu) {
        qu.rx.deliverBatch(frames, idx, at, n, taken);
        return;
      }
    }
    for (let k = 0; k < n; k++) taken[k] = this.deliverFrags(frames[idx[at + k]]) ? 1 : 0;
  }

  /** End of a switch batch: publish every queue's RX responses, notify as asked. */
  rxIrq(): void {
    // Indexed: the switch calls this per batch, and an array iterator per call is garbage.
    const act = this.#active;
    for (let i = 0; i < act.length; i++) this.#queues[act[i]]?.rx.flush();
  }

  // --- netmap adapter ----------------------------------------------------------------------

  /** Opens the vif in netmap mode: one TX and one RX ring per attached queue. */
  openNetmap(): NetmapPort {
    const region = this.region;
    const nq = Math.max(1, this.#active.length);
    const tx: number[] = [];
    const rx: number[] = [];
    for (let i = 0; i < nq; i++) {
      tx.push(region.allocRingWithBufs(this.#opts.netmapSlots, NR_TX, i, this.name));
      rx.push(region.allocRingWithBufs(this.#opts.netmapSlots, NR_RX, i, this.name));
    }
    return new NetmapPort(region, this, tx, rx, { ifName: this.name });
  }

  config(): AdapterConfig {
    const nq = Math.max(1, this.#active.length);
    const s = this.#opts.netmapSlots;
    return { txRings: nq, rxRings: nq, txSlots: s, rxSlots: s, rxBufMaxSize: this.region.bufSize };
  }

  register(on: boolean, krings: { tx: readonly KRing[]; rx: readonly KRing[] }): void {
    this.#nm = on ? krings : null;
  }

  /** Frames the netmap user sends go to the guest, on the queue of the ring's index. */
  txsync(k: KRing): void {
    const nm = this.#nm;
    const region = this.#region;
    if (nm === null || region === null) return;
    const q = this.#queues[nm.tx.indexOf(k)] ?? null;
    const f = this.#nmFrags;
    const m = region.mem;
    const n = k.numSlots;
    let i = k.hwcur;
    while (i !== k.rhead) {
      f.clear();
      let ok = true;
      for (;;) {
        const at = ringSlot(k.r, i);
        const buf = slotBufIdx(m, at);
        const lenFlags = m.u32[(at >>> 2) + 1];
        const len = lenFlags & 0xffff;
        if (!region.validBuf(buf) || len > region.bufSize) ok = false;
        else f.push(m, region.bufOff(buf), len);
        i = i + 1 === n ? 0 : i + 1;
        if ((lenFlags >>> 16) & NS_MOREFRAG && i !== k.rhead && f.n < NETMAP_MAX_FRAGS) continue;
        break;
      }
      if (ok && q !== null && !this.#disabled) {
        if (q.rx.deliver(f)) this.counters.add("txPackets");
      } else this.counters.add("txErrors");
    }
    k.hwcur = k.rhead;
    k.hwtail = k.rhead === 0 ? n - 1 : k.rhead - 1;
    q?.rx.flush();
  }

  rxsync(k: KRing): void {
    k.hwcur = k.rhead;
  }

  #sinkFor(q: number): TxSink {
    const have = this.#sinks[q];
    if (have !== undefined) return have;
    const sink: TxSink = {
      forwardBatch: (frames, n) => {
        const nm = this.#nm;
        const seat = this.#seat;
        if (nm !== null) for (let i = 0; i < n; i++) this.#toNetmap(nm.rx[q] ?? null, frames[i]);
        else if (seat.sw !== null) seat.sw.forwardBatch(seat.index, frames, n);
      },
      flush: () => {
        if (this.#nm === null) this.#seat.sw?.flush();
        else {
          const k = this.#nm.rx[q];
          if (k !== undefined && this.#region !== null) ringIrq(this.#region.mem, k.r);
          this.onRx?.();
        }
      },
    };
    this.#sinks[q] = sink;
    return sink;
  }

  /** A guest frame into a netmap RX ring (netmap mode): one copy, or a counted drop. */
  #toNetmap(k: KRing | null, f: ValeFrags): void {
    const region = this.#region;
    if (k === null || region === null) {
      this.counters.add("rxDrops");
      return;
    }
    const bufSize = region.bufSize;
    const n = k.numSlots;
    const need = Math.max(1, Math.ceil(f.total / bufSize));
    const free = (k.hwcur - k.hwtail - 1 + n) % n;
    if (need > NETMAP_MAX_FRAGS || free < need) {
      this.counters.add("rxDrops");
      return;
    }
    const m = region.mem;
    let t = k.hwtail;
    let from = 0;
    for (let s = 0; s < need; s++) {
      const at = ringSlot(k.r, t);
      const b = slotBufIdx(m, at);
      if (!region.validBuf(b)) {
        this.counters.add("rxDrops");
        return;
      }
      const len = Math.min(bufSize, f.total - from);
      f.copyOut(from, m, region.bufOff(b), len);
      from += len;
      slotSetLen(m, at, len);
      slotSetFlags(m, at, s + 1 < need ? NS_MOREFRAG : 0);
      t = t + 1 === n ? 0 : t + 1;
    }
    k.hwtail = t;
    this.counters.add("rxPackets");
    this.counters.add("rxBytes", f.total);
  }

  #disable(): void {
    this.#disabled = true;
    for (const qu of this.#queues) {
      if (qu === null) continue;
      qu.tx.close();
      qu.rx.close();
    }
  }

  #repack(): void {
    const act: number[] = [];
    this.#queues.forEach((qu, i) => {
      if (qu !== null) act.push(i);
    });
    this.#active = act;
  }
}
