/**
 * ARP for IPv4 over Ethernet (RFC 826), the neighbour cache and its waiting frames.
 *
 * The cache is a fixed table of typed arrays (addresses as int32, MACs as bytes), scanned
 * linearly: a guest talks to a handful of hosts, and the table allocates nothing.
 * An entry is INCOMPLETE while its request is outstanding and REACHABLE once answered;
 * a REACHABLE entry is forgotten `timeoutMs` after it was learnt (at the next tick), and
 * the next frame to that host asks again. An INCOMPLETE entry asks `retries` times,
 * `retryMs` apart, then gives up and drops its waiting frames (counted txDropNoArp).
 * Frames to an unresolved host wait in a shared pool of slots, at most `pendingPerDest`
 * per destination; beyond that the new frame is refused and counted, never lost silently.
 * Reception follows RFC 826's merge rule: a sender already in the table is updated; a
 * sender asking for us is added; requests for us are answered.
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
import { SC } from "./counters.js";
import { macEquals, putEthSrcType, putMac } from "./ethernet.js";
import { SEND_ENOBUFS, SEND_OK } from "./send-status.js";
import { type FrameSlots, SLOT_TX } from "./slots.js";
import type { TxQueue } from "./txqueue.js";

const FREE = 0;
const INCOMPLETE = 1;
const REACHABLE = 2;

export interface ArpOptions {
  /** Entries in the cache. */
  cacheSize: number;
  /** How long an answer is believed. */
  timeoutMs: number;
  /** Between requests for an unanswered address. */
  retryMs: number;
  /** Requests sent before giving up on an address. */
  retries: number;
  /** Frames that may wait for one address. */
  pendingPerDest: number;
}

/** One cache entry as the control plane sees it. */
export interface ArpEntry {
  ip: number;
  mac: number | undefined;
  state: "incomplete" | "reachable";
  /** When a reachable entry expires, or an incomplete one asks again. */
  dueMs: number;
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
  readonly #tries: Uint8Array;
  readonly #nPending: Uint16Array;
  // The pending pool: slot p of the pool is FrameSlots slot `#pendFirst + p`.
  readonly #pendFirst: number;
  readonly #pendOwner: Int16Array;
  readonly #pendLen: Int32Array;
  readonly #pendFlags: Int32Array;
  readonly #pendSeq: Float64Array;
  #seq = 0;

  constructor(
    mem: Mem,
    slots: FrameSlots,
    txq: TxQueue,
    counters: Float64Array,
    clock: Clock,
    mac: Uint8Array,
    ip: number,
    opts: ArpOptions,
    pendFirst: number,
    nPend: number,
  ) {
    this.#mem = mem;
    this.#slots = slots;
    this.#txq = txq;
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
    this.#tries = new Uint8Array(n);
    this.#nPending = new Uint16Array(n);
    this.#pendFirst = pendFirst;
    this.#pendOwner = new Int16Array(nPend).fill(-1);
    this.#pendLen = new Int32Array(nPend);
    this.#pendFlags = new Int32Array(nPend);
    this.#pendSeq = new Float64Array(nPend);
  }

