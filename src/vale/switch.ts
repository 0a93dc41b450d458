/**
 * VALE, the learning switch over netmap ports (netmap_vale.c's role). Ports attach and
 * detach at run time; a sender's txsync forwards its slots in batches of up to 1024:
 * destination by the learnt source MAC, flooding for broadcast, multicast and unknown
 * unicast (mSwitch's pluggable lookup may replace this), one copy into each destination's
 * RX ring. A full destination ring drops and counts; a sender never waits.
 *
 * Each port has its own memory region (netmap's default for VALE ports), so forwarding
 * between ring ports copies, once per destination. A sender whose frame lives in memory
 * the switch does not own (a guest's mapped pages: netback) forwards it by reference as a
 * ValeFrags list (`forwardFrags`, netmap's NS_INDIRECT idea), and a destination that moves
 * data itself (`deliverFrags`: netback grant-copies into the receiver's pages) takes the
 * list as it is, so guest to guest the payload is copied once. All syncs of one switch run in one thread for now
 * (netmap serialises them with locks); see docs/netmap-threads.md for the plan to let
 * ports' owners live in other threads.
 */
import { Counters } from "../base/counters.js";
import type { KRing } from "../netmap/kring.js";
import {
  NETMAP_BUF_RESERVED,
  NETMAP_MAX_FRAGS,
  NS_MOREFRAG,
  NS_NO_LEARN,
  ringSlot,
  slotBufIdx,
  slotSetFlags,
  slotSetLen,
} from "../netmap/layout.js";
import type { NetmapRegion } from "../netmap/mem.js";
import { copyBytes } from "../wire/copy.js";
import type { Mem } from "../wire/mem.js";
import { NO_GRANT, ValeFrags } from "./frags.js";
import { LearnTable, NO_PORT } from "./learn.js";
import { needsSoftOffload, SoftOffload } from "./soft-offload.js";

export const NM_BDG_MAXPORTS = 254;
/** Lookup result meaning "every port but the sender". */
export const NM_BDG_BROADCAST = NM_BDG_MAXPORTS;
/** Lookup result meaning "nowhere". */
export const NM_BDG_NOPORT = 255;
export const NM_BDG_BATCH_MAX = 1024;
/** Most frames one `forwardBatch` call groups by destination (longer batches go in parts). */
export const VALE_FRAGS_BATCH = 64;
const ETH_HLEN = 14;

/**
 * A lookup function (mSwitch's idea): given the frame, where it goes — a port index,
 * NM_BDG_BROADCAST or NM_BDG_NOPORT. `src` is the sender's port index.
 */
export type ValeLookup = (m: Mem, off: number, len: number, src: number, sw: ValeSwitch) => number;

export const PORT_COUNTERS = ["txPackets", "txBytes", "rxPackets", "rxBytes", "rxDrops", "txErrors"] as const;
export type PortCounter = (typeof PORT_COUNTERS)[number];
const C_TX_PKTS = PORT_COUNTERS.indexOf("txPackets");
const C_TX_BYTES = PORT_COUNTERS.indexOf("txBytes");
const C_RX_PKTS = PORT_COUNTERS.indexOf("rxPackets");
const C_RX_BYTES = PORT_COUNTERS.indexOf("rxBytes");
const C_RX_DROPS = PORT_COUNTERS.indexOf("rxDrops");
const C_TX_ERRORS = PORT_COUNTERS.indexOf("txErrors");

