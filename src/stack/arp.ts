/**
 * ARP for IPv4 over Ethernet (RFC 826) and the neighbour cache, with Linux's neighbour
 * states (NUD_* in the kernel), so that refreshing an entry never holds traffic up:
 *
 * - INCOMPLETE: asked by broadcast, `retries` times `retryMs` apart; frames wait.
 * - REACHABLE: confirmed by a unicast reply to us; used for `reachableMs`, then STALE.
 * - STALE: unconfirmed for a while, or learnt from a request or a broadcast (which says
 *   nothing about the path back); still used, and the first frame sent makes it DELAY.
 * - DELAY: still used; after `delayMs` without confirmation, PROBE.
 * - PROBE: still used; `unicastProbes` requests to the cached MAC, `retryMs` apart. A
 *   unicast reply makes it REACHABLE; none makes it FAILED.
 * - FAILED: resolution failed; the frames that waited were dropped (txDropNoArp). The next
 *   frame to that host asks again, from INCOMPLETE.
 *
 * So a flow between two live hosts never waits for ARP after the first answer: the entry
 * ages, keeps being used, and is confirmed by a unicast probe while frames go on.
 * Frames to an INCOMPLETE entry wait in arp-queue.ts, by bytes: `queueBytes` per neighbour
 * (64 KiB, unres_qlen_bytes when Linux introduced it) in a pool shared by all; beyond that
 * the new frame is refused and counted (txDropArpQueueFull), never lost silently.
 * Reception follows RFC 826's merge rule (a sender already in the table is updated; a
 * sender asking for us is added) with Linux's two guards: a different MAC for a known
 * address is believed only `locktimeMs` after the last change, unless the packet is a
 * gratuitous ARP; and only a unicast reply confirms reachability.
 * Not done, by name: the randomised reachable time, the proxy, garbage collection of old
 * STALE entries (they are reused when the table is full), ARP filtering by interface.
 *
 * The cache is a fixed table of typed arrays scanned linearly: a guest talks to a handful
 * of hosts, and nothing here allocates per packet.
 */
import type { Clock } from "../base/clock.js";
import type { Mem } from "../wire/mem.js";
import {
  ARP_LEN,
  ARP_SHA,
  ARP_SPA,
  ARP_THA,
  ARP_TPA,
  ARPOP_REPLY,
  ARPOP_REQUEST,
  arpIsEthIpv4,
  arpOper,
  setArpEthIpv4,
  setArpOper,
} from "../wire/net/arp.js";
import { ETH_DST, ETH_HLEN, ETH_P_ARP } from "../wire/net/ethernet.js";
import { ArpQueue, type ParkedSink } from "./arp-queue.js";
import { SC } from "./counters.js";
import { macEquals, putEthSrcType, putMac } from "./ethernet.js";
import { SEND_ENOBUFS, SEND_OK } from "./send-status.js";
import { type FrameSlots, SLOT_TX } from "./slots.js";
import type { TxFrame } from "./tx-frame.js";
import type { TxQueue } from "./txqueue.js";

const FREE = 0;
const INCOMPLETE = 1;
const REACHABLE = 2;
const STALE = 3;
const DELAY = 4;
const PROBE = 5;
const FAILED = 6;

/** The state names, by state number. */
const STATE_NAMES = ["free", "incomplete", "reachable", "stale", "delay", "probe", "failed"] as const;

/** An entry's state, Linux's NUD_* as `ip neigh` names them. */
export type NeighbourState = "incomplete" | "reachable" | "stale" | "delay" | "probe" | "failed";

/** True in the states whose MAC frames are sent to. */
function usable(s: number): boolean {
  return s >= REACHABLE && s <= PROBE;
}

export interface ArpOptions {
  /** Entries in the cache. */
  cacheSize: number;
  /** How long a confirmation is believed before the entry goes STALE (Linux base_reachable_time). */
  reachableMs: number;
  /** From the first frame sent on a STALE entry to the first unicast probe (delay_first_probe_time). */
  delayMs: number;
  /** Between requests for one address (retrans_time). */
  retryMs: number;
  /** Broadcast requests for an unresolved address before it FAILS (mcast_solicit). */
  retries: number;
  /** Unicast requests to a cached MAC before it FAILS (ucast_solicit). */
  unicastProbes: number;
  /** A different MAC for a known address is ignored this long after the last change (locktime). */
  locktimeMs: number;
  /** Bytes of frames that may wait for one address (unres_qlen_bytes). */
  queueBytes: number;
}

/** One cache entry as the control plane sees it. */
export interface ArpEntry {
  ip: number;
  /** The cached MAC; undefined while INCOMPLETE or FAILED. */
  mac: number | undefined;
  state: NeighbourState;
  /** When the entry's timer is next due (Infinity when it has none: STALE, FAILED). */
  dueMs: number;
  /** Frames waiting for resolution. */
  pending: number;
}

