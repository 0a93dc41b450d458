/**
 * The guest's half of a netmap passthrough vif (pvnet's, after netmap's ptnet): the guest
 * lays out a VALE port's netmap_if, rings and buffers in a run of its own pages
 * (pt-layout.ts), grants them to Domain-0 through a page directory, and is that port's
 * netmap user. Sending writes the frame straight into the TX slot's buffer (the switch's
 * buffer: Domain-0 forwards from it with VALE's one copy); a batch is published with one
 * head/cur store and one kick, sent only when Domain-0 said it sleeps (the status block's
 * host_need_kick). Receiving reads frames where the switch copied them and releases the
 * slots in one store. The device is a NetDevice for the guest stack (ping, `pvnet up`) and
 * has a burst API for senders that fill many slots at once (`txBurst`).
 *
 * Domain-0 is trusted as a netif backend is, but its words are still checked: a tail
 * outside the ring or a slot longer than a buffer stops the device (FrontFatal), never a
 * throw; the guest writes its own buffer index back into every slot it hands over, so
 * nothing Domain-0 writes there is ever followed.
 */
import { Counters } from "../base/counters.js";
import { PvnetError } from "../base/errors.js";
import type { Domain } from "../hv/domain.js";
import { PAGE_SIZE } from "../hv/memory.js";
import { NR_RX, NR_TX, NS_MOREFRAG, RING_CUR, RING_HEAD, RING_TAIL, ringSlot } from "../netmap/layout.js";
import { NetmapRegion } from "../netmap/mem.js";
import {
  CSB_GUEST_NEED_KICK,
  CSB_HOST_NEED_KICK,
  KEY_PT_PAGES,
  KEY_PT_SLOTS,
  memRange,
  PT_CSB_RX,
  PT_CSB_TX,
  PT_DEFAULT_SLOTS,
  PT_DIR_MAX,
  PT_MAX_SLOTS,
  PT_MIN_SLOTS,
  ptDirKey,
  ptDirPages,
  ptLayout,
  validPtSlots,
} from "../netmap/pt-layout.js";
import type { NetDevice } from "../stack/device.js";
import { copyBytes } from "../wire/copy.js";
import type { Mem } from "../wire/mem.js";
import type { FrontDevice, FrontFatal, FrontQueue, FrontQueueRings } from "./device-api.js";
import { DeferredGrants } from "./pool-grants.js";
import type { ReceiveFn } from "./rx.js";

export const PT_FRONT_COUNTERS = [
  "txPackets",
  "txBytes",
  "rxPackets",
  "rxBytes",
  /**
   * Times the TX ring filled up and pushed back: a run of refused transmits and lends counts
   * once (until one is granted), so a refused lend followed by the copying transmit of the
   * same frame, or a sender retrying, does not count the same full ring twice.
   */
  "txFull",
  /** Frames too short or too long for a buffer, dropped. */
  "txDropped",
  /** Received slots Domain-0 filled wrongly (a chain, a length over the buffer), dropped. */
  "rxErrors",
  "kicksSent",
  "kicksReceived",
  "fatal",
] as const;
export type PtFrontCounter = (typeof PT_FRONT_COUNTERS)[number];

export interface PtFrontDeviceOptions {
  /** Slots per ring: a power of two from PT_MIN_SLOTS to PT_MAX_SLOTS; default PT_DEFAULT_SLOTS. */
  readonly slots?: number;
  readonly log?: (line: string) => void;
}

interface Area {
  readonly region: NetmapRegion;
  readonly csb: Int32Array;
  /** Int32 index of each ring's head, cur and tail in the region's u32 view. */
  readonly tx: number;
  readonly rx: number;
  readonly txBuf: Uint32Array;
  readonly rxBuf: Uint32Array;
  readonly firstPage: number;
  readonly pages: number;
  readonly refs: number[];
  /** The directory's pages (any free pages: Domain-0 maps each alone) and their grants. */
  readonly dirPages: number[];
  readonly dirRefs: number[];
  readonly txPort: number;
  readonly rxPort: number;
  readonly fatal: FrontFatal;
  /** Where the region starts in the guest's memory (its buffers' offsets are region-relative). */
  readonly base: number;
}

const ETH_HLEN = 14;
const noReceive: ReceiveFn = () => {};
let nextRegionId = 4 << 20;