/** What the switch needs of an attached port. */
export interface ValeAttachment {
  readonly name: string;
  /** The port's memory region: its rings and buffers. */
  readonly region: NetmapRegion;
  /**
   * The port's RX kring: forwarders fill [hwtail, hwcur - 1). Both are the kernel side's
   * private positions (never words read back from the shared ring), so deliveries stay
   * within slots the port's user has released.
   */
  rxKring(): KRing | null;
  readonly counters: Counters<PortCounter>;
  /** Frames arrived on the RX ring (netmap_rx_irq): wake whoever polls. */
  rxIrq(): void;
  /**
   * A port that moves frames itself takes them here by reference instead of through its RX
   * ring: it copies what it keeps before returning and never writes `f`. Returns whether
   * the frame was taken (delivered or queued); false is counted as the port's drop. Its
   * rxIrq follows once per batch, as for ring ports.
   */
  deliverFrags?(f: ValeFrags): boolean;
  /**
   * Whether the port takes frames with offload state as they are (a blank checksum, a GSO
   * superframe: see ValeFrags). Absent or false, the switch segments and checksums such
   * frames for it first (soft-offload.ts), as VALE does for a port without virtio-net headers.
   */
  readonly takesOffloads?: boolean;
  /**
   * Takes a batch of frames by reference, as `deliverFrags` takes one: frames
   * `frames[idx[at + k]]` for k in [0, n), in that order; sets `taken[k]` to 1 for each
   * frame delivered or queued, 0 for a drop. A port with `deliverFrags` may add this so a
   * batch costs it one look at its ring rather than one per frame.
   */
  deliverBatch?(
    frames: readonly ValeFrags[],
    idx: Uint16Array,
    at: number,
    n: number,
    taken: Uint8Array,
  ): void;
}

/**
 * Sees every frame the switch forwards, once, as it enters from port `src`, with where the
 * lookup sends it (`dst`: a port index, NM_BDG_BROADCAST or NM_BDG_NOPORT), so a tap on one
 * port also sees what is delivered to it (the capture of a bridge: capture.ts; of a port:
 * port-capture.ts). `f` is valid only during the call: the tap copies what it keeps, never
 * writes it, and never blocks. With no tap set the switch pays one null check a frame.
 */
export interface ValeTap {
  frame(src: number, f: ValeFrags, dst: number): void;
  /** Port `index` was attached or detached: whatever the tap keeps about it is stale. */
  portChanged(index: number): void;
}

export class ValeSwitch {
  readonly name: string;
  readonly table = new LearnTable();
  readonly #ports: (ValeAttachment | null)[] = new Array(NM_BDG_MAXPORTS).fill(null);
  #lookup: ValeLookup = learningLookup;
  readonly #touched = new Uint8Array(NM_BDG_MAXPORTS);
  /** Attached port indices, packed, so a flood visits only real ports. */
  readonly #active = new Int32Array(NM_BDG_MAXPORTS);
  #nActive = 0;
  /** The packet being forwarded: its slots' buffers and lengths, read once and checked. */
  readonly #fragBuf = new Uint32Array(NETMAP_MAX_FRAGS);
  readonly #fragLen = new Uint16Array(NETMAP_MAX_FRAGS);
  /** A ring port's packet as fragments, for destinations that take them by reference. */
  #portFrags: ValeFrags | null = null;
  /** Frames forwarded by reference since the last kick. */
  #pendingKick = 0;
  /** forwardBatch: per destination port, its frames' indices. */
  readonly #bIdx = new Uint16Array(NM_BDG_MAXPORTS * VALE_FRAGS_BATCH);
  readonly #bCount = new Uint16Array(NM_BDG_MAXPORTS);
  /** Destination ports of the batch, in the order first seen. */
  readonly #bPorts = new Int32Array(NM_BDG_MAXPORTS);
  /** The learning lookup of the batch being forwarded (reset per batch). */
  readonly #run = new RunLookup();
  readonly #bTaken = new Uint8Array(VALE_FRAGS_BATCH);
  /** Destinations that take the batch frame by frame, and how far each has got. */
  readonly #bSlow = new Int32Array(NM_BDG_MAXPORTS);
  readonly #bCursor = new Uint16Array(NM_BDG_MAXPORTS);
  #tap: ValeTap | null = null;
  /** Every tap added; `#tap` is the one, or a fan-out over them. */
  #taps: readonly ValeTap[] = [];
  /** Segmenting and checksumming for ports without offloads, and its counters. */
  readonly softOffload: SoftOffload;
  /** Frames forwarded by reference (a double: never wraps), naming a frame to softOffload. */
  #frameNo = 0;