/** True for multicast, class E and broadcast, which no host may claim as its address. */
export function isMartian(addr: number): boolean {
  return addr >>> 28 >= 14;
}

export class Arp {
  readonly #mem: Mem;
  readonly #slots: FrameSlots;
  readonly #txq: TxQueue;
  readonly #c: Float64Array;
  readonly #clock: Clock;
  readonly #mac: Uint8Array;
  readonly #ip: number;
  readonly #o: ArpOptions;
  // The cache, one index per entry.
  readonly #ipOf: Int32Array;
  readonly #macOf: Uint8Array;
  readonly #state: Uint8Array;
  readonly #due: Float64Array;
  /** Requests sent in the current INCOMPLETE or PROBE phase. */
  readonly #probes: Uint8Array;
  /** When the MAC was last set, for locktime; when last used, for picking a victim. */
  readonly #changed: Float64Array;
  readonly #used: Float64Array;
  readonly #queue: ArpQueue;
  /** The frame IPv4 built for `output`. */
  readonly #tx: TxFrame;
  /** Made once: sends a parked frame to the entry in #flushing. */
  readonly #sendParked: ParkedSink;
  #flushing = -1;

  /** `pendingBytes`: the pool all neighbours' waiting frames share. */
  constructor(
    mem: Mem,
    slots: FrameSlots,
    txq: TxQueue,
    tx: TxFrame,
    counters: Float64Array,
    clock: Clock,
    mac: Uint8Array,
    ip: number,
    opts: ArpOptions,
    pendingBytes: number,
  ) {
    this.#mem = mem;
    this.#slots = slots;
    this.#txq = txq;
    this.#tx = tx;
    this.#c = counters;
    this.#clock = clock;
    this.#mac = mac;
    this.#ip = ip | 0;
    this.#o = opts;
    const n = opts.cacheSize;
    this.#ipOf = new Int32Array(n);
    this.#macOf = new Uint8Array(n * 6);
    this.#state = new Uint8Array(n);
    this.#due = new Float64Array(n);
    this.#probes = new Uint8Array(n);
    this.#changed = new Float64Array(n);
    this.#used = new Float64Array(n);
    this.#queue = new ArpQueue(pendingBytes, n, opts.queueBytes);
    this.#sendParked = (pool, at, len, flags) => {
      const u8 = this.#mem.u8;
      const tx = this.#slots.off(SLOT_TX);
      for (let i = 0; i < len; i++) u8[tx + i] = pool[at + i];
      putMac(u8, tx + ETH_DST, this.#macOf, this.#flushing * 6);
      this.#txq.send(SLOT_TX, len, flags);
    };
  }

