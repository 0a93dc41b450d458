/**
 * The ping client: echo requests with our identifier and a 16-bit sequence, matched
 * against replies by source address, identifier, sequence, length and data; round-trip
 * time from the injected clock; unanswered requests fail at their deadline (checked at
 * each stack tick). A ping is control-plane work: it may allocate.
 */
import type { Clock } from "../base/clock.js";
import type { Mem } from "../wire/mem.js";
import {
  ICMP_ECHO,
  ICMP_ECHO_ID,
  ICMP_ECHO_SEQUENCE,
  ICMP_HLEN,
  icmpFillChecksum,
  setIcmpCode,
  setIcmpEchoId,
  setIcmpEchoSequence,
  setIcmpType,
} from "../wire/net/icmp.js";
import { IPPROTO_ICMP, IPV4_SADDR, IPV4_TTL } from "../wire/net/ipv4.js";
import { SC } from "./counters.js";
import type { EchoReplySink } from "./icmp.js";
import type { Ipv4 } from "./ipv4.js";
import { SEND_EINVAL, SEND_EMSGSIZE, SEND_ENETDOWN, SEND_OK } from "./send-status.js";

export interface PingOptions {
  /** Bytes after the ICMP header; default 56, as ping(8). */
  dataLen?: number;
  /** Default 1000. */
  timeoutMs?: number;
}

export type PingFailure = "timeout" | "down" | "busy" | "ENOBUFS" | "EMSGSIZE" | "EINVAL" | "ENETDOWN";

export type PingResult =
  | { ok: true; seq: number; rttMs: number; ttl: number; dataLen: number }
  | { ok: false; seq: number; reason: PingFailure };

interface Outstanding {
  daddr: number;
  seq: number;
  dataLen: number;
  sentMs: number;
  deadlineMs: number;
  resolve: (r: PingResult) => void;
}

/** At most this many pings wait for replies at once. */
export const PING_MAX_OUTSTANDING = 64;

function failure(status: number): PingFailure {
  if (status === SEND_EMSGSIZE) return "EMSGSIZE";
  if (status === SEND_EINVAL) return "EINVAL";
  if (status === SEND_ENETDOWN) return "ENETDOWN";
  return "ENOBUFS";
}

/** The data byte at index `i` of echo `seq`: varies with both, so a stale reply fails the match. */
function pattern(seq: number, i: number): number {
  return (seq + i) & 0xff;
}

export class Pinger implements EchoReplySink {
  readonly #mem: Mem;
  readonly #ipv4: Ipv4;
  readonly #clock: Clock;
  readonly #c: Float64Array;
  readonly #id: number;
  readonly #out: Outstanding[] = [];
  #seq = 0;

  constructor(mem: Mem, ipv4: Ipv4, clock: Clock, counters: Float64Array, id: number) {
    this.#mem = mem;
    this.#ipv4 = ipv4;
    this.#clock = clock;
    this.#c = counters;
    this.#id = id & 0xffff;
  }

  get outstanding(): number {
    return this.#out.length;
  }

  /** Sends one echo request to `daddr` (u32); settles on the reply, the deadline or a send failure. */
  ping(daddr: number, opts: PingOptions = {}): Promise<PingResult> {
    const dataLen = opts.dataLen ?? 56;
    const seq = this.#seq;
    this.#seq = (seq + 1) & 0xffff;
    if (this.#out.length >= PING_MAX_OUTSTANDING) return Promise.resolve({ ok: false, seq, reason: "busy" });
    if (!(Number.isInteger(dataLen) && dataLen >= 0 && ICMP_HLEN + dataLen <= this.#ipv4.l4Max)) {
      return Promise.resolve({ ok: false, seq, reason: "EMSGSIZE" });
    }
    const at = this.#ipv4.beginL4(ICMP_HLEN + dataLen);
    const m = this.#ipv4.txMem;
    setIcmpType(m, at, ICMP_ECHO);
    setIcmpCode(m, at, 0);
    setIcmpEchoId(m, at, this.#id);
    setIcmpEchoSequence(m, at, seq);
    for (let i = 0; i < dataLen; i++) m.u8[at + ICMP_HLEN + i] = pattern(seq, i);
    icmpFillChecksum(m, at, ICMP_HLEN + dataLen);
    // Registered before the send, so even a reply delivered during it would match.
    const now = this.#clock.nowMs();
    let settle!: (r: PingResult) => void;
    const done = new Promise<PingResult>((resolve) => {
      settle = resolve;
    });
    const o = { daddr: daddr >>> 0, seq, dataLen, sentMs: now, deadlineMs: now + (opts.timeoutMs ?? 1000) };
    this.#out.push({ ...o, resolve: settle });
    const status = this.#ipv4.output(daddr, IPPROTO_ICMP, ICMP_HLEN + dataLen, 0);
    if (status !== SEND_OK) {
      const k = this.#out.findIndex((x) => x.resolve === settle);
      if (k >= 0) this.#out.splice(k, 1);
      settle({ ok: false, seq, reason: failure(status) });
    }
    return done;
  }

  onEchoReply(ipAt: number, l4At: number, l4Len: number): void {
    const m = this.#mem;
    const k = this.#match(ipAt, l4At, l4Len);
    if (k < 0) {
      this.#c[SC.icmpEchoRepliesUnmatched]++;
      return;
    }
    const o = this.#out[k];
    this.#out.splice(k, 1);
    const rttMs = this.#clock.nowMs() - o.sentMs;
    o.resolve({ ok: true, seq: o.seq, rttMs, ttl: m.u8[ipAt + IPV4_TTL], dataLen: o.dataLen });
  }

  /** Fails every ping whose deadline has passed. */
  tick(nowMs: number): void {
    for (let k = 0; k < this.#out.length; ) {
      const o = this.#out[k];
      if (o.deadlineMs > nowMs) {
        k++;
        continue;
      }
      this.#out.splice(k, 1);
      this.#c[SC.pingTimeouts]++;
      o.resolve({ ok: false, seq: o.seq, reason: "timeout" });
    }
  }

  /** Fails every outstanding ping with `reason`. */
  cancelAll(reason: PingFailure): void {
    const out = this.#out.splice(0);
    for (const o of out) o.resolve({ ok: false, seq: o.seq, reason });
  }

  #match(ipAt: number, l4At: number, l4Len: number): number {
    const m = this.#mem;
    if (m.dv.getUint16(l4At + ICMP_ECHO_ID) !== this.#id) return -1;
    const seq = m.dv.getUint16(l4At + ICMP_ECHO_SEQUENCE);
    const saddr = m.dv.getUint32(ipAt + IPV4_SADDR);
    const k = this.#out.findIndex((o) => o.seq === seq && o.daddr === saddr);
    if (k < 0 || l4Len !== ICMP_HLEN + this.#out[k].dataLen) return -1;
    for (let i = 0; i < this.#out[k].dataLen; i++) {
      if (m.u8[l4At + ICMP_HLEN + i] !== pattern(seq, i)) return -1;
    }
    return k;
  }
}