  /** The ARP packet at `at`, `len` bytes to the frame's end. */
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
    const forUs = m.dv.getInt32(at + ARP_TPA) === this.#ip;
    if (spa !== 0) {
      let e = this.#find(spa);
      if (e < 0 && forUs) e = this.#alloc(spa);
      if (e >= 0) this.#learn(e, at + ARP_SHA);
    }
    if (forUs && oper === ARPOP_REQUEST) this.#reply(at);
  }

  /**
   * Sends the `len`-byte frame in the transmit slot to `daddr` (int32), filling in the
   * destination MAC from the cache, or parks it and asks. `daddr` is unicast: broadcasts
   * do not come here.
   */
  output(daddr: number, len: number, flags: number): number {
    const at = this.#slots.off(SLOT_TX);
    let e = this.#find(daddr);
    if (e >= 0 && this.#state[e] === REACHABLE) {
      putMac(this.#mem.u8, at + ETH_DST, this.#macOf, e * 6);
      return this.#txq.send(SLOT_TX, len, flags) ? SEND_OK : SEND_ENOBUFS;
    }
    const fresh = e < 0;
    if (fresh) e = this.#alloc(daddr);
    if (e < 0 || !this.#park(e, len, flags)) {
      this.#c[SC.txDropArpQueueFull]++;
      return SEND_ENOBUFS;
    }
    // Only now: the request is built in the transmit slot, which held the parked frame.
    if (fresh) {
      this.#tries[e] = 1;
      this.#due[e] = this.#clock.nowMs() + this.#o.retryMs;
      this.#request(daddr, false);
    }
    return SEND_OK;
  }

  /** A gratuitous ARP request for our address, as netfront sends when its vif connects. */
  announce(): void {
    this.#request(this.#ip, true);
  }

  /** Expires answers and re-asks or gives up on unanswered addresses that are due. */
  tick(nowMs: number): void {
    for (let e = 0; e < this.#state.length; e++) {
      const s = this.#state[e];
      if (s === FREE || this.#due[e] > nowMs) continue;
      if (s === REACHABLE) {
        this.#state[e] = FREE;
      } else if (this.#tries[e] >= this.#o.retries) {
        this.#dropPending(e, SC.txDropNoArp);
        this.#state[e] = FREE;
      } else {
        this.#tries[e]++;
        this.#due[e] = nowMs + this.#o.retryMs;
        this.#request(this.#ipOf[e], false);
      }
    }
  }

  /** Forgets every entry; waiting frames are counted under `reason`. */
  clear(reason: number): void {
    for (let e = 0; e < this.#state.length; e++) {
      if (this.#state[e] !== FREE) this.#dropPending(e, reason);
      this.#state[e] = FREE;
    }
  }

  /** The MAC cached for `ip` (u32), or undefined when unknown or still unanswered. */
  lookup(ip: number): number | undefined {
    const e = this.#find(ip | 0);
    return e >= 0 && this.#state[e] === REACHABLE ? this.#macNumber(e) : undefined;
  }

  /** The cache, for status displays and tests. */
  entries(): ArpEntry[] {
    const out: ArpEntry[] = [];
    for (let e = 0; e < this.#state.length; e++) {
      const s = this.#state[e];
      if (s === FREE) continue;
      out.push({
        ip: this.#ipOf[e] >>> 0,
        mac: s === REACHABLE ? this.#macNumber(e) : undefined,
        state: s === REACHABLE ? "reachable" : "incomplete",
        dueMs: this.#due[e],
      });
    }
    return out;
  }

  /** Frames waiting for resolution, all destinations. */
  get pending(): number {
    let n = 0;
    for (let e = 0; e < this.#nPending.length; e++) n += this.#nPending[e];
    return n;
  }

  #find(ip: number): number {
    for (let e = 0; e < this.#state.length; e++) {
      if (this.#state[e] !== FREE && this.#ipOf[e] === ip) return e;
    }
    return -1;
  }

  /** A free entry for `ip`, else the reachable one closest to expiry; -1 when all wait. */
  #alloc(ip: number): number {
    let victim = -1;
    for (let e = 0; e < this.#state.length; e++) {
      if (this.#state[e] === FREE) {
        victim = e;
        break;
      }
      if (this.#state[e] === REACHABLE && (victim < 0 || this.#due[e] < this.#due[victim])) victim = e;
    }
    if (victim < 0) return -1;
    this.#ipOf[victim] = ip;
    this.#state[victim] = INCOMPLETE;
    this.#tries[victim] = 0;
    this.#nPending[victim] = 0;
    return victim;
  }

  #learn(e: number, shaAt: number): void {
    const u8 = this.#mem.u8;
    for (let i = 0; i < 6; i++) this.#macOf[e * 6 + i] = u8[shaAt + i];
    this.#state[e] = REACHABLE;
    this.#due[e] = this.#clock.nowMs() + this.#o.timeoutMs;
    this.#tries[e] = 0;
    this.#sendPending(e);
  }

  #park(e: number, len: number, flags: number): boolean {
    if (this.#nPending[e] >= this.#o.pendingPerDest) return false;
    const p = this.#pendOwner.indexOf(-1);
    if (p < 0) return false;
    this.#slots.copy(this.#pendFirst + p, SLOT_TX, len);
    this.#pendOwner[p] = e;
    this.#pendLen[p] = len;
    this.#pendFlags[p] = flags;
    this.#pendSeq[p] = this.#seq++;
    this.#nPending[e]++;
    return true;
  }

  /** Sends `e`'s waiting frames, oldest first, now that its MAC is known. */
  #sendPending(e: number): void {
    const u8 = this.#mem.u8;
    while (this.#nPending[e] > 0) {
      let p = -1;
      for (let q = 0; q < this.#pendOwner.length; q++) {
        if (this.#pendOwner[q] === e && (p < 0 || this.#pendSeq[q] < this.#pendSeq[p])) p = q;
      }
      if (p < 0) break;
      const slot = this.#pendFirst + p;
      putMac(u8, this.#slots.off(slot) + ETH_DST, this.#macOf, e * 6);
      this.#pendOwner[p] = -1;
      this.#nPending[e]--;
      this.#txq.send(slot, this.#pendLen[p], this.#pendFlags[p]);
    }
  }

  #dropPending(e: number, reason: number): void {
    for (let p = 0; p < this.#pendOwner.length; p++) {
      if (this.#pendOwner[p] !== e) continue;
      this.#pendOwner[p] = -1;
      this.#c[reason]++;
    }
    this.#nPending[e] = 0;
  }

  /** A broadcast request for `tpa`; gratuitous when `tpa` is our own address. */
  #request(tpa: number, gratuitous: boolean): void {
    const m = this.#mem;
    const at = this.#slots.off(SLOT_TX);
    for (let i = 0; i < 6; i++) m.u8[at + ETH_DST + i] = 0xff;
    const a = this.#arpHeader(at, ARPOP_REQUEST);
    for (let i = 0; i < 6; i++) m.u8[a + ARP_THA + i] = 0;
    m.dv.setInt32(a + ARP_TPA, gratuitous ? this.#ip : tpa);
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
