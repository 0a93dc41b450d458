/**
 * The VXLAN uplink as a native netmap device (docs/porting.md): one TX and one RX ring in a
 * region of its own, and a UDP socket for a NIC.
 *
 * txsync encapsulates the slots [hwcur, rhead) into datagrams (RFC 7348: the header is
 * written once per pool cell at start-up, so a frame costs one copy behind it) and sends
 * each to the remote learnt for its destination MAC, or to every static remote for
 * broadcast, multicast and unknown unicast (head-end replication). A pool cell is reused
 * only once every send that names it has completed; when none is free the sync stops there
 * and resumes (`onTxRoom`) as sends complete, so a burst waits in the ring, never in an
 * unbounded queue. Free cells are taken last-freed first: Node completes a send that went
 * out at once on the next tick, so a steady flow keeps reusing the few cells one batch
 * needs, warm in cache, instead of walking the whole pool (measured: a cell per packet
 * across megabytes cost the send path more than the copy into it).
 *
 * Received datagrams are the NIC's DMA: each one is checked (decap.ts), its inner frame
 * copied into the RX slot after the last one filled, and its source MAC learnt against
 * the datagram's sender. rxsync publishes what was filled; `onRx` asks the owner to pump
 * the ring into the switch once per event-loop turn, so datagrams enter the switch in
 * batches. Nothing a datagram holds can make this throw.
 */
import type { Counters } from "../../base/counters.js";
import type { KRing } from "../../netmap/kring.js";
import { NETMAP_BUF_RESERVED, NETMAP_MAX_FRAGS, NS_MOREFRAG, ringSlot } from "../../netmap/layout.js";
import { ValeFrags } from "../../vale/frags.js";
import { copyBytes } from "../../wire/copy.js";
import { type Mem, memOf, privateMem } from "../../wire/mem.js";
import { ETH_HLEN } from "../../wire/net/ethernet.js";
import { VXLAN_HLEN } from "../../wire/net/vxlan.js";
import { copyIn, NicAdapter, RX_FILLED, RX_FULL, RX_LOOP_MAX } from "../nic-adapter.js";
import type { VxlanRemote } from "./config.js";
import { VXLAN_COUNTERS, type VxlanCounter, vxlanCounters } from "./counters.js";
import {
  classifyAt,
  classifyDatagram,
  DECAP_FLAGS,
  DECAP_OK,
  DECAP_OVERSIZE,
  DECAP_RUNT,
  DECAP_SHORT,
  DECAP_VNI,
} from "./decap.js";
import { FDB_NONE, VxlanFdb } from "./fdb.js";
import { intToIpv4, ipv4ToInt, NATIVE_UDP_BATCH } from "./native-udp.js";

/** What the adapter needs of a UDP socket (node:dgram's Socket fits). */
export interface VxlanSender {
  send(
    msg: Uint8Array,
    offset: number,
    length: number,
    port: number,
    address: string,
    cb: (err: Error | null) => void,
  ): void;
}

/**
 * A socket connected to one remote (node:dgram's Socket after `connect` fits): a send
 * names no address, so Node skips its per-send address lookup and the kernel its route
 * lookup.
 */
export interface VxlanLink {
  send(msg: Uint8Array, offset: number, length: number, cb: (err: Error | null) => void): void;
}

/**
 * A socket that sends a batch per call (native-udp.ts: sendmmsg): entries `[from, from + n)`
 * of the arrays, each `u8[off, off + size)` to `ip:port`. Returns how many went (0: the
 * socket's buffer is full, ask `wantWritable`), or a negative errno when entry `from` itself
 * failed. A send is complete when the call returns: the bytes are the kernel's.
 */
export interface VxlanBatchSocket {
  send(
    u8: Uint8Array,
    off: Int32Array,
    size: Int32Array,
    ip: Int32Array,
    port: Int32Array,
    from: number,
    n: number,
  ): number;
  /** Asks for `onWritable` (true) once the socket can take more, or stops asking. */
  wantWritable(on: boolean): void;
}

