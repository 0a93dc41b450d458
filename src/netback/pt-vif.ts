/**
 * Domain-0's half of a netmap passthrough vif (pvnet's, after netmap's ptnet and ClickOS):
 * a VALE port whose netmap memory is the guest's own granted pages (pt-layout.ts). The guest
 * writes frames straight into the port's TX buffers and reads them from its RX buffers;
 * Domain-0 runs the port's syncs: its TX sync forwards through the switch with VALE's one
 * copy (from this port's buffer into the receiver's), and receivers' frames land in this
 * port's RX ring by that same copy. The netif handshake, counters and teardown are a vif's
 * (xenbus.ts); the netif rings it negotiates stay idle, their channel carries the kicks.
 *
 * Hostile-guest rules: every word the guest may write (head, cur, slots, status block) is
 * read once and checked before use, by KRing's prologues (head/cur against Domain-0's
 * private positions) and VALE's forward (each slot's buffer index and length against this
 * region's bounds, per packet). Domain-0 never reads an offset or a count from guest memory:
 * the layout is computed from the slot count alone. A bad slot is dropped and counted
 * (netmap's rule); a bad head or cur disables the vif with the reason logged. Loops are
 * bounded by the ring size and a pass budget.
 */
import type { Counters } from "../base/counters.js";
import { RateLog } from "../base/ratelog.js";
import { PAGE_SIZE } from "../hv/memory.js";
import { KRing } from "../netmap/kring.js";
import { NetmapRegion } from "../netmap/mem.js";
import {
  CSB_GUEST_NEED_KICK,
  CSB_HOST_NEED_KICK,
  memRange,
  PT_CSB_RX,
  PT_CSB_TX,
  PT_DIR_MAX,
  ptDirPages,
  ptLayout,
} from "../netmap/pt-layout.js";
import { SwitchSeat } from "../vale/seat.js";
import { type PortCounter, portCounters, type ValeAttachment, type ValeSwitch } from "../vale/switch.js";
import { type VifQueueCounter, vifQueueCounters } from "./counters.js";
import type { PtKeys } from "./pt-keys.js";
import type { BackQueue, BackQueueRings, BackVif, BackVifInfo, VifFatal } from "./vif-api.js";
import type { VifDomain } from "./vif-domain.js";

/** Sync passes one event runs before yielding to the loop (each forwards up to a ring). */
const PASS_BUDGET = 8;
/** The RX ring is synced (released slots taken back) when fewer than this many are free. */
const RX_LOW_WATER = 64;

/**
 * Passthrough services forwarding now in this thread, and the receivers whose kick waits for
 * the outermost one to finish (#held; a vif kicked at once meanwhile, its ring filling, and
 * held again may be listed twice: its flush sends once). VALE kicks receivers every
 * NM_BDG_BATCH_MAX frames and at the end of a forward; a receiver that drains faster than
 * Domain-0 forwards sleeps between the two and is woken twice per batch. Held to the end
 * of the batch (or until a quarter of its ring is left), it is woken once.
 */
let forwarding = 0;
/** Never shrunk, so holding a kick allocates nothing once the list has grown to its need. */
const heldKicks: (PtBackVif | null)[] = [];
let nHeld = 0;

/** VALE's forward of a passthrough TX batch, with receivers' kicks held to its end. */
function forwardHolding(
  sw: ValeSwitch,
  port: number,
  k: KRing,
  from: number,
  to: number,
  region: NetmapRegion,
): void {
  forwarding++;
  try {
    sw.forward(port, k, from, to, region);
  } finally {
    forwarding--;
  }
  if (forwarding !== 0) return;
  for (let i = 0; i < nHeld; i++) {
    heldKicks[i]!.flushHeldKick();
    heldKicks[i] = null; // a closed vif is not kept alive by the list
  }
  nHeld = 0;
}

/** A region for a port with nothing connected: never read (its krings are null). */
let idleRegion: NetmapRegion | null = null;
let nextRegionId = 3 << 20;

interface Conn {
  readonly region: NetmapRegion;
  readonly csb: Int32Array;
  readonly tx: KRing;
  readonly rx: KRing;
  readonly handles: number[];
  readonly txPort: number;
  readonly rxPort: number;
  readonly fatal: VifFatal;
}