export class PtFrontDevice implements FrontDevice, NetDevice {
  readonly mac: number;
  readonly mtu: number;
  readonly offloadsChecksum = false;
  readonly counters = new Counters(PT_FRONT_COUNTERS);
  readonly #dom: Domain;
  readonly #slots: number;
  readonly #log: (line: string) => void;
  #area: Area | null = null;
  #carrier = false;
  #failed = false;
  /** Private positions: the next TX slot to fill, the cached tail, the next RX slot to read. */
  #txHead = 0;
  #txTail = 0;
  #rxHead = 0;
  #published = 0;
  #flushScheduled = false;
  #wantWritable = false;
  /** The last refusal was counted in txFull and nothing was granted since: the same full ring. */
  #txRefusing = false;
  /** A TX slot's buffer is lent (txBuffer) and not yet committed or aborted. */
  #lent = false;
  #receive: ReceiveFn = noReceive;
  #writable: () => void = () => {};
  readonly #flushFn = (): void => this.flush();
  readonly #eventFn = (): boolean => this.#onEvent();
  readonly #pollFn = (): void => {
    this.#poll();
  };
  #pollScheduled = false;

  constructor(
    dom: Domain,
    info: { readonly mac: string; readonly mtu: number },
    opts: PtFrontDeviceOptions = {},
  ) {
    this.#dom = dom;
    this.mac = Number.parseInt(info.mac.replaceAll(":", ""), 16);
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(info.mac))
      throw new PvnetError("EINVAL", `Cannot create passthrough device: mac "${info.mac}"`);
    this.mtu = info.mtu;
    this.#slots = opts.slots ?? PT_DEFAULT_SLOTS;
    if (!validPtSlots(this.#slots))
      throw new PvnetError(
        "EINVAL",
        `Cannot create passthrough device: slots ${this.#slots} (a power of two from ${PT_MIN_SLOTS} to ${PT_MAX_SLOTS})`,
      );
    if (info.mtu + ETH_HLEN > ptLayout(this.#slots).spec.bufSize!)
      throw new PvnetError("EINVAL", `Cannot create passthrough device: mtu ${info.mtu} exceeds a buffer`);
    this.#log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  get carrier(): boolean {
    return this.#carrier;
  }

  onReceive(cb: ReceiveFn): void {
    this.#receive = cb;
  }

  onWritable(cb: () => void): void {
    this.#writable = cb;
  }

  /** The keys netfront writes beside its own (pt-layout.ts), once the queue is attached. */
  passthroughKeys(): [string, string][] {
    const a = this.#area;
    if (a === null) return [];
    return [
      ...a.dirRefs.map((r, i): [string, string] => [ptDirKey(i), String(r)]),
      [KEY_PT_PAGES, String(a.pages)],
      [KEY_PT_SLOTS, String(this.#slots)],
    ];
  }

  attachQueue(rings: FrontQueueRings, fatal: FrontFatal): FrontQueue {
    if (rings.queue !== 0) throw new PvnetError("EINVAL", "a passthrough vif has one queue");
    if (rings.features.passthrough !== true)
      throw new PvnetError("EOPNOTSUPP", "backend does not offer feature-netmap-passthrough");
    if (this.#area !== null) throw new PvnetError("EINVAL", "passthrough queue attached twice");
    const a = this.#allocArea(rings, fatal);
    this.#area = a;
    this.#failed = false;
    this.#txHead = 0;
    this.#lent = false;
    this.#txTail = this.#slots - 1;
    this.#rxHead = 0;
    this.#published = 0;
    return {
      start: () => {
        const ev = this.#dom.evtchn;
        ev.on(a.txPort, this.#eventFn);
        if (a.rxPort !== a.txPort) ev.on(a.rxPort, this.#eventFn);
        this.#dom.loop.defer(this.#pollFn);
      },
      close: () => this.#release(a),
    };
  }

  #allocArea(rings: FrontQueueRings, fatal: FrontFatal): Area {
    const dom = this.#dom;
    const lay = ptLayout(this.#slots);
    const first = dom.pages.allocRun(lay.pages);
    if (first < 0)
      throw new PvnetError("ENOMEM", `no run of ${lay.pages} free pages for the passthrough area`);
    const mem = dom.memory.mem;
    const refs: number[] = [];
    const dirPages: number[] = [];
    const dirRefs: number[] = [];
    const undo = (): void => {
      for (const r of refs) dom.grants.endAccess(r);
      for (const r of dirRefs) dom.grants.endAccess(r);
      for (let p = first; p < first + lay.pages; p++) dom.pages.free(p);
      for (const p of dirPages) dom.pages.free(p);
    };
    for (let d = ptDirPages(lay.pages); d > 0; d--) {
      const p = dom.pages.alloc();
      if (p < 0) {
        undo();
        throw new PvnetError("ENOMEM", "no page for the passthrough page directory");
      }
      dirPages.push(p);
      mem.u8.fill(0, p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
    }
    mem.u8.fill(0, first * PAGE_SIZE, (first + lay.pages) * PAGE_SIZE);
    const region = new NetmapRegion(
      nextRegionId++,
      lay.spec,
      memRange(mem.buffer, (first + 1) * PAGE_SIZE, (lay.pages - 1) * PAGE_SIZE),
    );
    const tx = region.allocRingWithBufs(this.#slots, NR_TX, 0, "passthrough tx");
    const rx = region.allocRingWithBufs(this.#slots, NR_RX, 0, "passthrough rx");
    const counts = {
      txRings: 1,
      rxRings: 1,
      hostTxRings: 0,
      hostRxRings: 0,
      txSlots: this.#slots,
      rxSlots: this.#slots,
    };
    const ifOff = region.allocIf(`vif${rings.queue}`, counts, [tx, rx]);
    if (tx !== lay.txRing || rx !== lay.rxRing || ifOff !== lay.ifOff) {
      undo();
      throw new PvnetError("EINVAL", "passthrough layout differs from pt-layout's");
    }
    const txBuf = new Uint32Array(this.#slots);
    const rxBuf = new Uint32Array(this.#slots);
    for (let i = 0; i < this.#slots; i++) {
      txBuf[i] = region.mem.u32[ringSlot(tx, i) >>> 2];
      rxBuf[i] = region.mem.u32[ringSlot(rx, i) >>> 2];
    }
    const u32 = region.mem.u32;
    u32[(tx + RING_TAIL) >>> 2] = this.#slots - 1;
    for (let p = 0; p < lay.pages; p++) {
      const r = dom.grants.grantAccess(rings.backDomid, first + p, false);
      if (r < 0) {
        undo();
        throw new PvnetError("ENOSPC", "grant table full");
      }
      refs.push(r);
      mem.u32[((dirPages[(p / PT_DIR_MAX) | 0]! * PAGE_SIZE) >>> 2) + (p % PT_DIR_MAX)] = r;
    }
    for (const p of dirPages) {
      const r = dom.grants.grantAccess(rings.backDomid, p, true);
      if (r < 0) {
        undo();
        throw new PvnetError("ENOSPC", "grant table full");
      }
      dirRefs.push(r);
    }
    return {
      region,
      csb: memRange(mem.buffer, first * PAGE_SIZE, PAGE_SIZE).i32,
      tx: tx >>> 2,
      rx: rx >>> 2,
      txBuf,
      rxBuf,
      firstPage: first,
      pages: lay.pages,
      refs,
      dirPages,
      dirRefs,
      txPort: rings.txPort,
      rxPort: rings.rxPort,
      fatal,
      base: (first + 1) * PAGE_SIZE,
    };
  }

  /** Stops, ends the grants (deferred while Domain-0 still maps them); returns how many wait. */
  #release(a: Area): number {
    if (this.#area !== a) return 0;
    this.#area = null;
    const ev = this.#dom.evtchn;
    ev.off(a.txPort);
    if (a.rxPort !== a.txPort) ev.off(a.rxPort);
    const deferred = DeferredGrants.of(this.#dom);
    const before = deferred.pending;
    for (let i = 0; i < a.dirRefs.length; i++) deferred.end(a.dirRefs[i]!, a.dirPages[i]!);
    for (let i = 0; i < a.refs.length; i++) deferred.end(a.refs[i]!, a.firstPage + i);
    return deferred.pending - before;
  }

  carrierOn(): void {
    this.#carrier = true;
    if (this.#wantWritable) {
      this.#wantWritable = false;
      this.#dom.loop.defer(() => this.#writable());
    }
  }

  carrierOff(): void {
    this.#carrier = false;
  }

  #fail(a: Area, reason: string): void {
    if (this.#failed) return;
    this.#failed = true;
    this.counters.add("fatal");
    this.#log(`dom${this.#dom.domid}: passthrough vif: ${reason}; disabled`);
    this.#dom.loop.defer(() => a.fatal(reason));
  }

  /** Free TX slots; the shared tail is read (once) only when the cached one is used up or `fresh`. */
  #txRoom(a: Area, fresh = false): number {
    const n = this.#slots;
    const room = (this.#txTail - this.#txHead + n) & (n - 1);
    if (room !== 0 && !fresh) return room;
    const t = Atomics.load(a.region.mem.u32, a.tx + (RING_TAIL >>> 2));
    if (t >= n) {
      this.#fail(a, `tx tail ${t} outside the ring`);
      return 0;
    }
    this.#txTail = t;
    return (t - this.#txHead + n) & (n - 1);
  }

  transmit(frame: Uint8Array, len: number, _flags: number): boolean {
    const a = this.#area;
    if (a === null || !this.#carrier || this.#failed) {
      this.#wantWritable = true;
      return false;
    }
    if (len < ETH_HLEN || len > a.region.bufSize) {
      this.counters.add("txDropped");
      return true;
    }
    if (this.#txRoom(a) === 0 && !this.#txFull(a)) return false;
    this.#put(a, frame, 0, len);
    this.#scheduleFlush();
    return true;
  }

  /**
   * Writes `frame[off..off+len)` into up to `count` free TX slots and publishes them with
   * one sync (and a kick only if Domain-0 sleeps); returns how many went. 0 with the ring
   * full: `onWritable` fires once room is back.
   */
  txBurst(frame: Uint8Array, off: number, len: number, count: number): number {
    const a = this.#area;
    if (a === null || !this.#carrier || this.#failed || len < ETH_HLEN || len > a.region.bufSize) return 0;
    let room = this.#txRoom(a);
    if (room < count) room = this.#txRoom(a, true);
    if (room === 0 && !this.#txFull(a)) return 0;
    const n = Math.min(this.#txRoom(a), count);
    if (n === 0) return 0;
    // The frame is copied in once; the other slots take it from that buffer, a word copy
    // between 8-byte aligned buffers of the same region.
    const first = a.region.bufOff(a.txBuf[this.#txHead]);
    this.#put(a, frame, off, len);
    for (let i = 1; i < n; i++) this.#putFrom(a, first, len);
    this.flush();
    return n;
  }

  /** The ring is full: ask Domain-0 for an event when it frees slots, then look once more. */
  #txFull(a: Area): boolean {
    Atomics.store(a.csb, PT_CSB_TX + CSB_GUEST_NEED_KICK, 1);
    this.flush();
    if (this.#txRoom(a, true) !== 0) {
      Atomics.store(a.csb, PT_CSB_TX + CSB_GUEST_NEED_KICK, 0);
      return true;
    }
    if (!this.#txRefusing) this.counters.add("txFull");
    this.#txRefusing = true;
    this.#wantWritable = true;
    return false;
  }

  #put(a: Area, frame: Uint8Array, off: number, len: number): void {
    const r = a.region;
    const dst = r.bufOff(a.txBuf[this.#txHead]);
    const d8 = r.mem.u8;
    if (len <= 128) for (let j = 0; j < len; j++) d8[dst + j] = frame[off + j];
    else d8.set(frame.subarray(off, off + len), dst);
    this.#fillSlot(a, len);
  }

  /** #put from a buffer of the region's own (txBurst's copies of its first frame). */
  #putFrom(a: Area, src: number, len: number): void {
    const r = a.region;
    copyBytes(r.mem, r.bufOff(a.txBuf[this.#txHead]), r.mem, src, len);
    this.#fillSlot(a, len);
  }

  /** The next TX slot, its buffer written: our own buffer index (never one read back) and the length. */
  #fillSlot(a: Area, len: number): void {
    const i = this.#txHead;
    const w = ringSlot(a.tx << 2, i) >>> 2;
    const u32 = a.region.mem.u32;
    u32[w] = a.txBuf[i];
    u32[w + 1] = len; // len, flags 0
    this.#txHead = (i + 1) & (this.#slots - 1);
    this.#txRefusing = false;
    this.counters.f64[0]++;
    this.counters.f64[1] += len;
  }

  /** The guest's whole memory: a lent buffer's offset (txBuffer) is in it. */
  get txMem(): Mem {
    return this.#dom.memory.mem;
  }

  /**
   * Lends the next TX slot's buffer (its offset in `txMem`) for a frame of at most `maxLen`
   * bytes, built in place: the switch then copies it once, straight from there. -1 when the
   * ring is full (onWritable follows) or the device is down.
   */
  txBuffer(maxLen: number): number {
    const a = this.#area;
    this.#lent = false;
    if (a === null || !this.#carrier || this.#failed) {
      this.#wantWritable = true;
      return -1;
    }
    if (maxLen > a.region.bufSize) return -1;
    if (this.#txRoom(a) === 0 && !this.#txFull(a)) return -1;
    this.#lent = true;
    this.#txRefusing = false;
    return a.base + a.region.bufOff(a.txBuf[this.#txHead]);
  }

  /** Sends the lent buffer's first `len` bytes (published at the end of the turn, or by flush). */
  txCommit(len: number, _flags: number): boolean {
    const a = this.#area;
    if (!this.#lent || a === null || !this.#carrier || this.#failed) {
      this.#lent = false;
      return false;
    }
    this.#lent = false;
    if (len < ETH_HLEN || len > a.region.bufSize) {
      this.counters.add("txDropped");
      return true;
    }
    this.#fillSlot(a, len);
    this.#scheduleFlush();
    return true;
  }

  txAbort(): void {
    this.#lent = false;
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    this.#dom.loop.soon(this.#flushFn);
  }

  /** Publishes the slots filled since the last flush; kicks Domain-0 if it asked. */
  flush(): void {
    this.#flushScheduled = false;
    const a = this.#area;
    if (a === null || this.#published === this.#txHead) return;
    const u32 = a.region.mem.u32;
    this.#published = this.#txHead;
    Atomics.store(u32, a.tx + (RING_CUR >>> 2), this.#txHead);
    Atomics.store(u32, a.tx + (RING_HEAD >>> 2), this.#txHead);
    if (Atomics.load(a.csb, PT_CSB_TX + CSB_HOST_NEED_KICK) !== 0) {
      Atomics.store(a.csb, PT_CSB_TX + CSB_HOST_NEED_KICK, 0);
      this.#dom.evtchn.send(a.txPort);
      this.counters.add("kicksSent");
    }
  }

  /** An event (or the start): receive what arrived, and tell a refused sender about room. */
  #onEvent(): boolean {
    this.counters.add("kicksReceived");
    return this.#poll();
  }

  /**
   * One receive pass. While frames keep coming the next pass runs on the next turn of the
   * loop, with no event asked for (NAPI's way: a busy receiver costs no wake-ups and
   * stays close behind the ring, which never waits for it); a pass that finds the ring
   * empty asks for an event and looks once more before the guest sleeps.
   */
  #poll(): boolean {
    this.#pollScheduled = false;
    const a = this.#area;
    if (a === null || this.#failed) return false;
    let got = this.#rxPoll(a);
    if (got < 0) return false;
    if (got === 0) {
      Atomics.store(a.csb, PT_CSB_RX + CSB_GUEST_NEED_KICK, 1);
      got = this.#rxPoll(a);
      if (got < 0) return false;
    }
    if (got > 0 && !this.#pollScheduled) {
      this.#pollScheduled = true;
      this.#dom.loop.defer(this.#pollFn);
    }
    let work = got > 0;
    if (this.#wantWritable && this.#carrier) {
      if (this.#txRoom(a, true) !== 0) {
        this.#wantWritable = false;
        work = true;
        this.#writable();
      }
    }
    return work;
  }

  /** Reads every frame up to the tail, releases the slots; the count, or -1 after a fatal. */
  #rxPoll(a: Area): number {
    const n = this.#slots;
    const r = a.region;
    const u32 = r.mem.u32;
    const t = Atomics.load(u32, a.rx + (RING_TAIL >>> 2));
    if (t >= n) {
      this.#fail(a, `rx tail ${t} outside the ring`);
      return -1;
    }
    let i = this.#rxHead;
    if (i === t) return 0;
    Atomics.store(a.csb, PT_CSB_RX + CSB_GUEST_NEED_KICK, 0);
    const bufSize = r.bufSize;
    const c = this.counters.f64;
    let got = 0;
    let chain = false;
    while (i !== t) {
      const w = ringSlot(a.rx << 2, i) >>> 2;
      const lenFlags = u32[w + 1];
      const len = lenFlags & 0xffff;
      const flags = lenFlags >>> 16;
      const buf = a.rxBuf[i];
      u32[w] = buf; // our own buffer back in the slot, whatever is there now
      // Frames fit one buffer (mtu checked at creation): a chain is Domain-0's error, dropped whole.
      const more = (flags & NS_MOREFRAG) !== 0;
      if (len > bufSize || len < ETH_HLEN || more || chain) {
        if (!chain) this.counters.add("rxErrors");
      } else {
        c[2]++;
        c[3] += len;
        this.#receive(r.mem.u8, r.bufOff(buf), len, 0);
      }
      chain = more;
      i = (i + 1) & (n - 1);
      got++;
    }
    this.#rxHead = i;
    Atomics.store(u32, a.rx + (RING_CUR >>> 2), i);
    Atomics.store(u32, a.rx + (RING_HEAD >>> 2), i);
    if (Atomics.load(a.csb, PT_CSB_RX + CSB_HOST_NEED_KICK) !== 0) {
      Atomics.store(a.csb, PT_CSB_RX + CSB_HOST_NEED_KICK, 0);
      this.#dom.evtchn.send(a.txPort);
      this.counters.add("kicksSent");
    }
    return got;
  }
}