export interface VxlanAdapterOptions {
  readonly name: string;
  readonly vni: number;
  /** Inner MTU: frames up to mtu + 14 bytes pass. */
  readonly mtu: number;
  /** Where unlearnt datagrams go, and the ports replies use. */
  readonly remotes: readonly VxlanRemote[];
  /** The port a learnt remote that is not a static one is sent to (our own port). */
  readonly learntPort: number;
  /** Sends one datagram per call (node:dgram); unused when `batch` is given. */
  readonly sender?: VxlanSender;
  /** Sends a batch per call (native-udp.ts); then `sender` and `links` are not used. */
  readonly batch?: VxlanBatchSocket;
  /** A connected socket per static remote (same index), or null to send through `sender`. */
  readonly links?: readonly (VxlanLink | null)[];
  readonly slots?: number;
  readonly ageingMs?: number;
  /** The counters' shared memory (VXLAN_COUNTERS_BYTES); a fresh buffer when absent. */
  readonly counters?: SharedArrayBuffer;
  readonly now?: () => number;
}

/** Linux vxlan's default fdb ageing (`ageing 300`). */
export const VXLAN_AGEING_MS = 300_000;
/** Remotes learnt beyond the static ones; later senders are still received, not learnt. */
export const VXLAN_MAX_LEARNT_REMOTES = 1024;
const CELL = 2048 + 64;

const C = (n: VxlanCounter): number => VXLAN_COUNTERS.indexOf(n);
const RX_PKTS = C("rx_packets");
const RX_BYTES = C("rx_bytes");
const RX_ERRORS = C("rx_errors");
const RX_DROPPED = C("rx_dropped");
const RX_LENGTH = C("rx_length_errors");
const RX_FRAME = C("rx_frame_errors");
const RX_MISSED = C("rx_missed_errors");
const MULTICAST = C("multicast");
const TX_PKTS = C("tx_packets");
const TX_BYTES = C("tx_bytes");
const TX_ERRORS = C("tx_errors");
const TX_DROPPED = C("tx_dropped");