export class PtBackVif implements BackVif, ValeAttachment {
  readonly name: string;
  readonly info: BackVifInfo;
  readonly passthrough = true;
  readonly counters: Counters<PortCounter> = portCounters();
  readonly #dom: VifDomain;
  readonly #q: Counters<VifQueueCounter> = vifQueueCounters();
  readonly #log: RateLog;
  readonly #seat = new SwitchSeat();
  #conn: Conn | null = null;
  #disabled = false;
  #closed = false;
  #deferred = false;
  /** A kick to this guest's RX waits for the end of another vif's batch (heldKicks). */
  #held = false;
  /** The reason the vif was disabled, until the next connection. */
  error: string | undefined;
  readonly #serviceFn = (): boolean => {
    this.#q.f64[this.#evtSlot]++;
    return this.#service();
  };
  readonly #evtSlot = this.#q.slot("evt_received");
  readonly #deferFn = (): void => {
    this.#deferred = false;
    this.#service();
  };

  constructor(dom: VifDomain, info: BackVifInfo, opts: { log?: (line: string) => void } = {}) {
    this.#dom = dom;
    this.info = info;
    this.name = `vif${info.frontDomid}.${info.devid}`;
    this.#log = new RateLog(opts.log === undefined ? {} : { sink: opts.log });
  }

  get region(): NetmapRegion {
    return this.#conn?.region ?? (idleRegion ??= new NetmapRegion(0, { ifBytes: 0, ringBytes: 0, nBufs: 3 }));
  }

  get disabled(): boolean {
    return this.#disabled;
  }

  get connected(): boolean {
    return this.#conn !== null;
  }

  /** The switch port's counters seen as a vif's: tx_* went to the guest, rx_* came from it. */
  queueCounters(): readonly Counters<VifQueueCounter>[] {
    const p = this.counters;
    const q = this.#q;
    const f = q.f64;
    f[q.slot("tx_packets")] = p.get("rxPackets");
    f[q.slot("tx_bytes")] = p.get("rxBytes");
    f[q.slot("tx_dropped")] = p.get("rxDrops");
    f[q.slot("rx_packets")] = p.get("txPackets");
    f[q.slot("rx_bytes")] = p.get("txBytes");
    f[q.slot("rx_dropped")] = p.get("txErrors");
    return [q];
  }

  joinSwitch(sw: ValeSwitch): void {
    this.#seat.join(sw, this);
  }

  leaveSwitch(): void {
    this.#seat.leave();
  }

  /**
   * Maps the guest's area (its page directory, then every page it names, each counted
   * against the guest's mapping bound) and starts serving it. Throws, with everything
   * mapped here unmapped again, when the keys are missing, a grant fails, or the pages are
   * not one contiguous run of the guest's memory (pvnet cannot remap pages into one range
   * as Xen maps them into contiguous virtual memory).
   */
  attachQueue(rings: BackQueueRings, fatal: VifFatal): BackQueue {
    if (this.#closed) throw new RangeError(`${this.name}: attachQueue after close`);
    if (rings.queue !== 0) throw new RangeError(`${this.name}: a passthrough vif has one queue`);
    const keys = rings.passthrough;
    if (keys === undefined) throw new RangeError(`${this.name}: the frontend wrote no passthrough keys`);
    this.#detachConn();
    const conn = this.#map(rings, keys, fatal);
    this.#conn = conn;
    this.#disabled = false;
    this.error = undefined;
    const ev = this.#dom.evtchn;
    ev.on(conn.txPort, this.#serviceFn);
    if (conn.rxPort !== conn.txPort) ev.on(conn.rxPort, this.#serviceFn);
    this.#dom.loop.defer(() => this.#service());
    return { close: () => (this.#conn === conn ? this.#detachConn() : undefined) };
  }

  #map(rings: BackQueueRings, keys: PtKeys, fatal: VifFatal): Conn {
    const gnt = this.#dom.gnt;
    const fe = rings.frontDomid;
    const handles: number[] = [];
    const fail = (why: string): never => {
      for (const h of handles) gnt.unmap(h);
      throw new RangeError(`${this.name}: passthrough: ${why}`);
    };
    const lay = ptLayout(keys.slots);
    const nDir = ptDirPages(lay.pages);
    if (keys.pages !== lay.pages || keys.dirRefs.length !== nDir)
      fail(`${keys.pages} pages and ${keys.dirRefs.length} directory refs for ${keys.slots} slots`);
    // Every page is counted against the guest's mapping bound: refuse up front an area the
    // bound cannot hold (with the directory page mapped while it is read), with the reason.
    const held = gnt.mappingsOf(fe);
    if (held.maps + lay.pages + 1 > held.limit)
      fail(`${lay.pages} pages exceed the guest's mapping bound (${held.maps} of ${held.limit} held)`);
    // The refs are read once into a private list before any is used; each directory page
    // is mapped only while it is read.
    const refs = new Uint32Array(lay.pages);
    for (let d = 0; d < nDir; d++) {
      const ref = keys.dirRefs[d]!;
      const dh = gnt.map(fe, ref, true);
      if (dh < 0) fail(`mapping directory page ${d} gref ${ref}: status ${dh}`);
      const at = gnt.mappedOff(dh) >>> 2;
      const u32 = gnt.mappedMem(dh).u32;
      const end = Math.min(lay.pages, (d + 1) * PT_DIR_MAX);
      for (let i = d * PT_DIR_MAX; i < end; i++) refs[i] = u32[at + i - d * PT_DIR_MAX]!;
      gnt.unmap(dh);
    }
    let base = -1;
    for (let i = 0; i < lay.pages; i++) {
      const h = gnt.map(fe, refs[i]!, false);
      if (h < 0) fail(`mapping page ${i} gref ${refs[i]}: status ${h}`);
      handles.push(h);
      const off = gnt.mappedOff(h);
      if (i === 0) base = off;
      else if (off !== base + i * PAGE_SIZE) fail(`page ${i} is not contiguous with page 0`);
    }
    const gmem = gnt.mappedMem(handles[0]!);
    if (base < 0 || base + lay.pages * PAGE_SIZE > gmem.byteLength) fail("area outside guest memory");
    const csbMem = memRange(gmem.buffer, base, PAGE_SIZE);
    const region = new NetmapRegion(
      nextRegionId++,
      lay.spec,
      memRange(gmem.buffer, base + PAGE_SIZE, (lay.pages - 1) * PAGE_SIZE),
    );
    const kring = (r: number, tx: boolean): KRing => {
      const k = new KRing({
        m: region.mem,
        r,
        numSlots: lay.slots,
        tx,
        name: `${this.name} ${tx ? "tx" : "rx"}`,
        nBufs: region.nBufs,
        bufSize: region.bufSize,
        log: this.#log,
      });
      k.reset();
      return k;
    };
    return {
      region,
      csb: csbMem.i32,
      tx: kring(lay.txRing, true),
      rx: kring(lay.rxRing, false),
      handles,
      txPort: rings.txPort,
      rxPort: rings.rxPort,
      fatal,
    };
  }

  #detachConn(): void {
    const c = this.#conn;
    if (c === null) return;
    this.#conn = null;
    const ev = this.#dom.evtchn;
    ev.off(c.txPort);
    if (c.rxPort !== c.txPort) ev.off(c.rxPort);
    // A dead guest's mappings ended with it: a stale handle answers an error, nothing more.
    for (const h of c.handles) this.#dom.gnt.unmap(h);
  }

  /** Stops serving the guest's rings, logs why and tells the xenbus half (it disconnects). */
  #disable(c: Conn, reason: string): void {
    if (this.#disabled) return;
    this.#disabled = true;
    this.error = reason;
    this.#q.add("tx_fatal");
    this.#log.log(this.name, `netback: ${this.name}: passthrough: ${reason}; disabled`);
    this.#dom.loop.defer(() => c.fatal(reason));
  }

  /**
   * One event's work: take back released RX slots, forward what the guest put on its TX
   * ring, and sleep (asking for a kick) once a look after asking finds nothing new.
   */
  #service(): boolean {
    const c = this.#conn;
    if (c === null || this.#disabled) return false;
    let work = false;
    const k = c.tx;
    const csb = c.csb;
    // One more look after asking for a kick before sleeping: the guest owns that flag and
    // could clear it under us on every pass, which must not keep Domain-0 looking, so an
    // empty look after asking ends the service. A look that finds work clears the flag
    // (Domain-0 is awake), so the next empty pass must ask again: sleeping with it clear
    // would lose the guest's next kick (its flush saw no request) and stall the vif.
    let armed = false;
    for (let pass = 0; pass < PASS_BUDGET; pass++) {
      if (!this.#rxsync(c)) return work;
      const head = k.txsyncPrologue();
      if (head < 0) {
        this.#disable(c, "txsync: head/cur outside the slots the guest owns");
        return work;
      }
      if (head === k.hwcur) {
        if (armed) return work;
        armed = true;
        Atomics.store(csb, PT_CSB_TX + CSB_HOST_NEED_KICK, 1);
        continue; // a head moved before the flag was seen needs no kick
      }
      Atomics.store(csb, PT_CSB_TX + CSB_HOST_NEED_KICK, 0);
      armed = false;
      work = true;
      const sw = this.#seat.sw;
      if (sw !== null) forwardHolding(sw, this.#seat.index, k, k.hwcur, head, c.region);
      // On no switch the slots are dropped, and counted as the switch counts a bad one.
      else this.counters.add("txErrors", (head - k.hwcur + k.numSlots) % k.numSlots);
      k.hwcur = head;
      k.hwtail = head === 0 ? k.numSlots - 1 : head - 1;
      k.syncFinalize();
      if (Atomics.load(csb, PT_CSB_TX + CSB_GUEST_NEED_KICK) !== 0) this.#kick(c, PT_CSB_TX);
    }
    // Budget spent with work left: carry on after other domains' events, no kick needed.
    Atomics.store(csb, PT_CSB_TX + CSB_HOST_NEED_KICK, 0);
    if (!this.#deferred) {
      this.#deferred = true;
      this.#dom.loop.defer(this.#deferFn);
    }
    return work;
  }

  /** Takes back the RX slots the guest released; false once the vif is disabled. */
  #rxsync(c: Conn): boolean {
    const k = c.rx;
    const head = k.rxsyncPrologue();
    if (head < 0) {
      this.#disable(c, "rxsync: head/cur outside the slots the guest was given");
      return false;
    }
    k.hwcur = head;
    return true;
  }

  #kick(c: Conn, line: number): void {
    Atomics.store(c.csb, line + CSB_GUEST_NEED_KICK, 0);
    this.#dom.evtchn.send(c.rxPort);
    this.#q.add("evt_sent");
  }

  // --- the switch's side ------------------------------------------------------------------

  rxKring(): KRing | null {
    const c = this.#conn;
    if (c === null || this.#disabled) return null;
    const k = c.rx;
    const n = k.numSlots;
    if ((k.hwcur - k.hwtail - 1 + n) % n < Math.min(RX_LOW_WATER, n >>> 1)) {
      if (!this.#rxsync(c)) return null;
      if ((k.hwcur - k.hwtail - 1 + n) % n === 0) {
        // Full: ask the guest to kick when it releases, then look once more.
        Atomics.store(c.csb, PT_CSB_RX + CSB_HOST_NEED_KICK, 1);
        if (!this.#rxsync(c)) return null;
      }
    }
    return k;
  }

  rxIrq(): void {
    const c = this.#conn;
    if (c === null || this.#disabled) return;
    const k = c.rx;
    k.syncFinalize();
    if (Atomics.load(c.csb, PT_CSB_RX + CSB_GUEST_NEED_KICK) === 0) return;
    const n = k.numSlots;
    // Inside a passthrough batch, with more than a quarter of the ring free: wait for its end.
    if (forwarding > 0 && (k.hwcur - k.hwtail - 1 + n) % n > n >>> 2) {
      if (!this.#held) {
        this.#held = true;
        heldKicks[nHeld++] = this;
      }
      return;
    }
    // This kick answers a held one too: the batch's end does not send it again.
    this.#held = false;
    this.#kick(c, PT_CSB_RX);
  }

  /** The end of the batch a kick was held for: sent if the guest still asks. */
  flushHeldKick(): void {
    if (!this.#held) return;
    this.#held = false;
    const c = this.#conn;
    if (c === null || this.#disabled) return;
    if (Atomics.load(c.csb, PT_CSB_RX + CSB_GUEST_NEED_KICK) !== 0) this.#kick(c, PT_CSB_RX);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#detachConn();
    this.leaveSwitch();
  }
}