  /** `o.offloadCounters`: shared memory for softOffload's counters (OFFLOAD_COUNTERS_BYTES). */
  constructor(name: string, o: { offloadCounters?: SharedArrayBuffer } = {}) {
    this.name = name;
    this.softOffload = new SoftOffload(o.offloadCounters);
  }

  setLookup(fn: ValeLookup | null): void {
    this.#lookup = fn ?? learningLookup;
  }

  /** Sets (or, with null, removes) the tap that sees every forwarded frame, replacing all. */
  setTap(tap: ValeTap | null): void {
    this.#taps = tap === null ? [] : [tap];
    this.#tap = tap;
  }

  /** Adds a tap beside those set; several share one fan-out, so the datapath's check stays one. */
  addTap(tap: ValeTap): void {
    if (!this.#taps.includes(tap)) this.#taps = [...this.#taps, tap];
    this.#installTaps();
  }

  /** Removes one tap; with none left the switch is back to its null check. */
  removeTap(tap: ValeTap): void {
    this.#taps = this.#taps.filter((t) => t !== tap);
    this.#installTaps();
  }

  #installTaps(): void {
    const taps = this.#taps;
    if (taps.length <= 1) {
      this.#tap = taps[0] ?? null;
      return;
    }
    this.#tap = {
      frame: (src, f, dst) => {
        for (let i = 0; i < taps.length; i++) taps[i]!.frame(src, f, dst);
      },
      portChanged: (index) => {
        for (const t of taps) t.portChanged(index);
      },
    };
  }

  get tap(): ValeTap | null {
    return this.#tap;
  }

  /** The name of the port at `index`, or undefined when none is attached there. */
  portName(index: number): string | undefined {
    return this.#ports[index]?.name;
  }

  /** Attaches a port; returns its index, or -1 when the switch is full. */
  attach(p: ValeAttachment): number {
    const i = this.#ports.indexOf(null);
    if (i < 0) return -1;
    this.#ports[i] = p;
    this.#pack();
    this.#tap?.portChanged(i);
    return i;
  }

  detach(index: number): void {
    this.#ports[index] = null;
    this.table.forgetPort(index);
    this.#pack();
    this.#tap?.portChanged(index);
  }

  #pack(): void {
    this.#nActive = 0;
    this.#ports.forEach((p, i) => {
      if (p !== null) this.#active[this.#nActive++] = i;
    });
  }

  portIndex(name: string): number {
    return this.#ports.findIndex((p) => p !== null && p.name === name);
  }

  /** Attached ports, by index. */
  ports(): { index: number; name: string }[] {
    const out: { index: number; name: string }[] = [];
    this.#ports.forEach((p, index) => {
      if (p !== null) out.push({ index, name: p.name });
    });
    return out;
  }

  /**
   * Forwards the slots [from, to) of kring `k` (in `srcRegion`, by default the port's) of
   * port `src`, kicking receivers at least
   * every NM_BDG_BATCH_MAX packets. A packet is one slot, or a chain of slots marked
   * NS_MOREFRAG (at most NETMAP_MAX_FRAGS); the destination comes from its first slot,
   * which must hold the Ethernet header. Broken packets (a bad buffer or length, a chain
   * cut off by `to` or too long) are counted as errors and dropped whole. `from` and `to`
   * must be the kring's own (private, checked) positions, never words read from the ring.
   */
  forward(src: number, k: KRing, from: number, to: number, srcRegion?: NetmapRegion): void {
    const sp = this.#ports[src];
    const n = k.numSlots;
    // Callers pass a kring's own positions; anything else is a bug, never looped on.
    if (sp === null || from >= n || to >= n) return;
    // A bwrap sends from its device's region (its own may be none while unbound).
    const region = srcRegion ?? sp.region;
    const m = region.mem;
    const u32 = m.u32;
    const bufSize = region.bufSize;
    const nBufs = region.nBufs;
    const bufs = this.#fragBuf;
    const lens = this.#fragLen;
    const sc = sp.counters.f64;
    const touched = this.#touched;
    const learning = this.#lookup === learningLookup;
    const run = this.#run;
    const table = this.table;
    const dv = m.dv;
    run.reset();
    let done = 0;
    for (let i = from; i !== to; ) {
      // The sender's thread may rewrite its slots at any moment: each slot's two words are
      // read once into the packet's columns, and only those checked copies are used.
      let nfrags = 0;
      let total = 0;
      let ok = true;
      let flags0 = 0;
      for (;;) {
        const w = ringSlot(k.r, i) >>> 2;
        const buf = u32[w];
        const lenFlags = u32[w + 1]; // len | flags << 16 on a little-endian host
        const len = lenFlags & 0xffff;
        const flags = lenFlags >>> 16;
        if (len > bufSize || buf < NETMAP_BUF_RESERVED || buf >= nBufs) ok = false;
        if (nfrags === 0) flags0 = flags;
        bufs[nfrags] = buf;
        lens[nfrags] = len;
        total += len;
        nfrags++;
        i = i + 1 === n ? 0 : i + 1;
        if ((flags & NS_MOREFRAG) === 0) break;
        if (i === to || nfrags === NETMAP_MAX_FRAGS) {
          ok = false;
          break;
        }
      }
      const len0 = lens[0];
      if (!ok || len0 < ETH_HLEN) {
        sc[C_TX_ERRORS]++;
        continue;
      }
      const off = region.bufOff(bufs[0]);
      let dst: number;
      if (learning) dst = run.dst(table, dv, off, src, (flags0 & NS_NO_LEARN) !== 0);
      else {
        if ((flags0 & NS_NO_LEARN) === 0) this.#learn(m, off + 6, src);
        dst = this.#lookup(m, off, len0, src, this);
      }
      sc[C_TX_PKTS]++;
      sc[C_TX_BYTES] += total;
      let asFrags: ValeFrags | null = null;
      const tap = this.#tap;
      if (tap !== null) tap.frame(src, (asFrags = this.#slotsAsFrags(region, nfrags)), dst);
      if (dst === NM_BDG_BROADCAST) {
        for (let j = 0; j < this.#nActive; j++) {
          const p = this.#active[j];
          if (p === src) continue;
          if (this.#ports[p]?.deliverFrags !== undefined) {
            asFrags ??= this.#slotsAsFrags(region, nfrags);
            if (this.#deliverByRef(p, asFrags)) touched[p] = 1;
          } else if (this.#deliver(p, region, nfrags, total)) touched[p] = 1;
        }
      } else if (dst !== src && dst >= 0 && dst < NM_BDG_MAXPORTS) {
        if (this.#ports[dst]?.deliverFrags !== undefined) {
          if (this.#deliverByRef(dst, asFrags ?? this.#slotsAsFrags(region, nfrags))) touched[dst] = 1;
        } else if (this.#deliver(dst, region, nfrags, total)) touched[dst] = 1;
      }
      if (++done === NM_BDG_BATCH_MAX) {
        this.#kick();
        done = 0;
      }
    }
    this.#kick();
  }

  /**
   * Forwards one frame given by reference (see ValeFrags) from port `src`: learning,
   * lookup, flooding and counters as `forward`; a destination with `deliverFrags` takes the
   * fragments as they are, a ring port gets one copy into its RX ring. The frame's memory
   * need stay valid only until this returns. Receivers are kicked every NM_BDG_BATCH_MAX
   * frames; the sender calls `flush` after its batch for the rest.
   */
  forwardFrags(src: number, f: ValeFrags): void {
    const sp = src >= 0 && src < NM_BDG_MAXPORTS ? this.#ports[src] : null;
    if (sp === null) return;
    const sc = sp.counters.f64;
    const total = checkedTotal(f);
    if (total < 0) {
      sc[C_TX_ERRORS]++;
      return;
    }
    const m = f.mem[0];
    const off = f.off[0];
    this.#frameNo++;
    this.#learn(m, off + 6, src);
    sc[C_TX_PKTS]++;
    sc[C_TX_BYTES] += total;
    const touched = this.#touched;
    const dst = this.#lookup(m, off, f.len[0], src, this);
    const tap = this.#tap;
    if (tap !== null) tap.frame(src, f, dst);
    if (dst === NM_BDG_BROADCAST) {
      for (let j = 0; j < this.#nActive; j++) {
        const p = this.#active[j];
        if (p !== src && this.#deliverTo(p, f, this.#frameNo)) touched[p] = 1;
      }
    } else if (dst !== src && dst >= 0 && dst < NM_BDG_MAXPORTS && this.#deliverTo(dst, f, this.#frameNo))
      touched[dst] = 1;
    if (++this.#pendingKick === NM_BDG_BATCH_MAX) this.flush();
  }

  /**
   * Forwards frames `frames[0..n)` given by reference from port `src`, as `forwardFrags`
   * each (checks, learning, lookup, taps, counters), in netmap's nm_bdg_preflush shape:
   * destinations are looked up for the whole batch first, then each destination takes its
   * frames in one call (`deliverBatch`) where it can. A destination receives frames in the
   * order they were sent. The sender calls `flush` after its batch.
   */
  forwardBatch(src: number, frames: readonly ValeFrags[], n: number): void {
    for (let from = 0; from < n; from += VALE_FRAGS_BATCH)
      this.#forwardPart(src, frames, from, Math.min(n, from + VALE_FRAGS_BATCH));
  }

  #forwardPart(src: number, frames: readonly ValeFrags[], from: number, to: number): void {
    const sp = src >= 0 && src < NM_BDG_MAXPORTS ? this.#ports[src] : null;
    if (sp === null) return;
    const sc = sp.counters.f64;
    const idx = this.#bIdx;
    const count = this.#bCount;
    const bPorts = this.#bPorts;
    const tap = this.#tap;
    // Frame i of the part is frame number firstNo + i - from (soft offload knows a frame it
    // already segmented by it, whichever destination asks again).
    const firstNo = this.#frameNo + 1;
    this.#frameNo += to - from;
    let nPorts = 0;
    let txPkts = 0;
    let txBytes = 0;
    const learning = this.#lookup === learningLookup;
    const run = this.#run;
    run.reset();
    // The per-port lists outlive the call: a throw below (a bug in a tap or a port) must not
    // leave a count behind, or later batches would write past that port's list into its
    // neighbours'.
    try {
      for (let i = from; i < to; i++) {
        const f = frames[i];
        const total = checkedTotal(f);
        if (total < 0) {
          sc[C_TX_ERRORS]++;
          continue;
        }
        const m = f.mem[0];
        const off = f.off[0];
        txPkts++;
        txBytes += total;
        let dst: number;
        // checkedTotal: the first fragment holds the Ethernet header.
        if (learning) dst = run.dst(this.table, m.dv, off, src, false);
        else {
          this.#learn(m, off + 6, src);
          dst = this.#lookup(m, off, f.len[0], src, this);
        }
        if (tap !== null) tap.frame(src, f, dst);
        if (dst === NM_BDG_BROADCAST) {
          for (let j = 0; j < this.#nActive; j++) {
            const p = this.#active[j];
            if (p === src) continue;
            if (count[p] === 0) bPorts[nPorts++] = p;
            idx[p * VALE_FRAGS_BATCH + count[p]++] = i;
          }
        } else if (dst !== src && dst >= 0 && dst < NM_BDG_MAXPORTS) {
          if (count[dst] === 0) bPorts[nPorts++] = dst;
          idx[dst * VALE_FRAGS_BATCH + count[dst]++] = i;
        }
      }
      sc[C_TX_PKTS] += txPkts;
      sc[C_TX_BYTES] += txBytes;
      const touched = this.#touched;
      const taken = this.#bTaken;
      const slow = this.#bSlow;
      const cursor = this.#bCursor;
      let nSlow = 0;
      for (let j = 0; j < nPorts; j++) {
        const p = bPorts[j];
        const n = count[p];
        count[p] = 0;
        const dp = this.#ports[p];
        if (dp === null) continue;
        const at = p * VALE_FRAGS_BATCH;
        if (dp.deliverBatch === undefined || dp.takesOffloads !== true) {
          // Frame by frame below, all such ports together; count[p] stays its list's length.
          count[p] = n;
          cursor[p] = 0;
          slow[nSlow++] = p;
          continue;
        }
        dp.deliverBatch(frames, idx, at, n, taken);
        const dc = dp.counters.f64;
        let pkts = 0;
        let bytes = 0;
        for (let k = 0; k < n; k++) {
          if (taken[k] === 1) {
            pkts++;
            bytes += frames[idx[at + k]].total;
          }
        }
        dc[C_RX_PKTS] += pkts;
        dc[C_RX_BYTES] += bytes;
        dc[C_RX_DROPS] += n - pkts;
        if (pkts > 0) touched[p] = 1;
      }
      // Ports that take frames one at a time get them frame-major (each still in order), so a
      // frame flooded to several ports without offloads is segmented once, not once per port.
      if (nSlow > 0) {
        for (let i = from; i < to; i++) {
          for (let s = 0; s < nSlow; s++) {
            const p = slow[s];
            const c = cursor[p];
            if (c === count[p] || idx[p * VALE_FRAGS_BATCH + c] !== i) continue;
            cursor[p] = c + 1;
            if (this.#deliverTo(p, frames[i], firstNo + i - from)) touched[p] = 1;
          }
        }
      }
    } finally {
      for (let j = 0; j < nPorts; j++) count[bPorts[j]] = 0;
    }
    this.#pendingKick += to - from;
    if (this.#pendingKick >= NM_BDG_BATCH_MAX) this.flush();
  }

  /** Wakes the receivers of frames forwarded by reference since the last flush. */
  flush(): void {
    this.#pendingKick = 0;
    this.#kick();
  }

  /** The packet in the columns as fragments of the sender's region (no grant behind them). */
  #slotsAsFrags(sr: NetmapRegion, nfrags: number): ValeFrags {
    const f = (this.#portFrags ??= new ValeFrags(sr.mem));
    f.clear();
    for (let i = 0; i < nfrags; i++)
      f.push(sr.mem, sr.bufOff(this.#fragBuf[i]), this.#fragLen[i], NO_GRANT, 0);
    return f;
  }

  // --- ports without offloads (soft-offload.ts) ---------------------------------------------
  /**
   * Delivers `f` to port `p`; when `f` carries offload state the port does not take, its
   * segments (or the frame with its checksum filled) instead, or a counted drop.
   */
  #deliverTo(p: number, f: ValeFrags, frameNo: number): boolean {
    if (!needsSoftOffload(f)) return this.#deliverByRef(p, f);
    const dp = this.#ports[p];
    if (dp === null) return false;
    if (dp.takesOffloads === true) return this.#deliverByRef(p, f);
    const so = this.softOffload;
    const n = so.prepare(f, frameNo);
    if (n === 0) {
      dp.counters.f64[C_RX_DROPS]++;
      return false;
    }
    let any = false;
    for (let i = 0; i < n; i++) if (this.#deliverByRef(p, so.segment(i))) any = true;
    return any;
  }
  // ------------------------------------------------------------------------------------------

  /** Delivers `f` to port `p`: by reference when it takes fragments, else one ring copy. */
  #deliverByRef(p: number, f: ValeFrags): boolean {
    const dp = this.#ports[p];
    if (dp === null) return false;
    const dc = dp.counters.f64;
    if (dp.deliverFrags !== undefined) {
      if (!dp.deliverFrags(f)) {
        dc[C_RX_DROPS]++;
        return false;
      }
      dc[C_RX_PKTS]++;
      dc[C_RX_BYTES] += f.total;
      return true;
    }
    const k = dp.rxKring();
    if (k === null) {
      dc[C_RX_DROPS]++;
      return false;
    }
    const dr = dp.region;
    const bufSize = dr.bufSize;
    const n = k.numSlots;
    const free = (k.hwcur - k.hwtail - 1 + n) % n;
    const need = f.total === 0 ? 1 : Math.ceil(f.total / bufSize);
    if (need > NETMAP_MAX_FRAGS || free < need) {
      dc[C_RX_DROPS]++;
      return false;
    }
    const dm = dr.mem;
    const fragBits = (need & 0xff) << 8;
    let t = k.hwtail;
    let from = 0;
    for (let s = 0; s < need; s++) {
      const ds = ringSlot(k.r, t);
      const db = slotBufIdx(dm, ds);
      if (!dr.validBuf(db)) {
        dc[C_RX_DROPS]++;
        return false;
      }
      const len = Math.min(bufSize, f.total - from);
      f.copyOut(from, dm, dr.bufOff(db), len);
      from += len;
      slotSetLen(dm, ds, len);
      slotSetFlags(dm, ds, fragBits | (s + 1 < need ? NS_MOREFRAG : 0));
      t = t + 1 === n ? 0 : t + 1;
    }
    k.hwtail = t;
    dc[C_RX_PKTS]++;
    dc[C_RX_BYTES] += f.total;
    return true;
  }

  #learn(m: Mem, at: number, port: number): void {
    const dv = m.dv;
    learnMac(this.table, dv.getUint16(at), dv.getUint32(at + 2), port);
  }

  /**
   * Copies the packet in the columns (`nfrags` checked buffers and lengths from region
   * `sr`) into port `p`'s RX ring: all of it, or nothing and a counted drop. Every delivered
   * slot carries the fragment count in its high flag byte (NS_RFRAGS) and all but the last
   * NS_MOREFRAG, as VALE delivers.
   */
  #deliver(p: number, sr: NetmapRegion, nfrags: number, total: number): boolean {
    const dp = this.#ports[p];
    if (dp === null) return false;
    const k = dp.rxKring();
    const dc = dp.counters.f64;
    if (k === null) {
      dc[C_RX_DROPS]++;
      return false;
    }
    const dr = dp.region;
    const n = k.numSlots;
    const free = (k.hwcur - k.hwtail - 1 + n) % n;
    // Lengths were checked against the sender's buffer size, so they fit a destination
    // buffer at least as big.
    if (free < nfrags || sr.bufSize > dr.bufSize) {
      dc[C_RX_DROPS]++;
      return false;
    }
    const sm = sr.mem;
    const dm = dr.mem;
    const bufs = this.#fragBuf;
    const lens = this.#fragLen;
    const fragBits = (nfrags & 0xff) << 8;
    // hwtail moves only once the whole packet is in: a destination slot whose buffer the
    // user broke (the slot stays the user's to fix) drops the packet, nothing published.
    let t = k.hwtail;
    for (let f = 0; f < nfrags; f++) {
      const len = lens[f];
      const ds = ringSlot(k.r, t);
      const db = slotBufIdx(dm, ds);
      if (!dr.validBuf(db)) {
        dc[C_RX_DROPS]++;
        return false;
      }
      copyBytes(dm, dr.bufOff(db), sm, sr.bufOff(bufs[f]), len);
      slotSetLen(dm, ds, len);
      slotSetFlags(dm, ds, fragBits | (f + 1 < nfrags ? NS_MOREFRAG : 0));
      t = t + 1 === n ? 0 : t + 1;
    }
    k.hwtail = t;
    dc[C_RX_PKTS]++;
    dc[C_RX_BYTES] += total;
    return true;
  }

  #kick(): void {
    const t = this.#touched;
    for (let j = 0; j < this.#nActive; j++) {
      const p = this.#active[j];
      if (t[p] === 0) continue;
      t[p] = 0;
      this.#ports[p]?.rxIrq();
    }
  }
}

/**
 * A frame by reference checked as the switch forwards it: fragments within their memory,
 * a first fragment holding the Ethernet header, the total its lengths add up to. Returns
 * the total, or -1.
 */
function checkedTotal(f: ValeFrags): number {
  const n = f.n;
  if (n === 1) {
    // A small frame is all in its sender's first fragment.
    const len = f.len[0];
    const off = f.off[0];
    return len >= ETH_HLEN && off >= 0 && off + len <= f.mem[0].byteLength && len === f.total ? len : -1;
  }
  if (n < 1 || n > NETMAP_MAX_FRAGS || f.len[0] < ETH_HLEN) return -1;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const len = f.len[i];
    const off = f.off[i];
    if (len < 0 || off < 0 || off + len > f.mem[i].byteLength) return -1;
    total += len;
  }
  return total === f.total ? total : -1;
}

/** The default lookup: a learnt unicast destination, else everyone. */
export function learningLookup(m: Mem, off: number, _len: number, _src: number, sw: ValeSwitch): number {
  const dv = m.dv;
  return lookupMac(sw.table, dv.getUint16(off), dv.getUint32(off + 2));
}

/**
 * The learning lookup over a batch from one port, once per run of frames with one MAC pair:
 * a frame with the MACs and source port of the learning frame before it goes where that one
 * went, as long as the table has not changed since (learning its source again would rewrite
 * the same bucket with the same port; VALE's batch looks destinations up the same way). The
 * table's change count catches a learn in between, such as a port's rxIrq forwarding from
 * another port in the middle of the batch. Only a frame that learns starts a run: an
 * NS_NO_LEARN frame leaves the table as it found it.
 */
class RunLookup {
  #dHi = -1;
  #dLo = 0;
  #sHi = -1;
  #sLo = 0;
  #src = -1;
  #changes = -1;
  #to = NM_BDG_NOPORT;

  reset(): void {
    this.#src = -1;
  }

  /** Where the frame whose Ethernet header is at `off` goes, learning its source on `src` unless `noLearn`. */
  dst(table: LearnTable, dv: DataView, off: number, src: number, noLearn: boolean): number {
    const dHi = dv.getUint16(off);
    const dLo = dv.getUint32(off + 2);
    const sHi = dv.getUint16(off + 6);
    const sLo = dv.getUint32(off + 8);
    if (
      src === this.#src &&
      table.changes === this.#changes &&
      dHi === this.#dHi &&
      dLo === this.#dLo &&
      sHi === this.#sHi &&
      sLo === this.#sLo
    )
      return this.#to;
    if (noLearn) return lookupMac(table, dHi, dLo);
    learnMac(table, sHi, sLo, src);
    const to = lookupMac(table, dHi, dLo);
    this.#dHi = dHi;
    this.#dLo = dLo;
    this.#sHi = sHi;
    this.#sLo = sLo;
    this.#src = src;
    this.#changes = table.changes;
    this.#to = to;
    return to;
  }
}

/** Learns source MAC `hi16`:`lo32` on `port`; group (multicast/broadcast) sources never. */
function learnMac(table: LearnTable, hi16: number, lo32: number, port: number): void {
  if ((hi16 & 0x0100) === 0) table.learn(hi16, lo32, port);
}

/** learningLookup for a destination MAC given as its two halves. */
function lookupMac(table: LearnTable, hi16: number, lo32: number): number {
  if ((hi16 & 0x0100) !== 0) return NM_BDG_BROADCAST;
  const p = table.lookup(hi16, lo32);
  return p === NO_PORT ? NM_BDG_BROADCAST : p;
}

export function portCounters(): Counters<PortCounter> {
  return new Counters(PORT_COUNTERS);
}