export class VxlanAdapter extends NicAdapter {
  readonly vni: number;
  readonly mtu: number;
  readonly counters: Counters<VxlanCounter>;
  readonly fdb: VxlanFdb;
  /** Static remotes first, then those learnt from datagrams' senders. */
  readonly remotes: VxlanRemote[];
  readonly nStatic: number;
  readonly #maxFrame: number;
  readonly #learntPort: number;
  readonly #sender: VxlanSender | null;
  readonly #batch: VxlanBatchSocket | null;
  /** Each remote's IPv4 address as an int32 (the batch socket's form), by remote index. */
  readonly #remoteIp: number[] = [];
  readonly #byIp = new Map<number, number>();
  /**
   * The batch socket's queue, a ring of datagrams not yet sent: pool offset, size, address,
   * port and cell. A cell is held while any of its datagrams is queued, and each held cell
   * has at most one per static remote queued, so `cells * max(1, static remotes)` entries
   * always fit.
   */
  readonly #eOff: Int32Array;
  readonly #eSize: Int32Array;
  readonly #eIp: Int32Array;
  readonly #ePort: Int32Array;
  readonly #eCell: Int32Array;
  #eHead = 0;
  #eCount = 0;
  #wantWritable = false;
  /** The batch receive's frames, by reference to the receive memory. */
  readonly #rxFrames: ValeFrags[] = [];
  /** By remote index; learnt remotes (past the static ones) have none. */
  readonly #links: (VxlanLink | null)[];
  readonly #now: () => number;
  readonly #byAddress = new Map<string, number>();
  readonly #pool: Buffer;
  readonly #poolMem;
  readonly #refs: Int32Array;
  /** Free cells, a stack: `#free[0, #nFree)`. */
  readonly #free: Int32Array;
  #nFree: number;
  /**
   * Frames encapsulated and not yet handed to the socket: cell, datagram size, and remote
   * (FDB_NONE: every static one). The sends go out in one loop after the batch's copies
   * (`#flush`), so Node's send path runs back to back as a bare sender's does instead of
   * taking turns with the switch's code (measured: interleaved, each cost more per packet).
   */
  readonly #pendCell: Int32Array;
  readonly #pendSize: Int32Array;
  readonly #pendDst: Int32Array;
  #nPend = 0;
  readonly #done: ((err: Error | null) => void)[];
  #stalled = false;
  /**
   * A resume of a stalled txsync is queued: cells were freed by `#flush` itself (every send
   * of a cell threw, or completed at once), so no completion will come to resume it.
   */
  #resumeQueued = false;
  readonly #resumeFn = (): void => {
    this.#resumeQueued = false;
    if (this.#stalled && this.#nFree > 0) {
      this.#stalled = false;
      this.onTxRoom?.();
    }
  };
  /**
   * Learning's clock, read at most once between two rxsyncs (each pump) rather than per
   * datagram: ageing counts in minutes, so a turn's staleness does not matter.
   */
  #rxNow = 0;
  /** Set by each rxsync; the next datagram that learns reads the clock (once per batch). */
  #rxClockStale = true;
  /** The same for the direct TX path, read once per switch batch. */
  #txNow = 0;
  /**
   * Set by the uplink's switch port: a received frame enters the switch at once (by
   * reference to `#stage`, which the switch copies from before returning), instead of
   * through the RX ring and a pump. One frame's staging, reused, stays in cache; the ring's
   * slots, its rxsyncs and the forward loop's setup per batch are saved. The ring path
   * stays for anyone driving the device's rings directly.
   */
  rxDirect: ((f: ValeFrags) => void) | null = null;
  /** The same for a batch receive (`receiveBatch`): its frames go in as one batch. */
  rxDirectBatch: ((frames: readonly ValeFrags[], n: number) => void) | null = null;
  readonly #stage: Mem = privateMem(2048);
  readonly #stageFrags = new ValeFrags(this.#stage);
  /** The last sender and its remote index: a burst from one peer skips the map. */
  #lastAddress = "";
  #lastRemote = FDB_NONE;

  constructor(o: VxlanAdapterOptions) {
    const slots = o.slots ?? 1024;
    super(o.name, slots);
    this.vni = o.vni;
    this.mtu = o.mtu;
    this.#maxFrame = o.mtu + ETH_HLEN;
    this.#learntPort = o.learntPort;
    if (o.sender === undefined && o.batch === undefined) throw new RangeError(`${o.name}: no socket`);
    this.#sender = o.sender ?? null;
    this.#batch = o.batch ?? null;
    this.#links = o.remotes.map((_, i) => o.links?.[i] ?? null);
    this.#now = o.now ?? (() => performance.now());
    this.counters = vxlanCounters(o.counters);
    this.fdb = new VxlanFdb(o.ageingMs ?? VXLAN_AGEING_MS);
    this.remotes = [...o.remotes];
    this.nStatic = o.remotes.length;
    o.remotes.forEach((r, i) => {
      if (!this.#byAddress.has(r.address)) this.#byAddress.set(r.address, i);
      const ip = ipv4ToInt(r.address);
      this.#remoteIp.push(ip);
      if (!this.#byIp.has(ip)) this.#byIp.set(ip, i);
    });
    // One cell per TX slot and as many again: a flood to several remotes holds its cell
    // until the last send completes, while the ring refills behind it.
    const cells = 2 * slots;
    this.#poolMem = memOf(new ArrayBuffer(cells * CELL));
    this.#pool = Buffer.from(this.#poolMem.buffer);
    for (let c = 0; c < cells; c++) {
      const at = c * CELL;
      this.#pool[at] = 0x08;
      this.#pool[at + 4] = (o.vni >>> 16) & 0xff;
      this.#pool[at + 5] = (o.vni >>> 8) & 0xff;
      this.#pool[at + 6] = o.vni & 0xff;
    }
    this.#refs = new Int32Array(cells);
    // Popped from the top: cell 0 first, then 1, ... while the pool fills.
    this.#free = Int32Array.from({ length: cells }, (_, i) => cells - 1 - i);
    this.#nFree = cells;
    this.#pendCell = new Int32Array(cells);
    this.#pendSize = new Int32Array(cells);
    this.#pendDst = new Int32Array(cells);
    this.#done = Array.from({ length: cells }, (_, c) => (err: Error | null) => this.#sent(c, err));
    const entries = this.#batch === null ? 0 : cells * Math.max(1, this.nStatic);
    this.#eOff = new Int32Array(entries);
    this.#eSize = new Int32Array(entries);
    this.#eIp = new Int32Array(entries);
    this.#ePort = new Int32Array(entries);
    this.#eCell = new Int32Array(entries);
  }

  protected override registered(): void {
    this.#rxNow = this.#now();
    this.#txNow = this.#rxNow;
  }

  /** Pool cells some send still holds (for tests: all zero once the socket caught up). */
  get cellsInFlight(): number {
    let n = 0;
    for (const r of this.#refs) if (r > 0) n++;
    return n;
  }

  txsync(k: KRing): void {
    const region = this.region;
    const u32 = region.mem.u32;
    const bufSize = region.bufSize;
    const nBufs = region.nBufs;
    const pool = this.#poolMem;
    const c = this.counters.f64;
    const max = this.#maxFrame;
    const n = k.numSlots;
    const head = k.rhead;
    const now = this.#now();
    let i = k.hwcur;
    while (i !== head) {
      if (this.#nFree === 0) {
        this.#stalled = true;
        break;
      }
      const cell = this.#free[this.#nFree - 1];
      const base = cell * CELL;
      // A frame is one slot or a chain marked NS_MOREFRAG; each slot's words are read
      // once, checked, and only then used. The chain is gathered behind the cell's header.
      let total = 0;
      let bad = false;
      let over = false;
      for (let frags = 1; ; frags++) {
        const w = ringSlot(k.r, i) >>> 2;
        const buf = u32[w];
        const lenFlags = u32[w + 1];
        const len = lenFlags & 0xffff;
        i = i + 1 === n ? 0 : i + 1;
        if (buf < NETMAP_BUF_RESERVED || buf >= nBufs || len > bufSize) bad = true;
        else if (total + len > max) over = true;
        else if (!bad && !over)
          copyBytes(pool, base + VXLAN_HLEN + total, region.mem, region.bufOff(buf), len);
        total += len;
        if (((lenFlags >>> 16) & NS_MOREFRAG) === 0) break;
        if (i === head || frags === NETMAP_MAX_FRAGS) {
          bad = true;
          break;
        }
      }
      if (bad || total < ETH_HLEN) {
        c[TX_ERRORS]++;
        continue;
      }
      if (over) {
        c[TX_DROPPED]++;
        continue;
      }
      this.#encapsulate(cell, base, total, now);
    }
    this.#flush();
    k.hwcur = i;
    // Every slot before hwcur was copied out: all of them are the user's again.
    k.hwtail = i === 0 ? n - 1 : i - 1;
  }

  /**
   * The switch's direct path (the uplink's switch port takes frames by reference,
   * switch-port.ts): frame `f` is gathered behind the next free pool cell's header and sent,
   * with no stop in the TX ring. False (the switch counts the drop) when every cell is still
   * held by a send in flight; a bad or oversize frame is counted here, as txsync counts it.
   * The fdb's clock is the one `txBatch` last read, once per switch batch.
   */
  sendFrags(f: ValeFrags): boolean {
    if (this.#nFree === 0) return false;
    const cell = this.#free[this.#nFree - 1];
    const c = this.counters.f64;
    const total = f.total;
    if (total < ETH_HLEN) {
      c[TX_ERRORS]++;
      return true;
    }
    if (total > this.#maxFrame) {
      c[TX_DROPPED]++;
      return true;
    }
    const base = cell * CELL;
    f.copyOut(0, this.#poolMem, base + VXLAN_HLEN, total);
    this.#encapsulate(cell, base, total, this.#txNow);
    return true;
  }

  /** A switch batch was handed over by `sendFrags`: its sends go out, and the clock is read for the next. */
  txBatch(): void {
    this.#flush();
    this.#txNow = this.#now();
  }

  /**
   * Queues the frame of `total` bytes behind the header of `cell` (the top of the free
   * stack) for the remote learnt for its destination, or for every static remote; the cell
   * leaves the stack until its sends complete. False (counted) when it goes nowhere.
   */
  #encapsulate(cell: number, base: number, total: number, now: number): boolean {
    const d0 = base + VXLAN_HLEN;
    const p = this.#pool;
    let dst = FDB_NONE;
    if ((p[d0] & 1) === 0) dst = this.fdb.lookup(p.readUInt16BE(d0), p.readUInt32BE(d0 + 2), now);
    const size = VXLAN_HLEN + total;
    if (dst === FDB_NONE && this.nStatic === 0) {
      this.counters.f64[TX_DROPPED]++;
      return false;
    }
    if (this.#batch !== null) {
      this.#queue(cell, base, size, dst);
      return true;
    }
    // Off the stack, held by one reference until `#flush` has made its sends, so that a
    // sender completing one at once (none does in Node, a test's may) frees it only once.
    this.#nFree--;
    this.#refs[cell]++;
    const q = this.#nPend++;
    this.#pendCell[q] = cell;
    this.#pendSize[q] = size;
    this.#pendDst[q] = dst;
    return true;
  }

  /** Queues the datagram in `cell` for the batch socket: once, or once per static remote. */
  #queue(cell: number, base: number, size: number, dst: number): void {
    const k = dst !== FDB_NONE ? 1 : this.nStatic;
    this.#nFree--;
    this.#refs[cell] = k;
    const cap = this.#eOff.length;
    let at = this.#eHead + this.#eCount;
    if (at >= cap) at -= cap;
    for (let j = 0; j < k; j++) {
      const r = dst !== FDB_NONE ? dst : j;
      this.#eOff[at] = base;
      this.#eSize[at] = size;
      this.#eIp[at] = this.#remoteIp[r];
      this.#ePort[at] = this.remotes[r].port;
      this.#eCell[at] = cell;
      at = at + 1 === cap ? 0 : at + 1;
    }
    this.#eCount += k;
  }

  /**
   * Hands the batch socket its queue, up to NATIVE_UDP_BATCH per call, until it is empty or
   * the socket is full (then the socket says when it has room: `onWritable`). A datagram the
   * kernel refuses (no route, say) is counted and skipped. Cells come free as their last
   * datagram goes.
   */
  #flushBatch(b: VxlanBatchSocket): void {
    const c = this.counters.f64;
    const cap = this.#eOff.length;
    const freeBefore = this.#nFree;
    while (this.#eCount > 0) {
      const head = this.#eHead;
      const n = Math.min(this.#eCount, cap - head, NATIVE_UDP_BATCH);
      let r: number;
      try {
        r = b.send(this.#pool, this.#eOff, this.#eSize, this.#eIp, this.#ePort, head, n);
      } catch {
        r = -1;
      }
      if (r === 0) {
        if (!this.#wantWritable) {
          this.#wantWritable = true;
          b.wantWritable(true);
        }
        break;
      }
      const done = r > 0 ? Math.min(r, n) : 1;
      if (r < 0) c[TX_ERRORS]++;
      for (let i = head; i < head + done; i++) {
        if (r > 0) {
          c[TX_PKTS]++;
          c[TX_BYTES] += this.#eSize[i] - VXLAN_HLEN;
        }
        const cell = this.#eCell[i];
        if (--this.#refs[cell] === 0) this.#free[this.#nFree++] = cell;
      }
      this.#eHead = head + done === cap ? 0 : head + done;
      this.#eCount -= done;
    }
    if (this.#eCount === 0 && this.#wantWritable) {
      this.#wantWritable = false;
      b.wantWritable(false);
    }
    // A txsync that stopped for want of cells resumes, but not from inside this flush (a
    // txsync calls it): once, from the event loop.
    if (this.#stalled && this.#nFree > freeBefore && !this.#resumeQueued) {
      this.#resumeQueued = true;
      setImmediate(this.#resumeFn);
    }
  }

  /** The batch socket has room again: the queue goes on, and a stalled txsync resumes. */
  onWritable(): void {
    if (this.#batch !== null) this.#flushBatch(this.#batch);
  }

  /** Hands every queued frame to the socket, in order. */
  #flush(): void {
    if (this.#batch !== null) {
      this.#flushBatch(this.#batch);
      return;
    }
    const n = this.#nPend;
    if (n === 0) return;
    this.#nPend = 0;
    const refs = this.#refs;
    const nStatic = this.nStatic;
    for (let q = 0; q < n; q++) {
      const cell = this.#pendCell[q];
      const size = this.#pendSize[q];
      const dst = this.#pendDst[q];
      const base = cell * CELL;
      if (dst !== FDB_NONE) this.#send(cell, base, size, dst);
      else for (let r = 0; r < nStatic; r++) this.#send(cell, base, size, r);
      // Not `#sent`: a stalled txsync resumes on a completion, never inside a send.
      if (--refs[cell] === 0) this.#free[this.#nFree++] = cell;
    }
    // Cells freed here have no completion to come: resume a stalled txsync from the event
    // loop (once), never from inside this loop or the txsync that called it.
    if (this.#stalled && this.#nFree > 0 && !this.#resumeQueued) {
      this.#resumeQueued = true;
      setImmediate(this.#resumeFn);
    }
  }

  #send(cell: number, base: number, size: number, remote: number): void {
    const r = this.remotes[remote];
    const c = this.counters.f64;
    this.#refs[cell]++;
    c[TX_PKTS]++;
    c[TX_BYTES] += size - VXLAN_HLEN;
    try {
      const link = remote < this.nStatic ? this.#links[remote] : null;
      if (link !== null) link.send(this.#pool, base, size, this.#done[cell]);
      else if (this.#sender !== null)
        this.#sender.send(this.#pool, base, size, r.port, r.address, this.#done[cell]);
    } catch {
      // A closed socket throws synchronously: the frame is lost, never the caller.
      this.#refs[cell]--;
      c[TX_PKTS]--;
      c[TX_BYTES] -= size - VXLAN_HLEN;
      c[TX_ERRORS]++;
    }
  }

  #sent(cell: number, err: Error | null): void {
    if (err !== null && err !== undefined) this.counters.f64[TX_ERRORS]++;
    if (--this.#refs[cell] !== 0) return;
    this.#free[this.#nFree++] = cell;
    if (this.#stalled) {
      this.#stalled = false;
      this.onTxRoom?.();
    }
  }

  protected override rxSynced(): void {
    this.#rxClockStale = true;
  }

  /** The direct path's batch is over (the switch was flushed): the clock is read afresh. */
  rxTurn(): void {
    this.#rxClockStale = true;
  }

  /**
   * A datagram arrived from `address` (the socket's 'message'): checked, counted, and its
   * inner frame put on the RX ring, or dropped and counted. Never throws.
   */
  receive(msg: Buffer, address: string): void {
    const c = this.counters.f64;
    const why = classifyDatagram(msg, this.vni, this.#maxFrame);
    if (why !== DECAP_OK) {
      this.#countBad(why);
      return;
    }
    const len = msg.length - VXLAN_HLEN;
    const direct = this.rxDirect;
    if (direct === null) {
      const r = this.rxFill(msg, VXLAN_HLEN, len);
      if (r !== RX_FILLED) {
        if (r === RX_FULL) c[RX_MISSED]++;
        else c[RX_DROPPED]++;
        return;
      }
    }
    c[RX_PKTS]++;
    c[RX_BYTES] += len;
    const src = VXLAN_HLEN + 6;
    if ((msg[VXLAN_HLEN] & 1) !== 0) c[MULTICAST]++;
    if ((msg[src] & 1) === 0) {
      const remote = this.#remoteOf(address);
      if (remote !== FDB_NONE) {
        if (this.#rxClockStale) {
          this.#rxClockStale = false;
          this.#rxNow = this.#now();
        }
        this.fdb.learn(msg.readUInt16BE(src), msg.readUInt32BE(src + 2), remote, this.#rxNow);
      }
    }
    if (direct !== null) {
      // classifyDatagram held len to maxFrame, which the MTU's cap keeps within the stage.
      const stage = this.#stage;
      if (len <= RX_LOOP_MAX) copyIn(stage.u8, stage.u32, 0, msg, VXLAN_HLEN, len);
      else msg.copy(stage.u8, 0, VXLAN_HLEN, VXLAN_HLEN + len);
      const f = this.#stageFrags;
      f.clear();
      f.push(stage, 0, len);
      // The switch runs inside the socket's 'message' listener: whatever a port throws (a
      // bug) is counted here, not left to end Domain-0's process for a datagram.
      try {
        direct(f);
      } catch {
        c[RX_ERRORS]++;
      }
      this.onRx?.();
    }
  }

  /**
   * `n` datagrams a batch receive put in `mem` (native-udp.ts): datagram i at
   * `i * slotBytes`, its length, sender address and port in `meta[3i..3i+2]` (length -1: cut
   * to the slot, so longer than any frame taken). Each is checked and counted as `receive`
   * does; on a switch the good ones go in as one batch, by reference to `mem`, which the
   * switch copies from before returning. Never throws.
   */
  receiveBatch(mem: Mem, buf: Buffer, meta: Int32Array, n: number, slotBytes: number): void {
    const c = this.counters.f64;
    const direct = this.rxDirectBatch;
    const frames = this.#rxFrames;
    const u8 = mem.u8;
    const max = Math.min(n, (meta.length / 3) | 0, (mem.byteLength / slotBytes) | 0);
    while (direct !== null && frames.length < max) frames.push(new ValeFrags(mem));
    let k = 0;
    let lastIp = 0;
    let lastHi = -1;
    let lastLo = 0;
    for (let i = 0; i < max; i++) {
      const len = meta[3 * i];
      const off = i * slotBytes;
      // -1: the kernel cut it to the slot. Longer than the slot cannot come from the kernel;
      // refused all the same, so no frame reaches past its slot.
      if (len < 0 || len > slotBytes) {
        c[RX_LENGTH]++;
        c[RX_ERRORS]++;
        continue;
      }
      const why = classifyAt(u8, off, len, this.vni, this.#maxFrame);
      if (why !== DECAP_OK) {
        this.#countBad(why);
        continue;
      }
      const at = off + VXLAN_HLEN;
      const inner = len - VXLAN_HLEN;
      if (direct === null) {
        const r = this.rxFill(buf, at, inner);
        if (r !== RX_FILLED) {
          if (r === RX_FULL) c[RX_MISSED]++;
          else c[RX_DROPPED]++;
          continue;
        }
      } else {
        const f = frames[k++];
        f.clear();
        f.push(mem, at, inner);
      }
      c[RX_PKTS]++;
      c[RX_BYTES] += inner;
      if ((u8[at] & 1) !== 0) c[MULTICAST]++;
      const src = at + 6;
      if ((u8[src] & 1) !== 0) continue;
      const ip = meta[3 * i + 1];
      const hi = (u8[src] << 8) | u8[src + 1];
      const lo = ((u8[src + 2] << 24) | (u8[src + 3] << 16) | (u8[src + 4] << 8) | u8[src + 5]) >>> 0;
      // A burst from one MAC behind one peer writes its bucket once.
      if (hi === lastHi && lo === lastLo && ip === lastIp) continue;
      const remote = this.#remoteOfIp(ip);
      if (remote === FDB_NONE) continue;
      if (this.#rxClockStale) {
        this.#rxClockStale = false;
        this.#rxNow = this.#now();
      }
      this.fdb.learn(hi, lo, remote, this.#rxNow);
      lastHi = hi;
      lastLo = lo;
      lastIp = ip;
    }
    if (direct !== null && k > 0) {
      // The switch runs inside the socket's readiness callback: whatever a port throws (a
      // bug) is counted here, not left to end Domain-0's process.
      try {
        direct(frames, k);
      } catch {
        c[RX_ERRORS]++;
      }
      this.onRx?.();
    }
  }

  #countBad(why: number): void {
    const c = this.counters.f64;
    if (why === DECAP_SHORT || why === DECAP_RUNT || why === DECAP_OVERSIZE) {
      c[RX_LENGTH]++;
      c[RX_ERRORS]++;
    } else if (why === DECAP_FLAGS) {
      c[RX_FRAME]++;
      c[RX_ERRORS]++;
    } else if (why === DECAP_VNI) c[RX_DROPPED]++;
  }

  /** The remote index for a batch-received datagram's sender, added (with our port) when new. */
  #remoteOfIp(ip: number): number {
    const i = this.#byIp.get(ip);
    if (i !== undefined) return i;
    if (this.remotes.length - this.nStatic >= VXLAN_MAX_LEARNT_REMOTES) return FDB_NONE;
    this.remotes.push({ address: intToIpv4(ip), port: this.#learntPort });
    this.#remoteIp.push(ip);
    this.#byIp.set(ip, this.remotes.length - 1);
    this.#byAddress.set(intToIpv4(ip), this.remotes.length - 1);
    return this.remotes.length - 1;
  }

  /** The remote index for a datagram's sender, added (with our port) when new. */
  #remoteOf(address: string): number {
    if (address === this.#lastAddress) return this.#lastRemote;
    const i = this.#byAddress.get(address);
    if (i !== undefined) {
      this.#lastAddress = address;
      this.#lastRemote = i;
      return i;
    }
    if (this.remotes.length - this.nStatic >= VXLAN_MAX_LEARNT_REMOTES) return FDB_NONE;
    this.remotes.push({ address, port: this.#learntPort });
    this.#remoteIp.push(ipv4ToInt(address));
    this.#byAddress.set(address, this.remotes.length - 1);
    this.#byIp.set(ipv4ToInt(address), this.remotes.length - 1);
    return this.remotes.length - 1;
  }
}
