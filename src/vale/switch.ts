/**
 * VALE, the learning switch over netmap ports (netmap_vale.c's role). Ports attach and
 * detach at run time; a sender's txsync forwards its slots in batches of up to 1024:
 * destination by the learnt source MAC, flooding for broadcast, multicast and unknown
 * unicast (mSwitch's pluggable lookup may replace this), one copy into each destination's
 * RX ring. A full destination ring drops and counts; a sender never waits.
 *
 * Each port has its own memory region (netmap's default for VALE ports), so forwarding
 * always copies, once per destination. All syncs of one switch run in one thread for now
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
import { LearnTable, NO_PORT } from "./learn.js";

export const NM_BDG_MAXPORTS = 254;
/** Lookup result meaning "every port but the sender". */
export const NM_BDG_BROADCAST = NM_BDG_MAXPORTS;
/** Lookup result meaning "nowhere". */
export const NM_BDG_NOPORT = 255;
export const NM_BDG_BATCH_MAX = 1024;
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

  constructor(name: string) {
    this.name = name;
  }

  setLookup(fn: ValeLookup | null): void {
    this.#lookup = fn ?? learningLookup;
  }

  /** Attaches a port; returns its index, or -1 when the switch is full. */
  attach(p: ValeAttachment): number {
    const i = this.#ports.indexOf(null);
    if (i < 0) return -1;
    this.#ports[i] = p;
    this.#pack();
    return i;
  }

  detach(index: number): void {
    this.#ports[index] = null;
    this.table.forgetPort(index);
    this.#pack();
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
      if ((flags0 & NS_NO_LEARN) === 0) this.#learn(m, off + 6, src);
      sc[C_TX_PKTS]++;
      sc[C_TX_BYTES] += total;
      const dst = this.#lookup(m, off, len0, src, this);
      if (dst === NM_BDG_BROADCAST) {
        for (let j = 0; j < this.#nActive; j++) {
          const p = this.#active[j];
          if (p !== src && this.#deliver(p, region, nfrags, total)) touched[p] = 1;
        }
      } else if (
        dst !== src &&
        dst >= 0 &&
        dst < NM_BDG_MAXPORTS &&
        this.#deliver(dst, region, nfrags, total)
      )
        touched[dst] = 1;
      if (++done === NM_BDG_BATCH_MAX) {
        this.#kick();
        done = 0;
      }
    }
    this.#kick();
  }

  #learn(m: Mem, at: number, port: number): void {
    const dv = m.dv;
    const hi = dv.getUint16(at);
    // Group (multicast/broadcast) source addresses are never learnt.
    if ((hi & 0x0100) !== 0) return;
    this.table.learn(hi, dv.getUint32(at + 2), port);
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

/** The default lookup: a learnt unicast destination, else everyone. */
export function learningLookup(m: Mem, off: number, _len: number, _src: number, sw: ValeSwitch): number {
  const dv = m.dv;
  const hi = dv.getUint16(off);
  if ((hi & 0x0100) !== 0) return NM_BDG_BROADCAST;
  const p = sw.table.lookup(hi, dv.getUint32(off + 2));
  return p === NO_PORT ? NM_BDG_BROADCAST : p;
}

export function portCounters(): Counters<PortCounter> {
  return new Counters(PORT_COUNTERS);
}
