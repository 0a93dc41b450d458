/**
 * ICMP for IPv4 (RFC 792): echo requests to our address are answered, echo replies go to
 * the ping client, every other type is counted and dropped (no errors are generated:
 * no port or protocol unreachable, no time exceeded). Echo requests to a broadcast
 * address are not answered, as Linux's icmp_echo_ignore_broadcasts=1 default does.
 *
 * The checksum is verified unless the frame came flagged RX_CSUM_BLANK or
 * RX_DATA_VALIDATED, and always filled on replies: Linux's netback completes blank
 * checksums only for TCP and UDP and drops a csum_blank frame of any other protocol.
 */
import type { Mem } from "../wire/mem.js";
import { ETH_HLEN, ETH_SRC } from "../wire/net/ethernet.js";
import {
  ICMP_ECHO,
  ICMP_ECHOREPLY,
  ICMP_HLEN,
  icmpChecksumValid,
  icmpFillChecksum,
  setIcmpCode,
  setIcmpType,
} from "../wire/net/icmp.js";
import { IPPROTO_ICMP, IPV4_SADDR } from "../wire/net/ipv4.js";
import { copyAcross } from "./copy.js";
import { SC } from "./counters.js";
import { RX_CSUM_BLANK, RX_DATA_VALIDATED } from "./device.js";
import type { Ipv4, L4Receiver } from "./ipv4.js";

export interface EchoReplySink {
  /** The echo reply at `l4At`, `l4Len` bytes, inside the IPv4 packet at `ipAt`. */
  onEchoReply(ipAt: number, l4At: number, l4Len: number): void;
}

export class Icmp implements L4Receiver {
  readonly #mem: Mem;
  readonly #ipv4: Ipv4;
  readonly #c: Float64Array;
  readonly #replies: EchoReplySink;

  constructor(mem: Mem, ipv4: Ipv4, counters: Float64Array, replies: EchoReplySink) {
    this.#mem = mem;
    this.#ipv4 = ipv4;
    this.#c = counters;
    this.#replies = replies;
  }

  receive(ipAt: number, l4At: number, l4Len: number, flags: number, toUs: boolean): void {
    const m = this.#mem;
    const c = this.#c;
    if (l4Len < ICMP_HLEN) {
      c[SC.rxDropMalformed]++;
      return;
    }
    if ((flags & (RX_CSUM_BLANK | RX_DATA_VALIDATED)) === 0 && !icmpChecksumValid(m, l4At, l4Len)) {
      c[SC.rxDropBadChecksum]++;
      return;
    }
    const type = m.u8[l4At];
    if (type === ICMP_ECHO) {
      if (!toUs) {
        c[SC.rxDropNotForUs]++;
        return;
      }
      c[SC.icmpEchoRequests]++;
      this.#echo(ipAt, l4At, l4Len);
    } else if (type === ICMP_ECHOREPLY) {
      c[SC.icmpEchoReplies]++;
      this.#replies.onEchoReply(ipAt, l4At, l4Len);
    } else {
      c[SC.rxDropUnknownProto]++;
    }
  }

  /** The request's identifier, sequence and data go back unchanged (RFC 792). */
  #echo(ipAt: number, l4At: number, l4Len: number): void {
    const m = this.#mem;
    const out = this.#ipv4.beginL4(l4Len);
    const o = this.#ipv4.txMem;
    copyAcross(o, out, m, l4At, l4Len);
    setIcmpType(o, out, ICMP_ECHOREPLY);
    setIcmpCode(o, out, 0);
    icmpFillChecksum(o, out, l4Len);
    const saddr = m.dv.getInt32(ipAt + IPV4_SADDR);
    this.#ipv4.outputTo(saddr, ipAt - ETH_HLEN + ETH_SRC, IPPROTO_ICMP, l4Len, 0);
  }
}