  /** The ARP packet at `at`, `len` bytes to the frame's end (the Ethernet header before it). */
  receive(at: number, len: number, _flags: number): void {
    const m = this.#mem;
    const c = this.#c;
    if (len < ARP_LEN) {
      c[SC.rxDropMalformed]++;
      return;
    }
    const oper = arpOper(m, at);
    if (!arpIsEthIpv4(m, at) || (oper !== ARPOP_REQUEST && oper !== ARPOP_REPLY)) {
      c[SC.rxDropUnknownProto]++;
      return;
    }
    const spa = m.dv.getInt32(at + ARP_SPA);
    // A group address as sender is a forgery or a broken host: learn nothing from it.
    if ((m.u8[at + ARP_SHA] & 1) !== 0 || isMartian(spa)) {
      c[SC.rxDropMalformed]++;
      return;
    }
    c[oper === ARPOP_REQUEST ? SC.arpRequestsReceived : SC.arpRepliesReceived]++;
    if (spa === this.#ip) {
      if (!macEquals(m.u8, at + ARP_SHA, this.#mac)) c[SC.arpConflicts]++;
      return;
    }
    const tpa = m.dv.getInt32(at + ARP_TPA);
    const forUs = tpa === this.#ip;
    if (spa !== 0) {
      // Only a reply sent to our MAC proves the path both ways; EthernetIn let through
      // nothing but our MAC and broadcast.
      const confirms = oper === ARPOP_REPLY && (m.u8[at - ETH_HLEN + ETH_DST] & 1) === 0;
      const e = this.#find(spa);
      if (e >= 0) this.#update(e, at + ARP_SHA, confirms, tpa === spa);
      else if (forUs && oper === ARPOP_REQUEST) {
        // Linux's rule: a host asking for us is learnt (STALE); an unasked reply is not.
        const n = this.#alloc(spa);
        if (n >= 0) this.#update(n, at + ARP_SHA, false, false);
      }
    }
    if (forUs && oper === ARPOP_REQUEST) this.#reply(at);
  }

  /**
   * Sends the `len`-byte frame in the transmit slot to `daddr` (int32), filling in the
   * destination MAC from the cache, or parks it and asks. `daddr` is unicast: broadcasts
   * do not come here.
   */
  output(daddr: number, len: number, flags: number): number {
    const tx = this.#tx;
    const at = tx.at;
    const now = this.#clock.nowMs();
    let e = this.#find(daddr);
    if (e >= 0 && usable(this.#state[e])) {
      if (this.#state[e] === STALE) {
        this.#state[e] = DELAY;
        this.#due[e] = now + this.#o.delayMs;
      }
      this.#used[e] = now;
      putMac(tx.mem.u8, at + ETH_DST, this.#macOf, e * 6);
      return tx.send(len, flags) ? SEND_OK : SEND_ENOBUFS;
    }
    if (e < 0) e = this.#alloc(daddr);
    if (e < 0) {
      tx.abort();
      this.#c[SC.txDropArpQueueFull]++;
      return SEND_ENOBUFS;
    }
    this.#used[e] = now;
    // Parked first: the request is built in the transmit slot, which may hold the frame.
    const parked = this.#queue.park(e, tx.mem.u8, at, len, flags);
    tx.abort();
    if (!parked) this.#c[SC.txDropArpQueueFull]++;
    this.#resolve(e, now);
    return parked ? SEND_OK : SEND_ENOBUFS;
  }

  /**
   * Starts resolving `ip` (int32) as a frame to it would, without a frame; returns its
   * state after that, or null when the table has no entry to spare.
   */
  solicit(ip: number): NeighbourState | null {
    let e = this.#find(ip | 0);
    if (e < 0) e = this.#alloc(ip | 0);
    if (e < 0) return null;
    if (!usable(this.#state[e])) this.#resolve(e, this.#clock.nowMs());
    return STATE_NAMES[this.#state[e]] as NeighbourState;
  }

  /** A gratuitous ARP request for our address, as netfront sends when its vif connects. */
  announce(): void {
    this.#request(this.#ip, -1);
  }

  /** Runs the timers that are due: ageing, probes, retries, failure. */
  tick(nowMs: number): void {
    const o = this.#o;
    for (let e = 0; e < this.#state.length; e++) {
      const s = this.#state[e];
      if (s === FREE || s === STALE || s === FAILED || this.#due[e] > nowMs) continue;
      if (s === REACHABLE) {
        this.#state[e] = STALE;
        this.#due[e] = Infinity;
      } else if (s === DELAY) {
        this.#state[e] = PROBE;
        this.#probes[e] = 1;
        this.#due[e] = nowMs + o.retryMs;
        this.#request(this.#ipOf[e], e);
      } else if (this.#probes[e] >= (s === PROBE ? o.unicastProbes : o.retries)) {
        this.#fail(e);
      } else {
        this.#probes[e]++;
        this.#due[e] = nowMs + o.retryMs;
        this.#request(this.#ipOf[e], s === PROBE ? e : -1);
      }
    }
  }

  /** Forgets every entry; waiting frames are counted under `reason`. */
  clear(reason: number): void {
    for (let e = 0; e < this.#state.length; e++) {
      this.#c[reason] += this.#queue.drop(e);
      this.#state[e] = FREE;
    }
  }

  /** The MAC frames to `ip` (u32) go to now, or undefined when there is none. */
  lookup(ip: number): number | undefined {
    const e = this.#find(ip | 0);
    return e >= 0 && usable(this.#state[e]) ? this.#macNumber(e) : undefined;
  }

  /** The cache, for status displays and tests. */
  entries(): ArpEntry[] {
    const out: ArpEntry[] = [];
    for (let e = 0; e < this.#state.length; e++) {
      const s = this.#state[e];
      if (s === FREE) continue;
      out.push({
        ip: this.#ipOf[e] >>> 0,
        mac: usable(s) ? this.#macNumber(e) : undefined,
        state: STATE_NAMES[s] as NeighbourState,
        dueMs: s === STALE || s === FAILED ? Infinity : this.#due[e],
        pending: this.#queue.framesOf(e),
      });
    }
    return out;
  }

  /** Frames waiting for resolution, all destinations. */
  get pending(): number {
    return this.#queue.frames;
  }

  #find(ip: number): number {
    for (let e = 0; e < this.#state.length; e++) {
      if (this.#state[e] !== FREE && this.#ipOf[e] === ip) return e;
    }
    return -1;
  }

  /**
   * A free entry for `ip`, else the one least worth keeping: a FAILED one, then the STALE
   * one unused longest, then the REACHABLE one closest to ageing. Entries being resolved
   * or probed are never taken; -1 when all are.
   */
  #alloc(ip: number): number {
    let victim = -1;
    let rank = 0;
    for (let e = 0; e < this.#state.length; e++) {
      const s = this.#state[e];
      const r = s === FREE ? 4 : s === FAILED ? 3 : s === STALE ? 2 : s === REACHABLE ? 1 : 0;
      if (r === 0) continue;
      const older =
        r === rank &&
        (s === STALE
          ? this.#used[e] < this.#used[victim]
          : s === REACHABLE && this.#due[e] < this.#due[victim]);
      if (r > rank || older) {
        victim = e;
        rank = r;
        if (r === 4) break;
      }
    }
    if (victim < 0) return -1;
    this.#c[SC.txDropNoArp] += this.#queue.drop(victim);
    this.#ipOf[victim] = ip;
    this.#state[victim] = FAILED;
    this.#probes[victim] = 0;
    this.#changed[victim] = -Infinity;
    this.#used[victim] = this.#clock.nowMs();
    return victim;
  }

  /**
   * What an ARP packet from the entry's host teaches: its MAC (subject to locktime unless
   * gratuitous), and REACHABLE if `confirms`, else STALE for a new or changed MAC.
   */
  #update(e: number, shaAt: number, confirms: boolean, gratuitous: boolean): void {
    const u8 = this.#mem.u8;
    const now = this.#clock.nowMs();
    const s = this.#state[e];
    const known = usable(s);
    const same = known && macEquals(u8, shaAt, this.#macOf, e * 6);
    if (known && !same && !gratuitous && now - this.#changed[e] < this.#o.locktimeMs) return;
    if (!same) {
      for (let i = 0; i < 6; i++) this.#macOf[e * 6 + i] = u8[shaAt + i];
      this.#changed[e] = now;
    }
    if (confirms) {
      this.#state[e] = REACHABLE;
      this.#due[e] = now + this.#o.reachableMs;
    } else if (!same) {
      this.#state[e] = STALE;
      this.#due[e] = Infinity;
    }
    this.#flushing = e;
    this.#queue.take(e, this.#sendParked);
    this.#flushing = -1;
  }

  /** A new or FAILED entry starts over from INCOMPLETE, as Linux's does on the next frame. */
  #resolve(e: number, now: number): void {
    if (this.#state[e] === INCOMPLETE) return;
    this.#state[e] = INCOMPLETE;
    this.#probes[e] = 1;
    this.#due[e] = now + this.#o.retryMs;
    this.#request(this.#ipOf[e], -1);
  }

  #fail(e: number): void {
    this.#c[SC.txDropNoArp] += this.#queue.drop(e);
    this.#state[e] = FAILED;
    this.#due[e] = Infinity;
  }

  /**
   * A request for `tpa`: broadcast when `unicastTo` is -1, else to entry `unicastTo`'s
   * cached MAC (a PROBE); gratuitous when `tpa` is our own address.
   */
  #request(tpa: number, unicastTo: number): void {
    const m = this.#mem;
    const at = this.#slots.off(SLOT_TX);
    if (unicastTo < 0) for (let i = 0; i < 6; i++) m.u8[at + ETH_DST + i] = 0xff;
    else putMac(m.u8, at + ETH_DST, this.#macOf, unicastTo * 6);
    const a = this.#arpHeader(at, ARPOP_REQUEST);
    for (let i = 0; i < 6; i++) m.u8[a + ARP_THA + i] = 0;
    m.dv.setInt32(a + ARP_TPA, tpa);
    this.#c[SC.arpRequestsSent]++;
    this.#txq.send(SLOT_TX, ETH_HLEN + ARP_LEN, 0);
  }

  /** Answers the request at `reqAt` (in the receive slot) to its sender. */
  #reply(reqAt: number): void {
    const m = this.#mem;
    const at = this.#slots.off(SLOT_TX);
    putMac(m.u8, at + ETH_DST, m.u8, reqAt + ARP_SHA);
    const a = this.#arpHeader(at, ARPOP_REPLY);
    putMac(m.u8, a + ARP_THA, m.u8, reqAt + ARP_SHA);
    m.dv.setInt32(a + ARP_TPA, m.dv.getInt32(reqAt + ARP_SPA));
    this.#c[SC.arpRepliesSent]++;
    this.#txq.send(SLOT_TX, ETH_HLEN + ARP_LEN, 0);
  }

  /** Our Ethernet source and the ARP fields every packet we send shares; returns the ARP offset. */
  #arpHeader(at: number, oper: number): number {
    const m = this.#mem;
    putEthSrcType(m.u8, at, this.#mac, ETH_P_ARP);
    const a = at + ETH_HLEN;
    setArpEthIpv4(m, a);
    setArpOper(m, a, oper);
    putMac(m.u8, a + ARP_SHA, this.#mac);
    m.dv.setInt32(a + ARP_SPA, this.#ip);
    return a;
  }

  #macNumber(e: number): number {
    let v = 0;
    for (let i = 0; i < 6; i++) v = v * 256 + this.#macOf[e * 6 + i];
    return v;
  }
}
