/**
 * IPv4 for a host on one Ethernet segment (RFC 791, RFC 1122 section 3.2.1).
 *
 * In: the header must be whole and its checksum good (always verified: netif's checksum
 * flags speak for the L4 checksum only); total length inside the frame (padding after it
 * is ignored); options skipped, never interpreted; fragments dropped and counted (no
 * reassembly); TTL 0 dropped (RFC 1122 forbids dropping TTL 1 at a host); only our address,
 * 255.255.255.255, our subnet's broadcast and joined groups accepted; multicast, class E and broadcast
 * sources refused. Out: a 20-byte header, no options, DF clear (we never send more than
 * the MTU, so nothing needs fragmenting), our TTL, a fresh id, the checksum filled. Every
 * destination is on-link: there is no routing table and no gateway.
 */
import type { Mem } from "../wire/mem.js";
import { ETH_DST, ETH_HLEN, ETH_P_IP } from "../wire/net/ethernet.js";
import {
  IP_MF,
  IP_OFFSET,
  IPPROTO_ICMP,
  IPPROTO_UDP,
  IPV4_DADDR,
  IPV4_FRAG_OFF,
  IPV4_HLEN,
  IPV4_PROTOCOL,
  IPV4_SADDR,
  IPV4_TOT_LEN,
  IPV4_TTL,
  ipv4ChecksumValid,
  ipv4FillChecksum,
  setIpv4FragOff,
  setIpv4Id,
  setIpv4Ihl,
  setIpv4Protocol,
  setIpv4Tos,
  setIpv4TotLen,
  setIpv4Ttl,
} from "../wire/net/ipv4.js";
import { type Arp, isMartian } from "./arp.js";
import { SC } from "./counters.js";
import { putEthSrcType, putMac } from "./ethernet.js";
import { isMulticast, type McastGroups } from "./mcast-groups.js";
import { SEND_EINVAL, SEND_ENOBUFS, SEND_OK } from "./send-status.js";
import type { FrameSlots } from "./slots.js";
import type { TxFrame } from "./tx-frame.js";

export interface L4Receiver {
  /**
   * The `l4Len`-byte L4 message at `l4At` of the IPv4 packet at `ipAt`; `toUs` is false
   * when it was sent to a broadcast address.
   */
  receive(ipAt: number, l4At: number, l4Len: number, flags: number, toUs: boolean): void;
}

const DROP: L4Receiver = { receive() {} };

export class Ipv4 {
  readonly #mem: Mem;
  readonly #slots: FrameSlots;
  readonly #arp: Arp;
  readonly #tx: TxFrame;
  readonly #c: Float64Array;
  readonly #mac: Uint8Array;
  readonly #ip: number;
  /** Our subnet's broadcast address as int32, or -1 (limited broadcast) for a /31 or /32. */
  readonly #bcast: number;
  readonly #ttl: number;
  #id = 0;
  icmp: L4Receiver = DROP;
  udp: L4Receiver = DROP;
  /** Joined multicast groups (mcast-groups.ts); null: none accepted. */
  groups: McastGroups | null = null;

  constructor(
    mem: Mem,
    slots: FrameSlots,
    arp: Arp,
    tx: TxFrame,
    counters: Float64Array,
    mac: Uint8Array,
    ip: number,
    prefixLen: number,
    ttl: number,
  ) {
    this.#mem = mem;
    this.#slots = slots;
    this.#arp = arp;
    this.#tx = tx;
    this.#c = counters;
    this.#mac = mac;
    this.#ip = ip | 0;
    this.#bcast = prefixLen >= 31 ? -1 : ip | (0xffffffff >>> prefixLen) | 0;
    this.#ttl = ttl;
  }

  /**
   * Starts a packet with an `l4Len`-byte L4 message (at most l4Max): returns where the
   * sender writes the message in `txMem`. Ended by `output`/`outputTo` or `abort`.
   */
  beginL4(l4Len: number): number {
    this.#tx.begin(ETH_HLEN + IPV4_HLEN + l4Len);
    return this.#tx.at + ETH_HLEN + IPV4_HLEN;
  }

  /** The memory the packet begun by `beginL4` is built in (a lent device buffer or the stack's). */
  get txMem(): Mem {
    return this.#tx.mem;
  }

  /** Drops the packet begun by `beginL4`. */
  abort(): void {
    this.#tx.abort();
  }

  /** The largest L4 message one packet carries. */
  get l4Max(): number {
    return this.#slots.frameMax - ETH_HLEN - IPV4_HLEN;
  }

  /** The IPv4 packet at `at`, `len` bytes to the frame's end. */
  receive(at: number, len: number, flags: number): void {
    const m = this.#mem;
    const c = this.#c;
    const vi = len >= IPV4_HLEN ? m.u8[at] : 0;
    const hlen = (vi & 0x0f) << 2;
    const totLen = len >= IPV4_HLEN ? m.dv.getUint16(at + IPV4_TOT_LEN) : 0;
    if (vi >>> 4 !== 4 || hlen < IPV4_HLEN || hlen > len || totLen < hlen || totLen > len) {
      c[SC.rxDropMalformed]++;
      return;
    }
    if (!ipv4ChecksumValid(m, at)) {
      c[SC.rxDropBadChecksum]++;
      return;
    }
    if ((m.dv.getUint16(at + IPV4_FRAG_OFF) & (IP_MF | IP_OFFSET)) !== 0) {
      c[SC.rxDropFragment]++;
      return;
    }
    if (m.u8[at + IPV4_TTL] === 0) {
      c[SC.rxDropTtl]++;
      return;
    }
    const daddr = m.dv.getInt32(at + IPV4_DADDR);
    const toUs = daddr === this.#ip;
    if (!toUs && daddr !== -1 && daddr !== this.#bcast && !(this.groups?.has(daddr) ?? false)) {
      c[SC.rxDropNotForUs]++;
      return;
    }
    const saddr = m.dv.getInt32(at + IPV4_SADDR);
    if (isMartian(saddr) || saddr === this.#bcast || saddr === this.#ip) {
      c[SC.rxDropMalformed]++;
      return;
    }
    const protocol = m.u8[at + IPV4_PROTOCOL];
    if (protocol === IPPROTO_UDP) this.udp.receive(at, at + hlen, totLen - hlen, flags, toUs);
    else if (protocol === IPPROTO_ICMP) this.icmp.receive(at, at + hlen, totLen - hlen, flags, toUs);
    else c[SC.rxDropUnknownProto]++;
  }

  /**
   * Puts the IPv4 and Ethernet headers in front of the `l4Len`-byte message the caller
   * wrote where `beginL4` said and sends it to `daddr` (int32 or u32), through ARP unless broadcast.
   */
  output(daddr: number, protocol: number, l4Len: number, flags: number): number {
    daddr |= 0;
    const group = isMulticast(daddr);
    if (daddr === this.#ip || daddr === 0 || (isMartian(daddr) && daddr !== -1 && !group)) {
      this.#tx.abort();
      return SEND_EINVAL;
    }
    const at = this.#header(daddr, protocol, l4Len);
    const len = ETH_HLEN + IPV4_HLEN + l4Len;
    const u8 = this.#tx.mem.u8;
    if (group) {
      u8[at + ETH_DST] = 0x01;
      u8[at + ETH_DST + 1] = 0x00;
      u8[at + ETH_DST + 2] = 0x5e;
      u8[at + ETH_DST + 3] = (daddr >>> 16) & 0x7f;
      u8[at + ETH_DST + 4] = (daddr >>> 8) & 0xff;
      u8[at + ETH_DST + 5] = daddr & 0xff;
      return this.#tx.send(len, flags) ? SEND_OK : SEND_ENOBUFS;
    }
    if (daddr !== -1 && daddr !== this.#bcast) return this.#arp.output(daddr, len, flags);
    for (let i = 0; i < 6; i++) u8[at + ETH_DST + i] = 0xff;
    return this.#tx.send(len, flags) ? SEND_OK : SEND_ENOBUFS;
  }

  /**
   * As output, straight to the MAC at `macAt` in the stack's memory (the requester's
   * source MAC, for replies), without consulting ARP.
   */
  outputTo(daddr: number, macAt: number, protocol: number, l4Len: number, flags: number): number {
    const at = this.#header(daddr | 0, protocol, l4Len);
    putMac(this.#tx.mem.u8, at + ETH_DST, this.#mem.u8, macAt);
    return this.#tx.send(ETH_HLEN + IPV4_HLEN + l4Len, flags) ? SEND_OK : SEND_ENOBUFS;
  }

  /** Writes our Ethernet source and the IPv4 header in front of the message; returns the frame offset. */
  #header(daddr: number, protocol: number, l4Len: number): number {
    const m = this.#tx.mem;
    const at = this.#tx.at;
    putEthSrcType(m.u8, at, this.#mac, ETH_P_IP);
    const ip = at + ETH_HLEN;
    setIpv4Ihl(m, ip, 5);
    setIpv4Tos(m, ip, 0);
    setIpv4TotLen(m, ip, IPV4_HLEN + l4Len);
    this.#id = (this.#id + 1) & 0xffff;
    setIpv4Id(m, ip, this.#id);
    setIpv4FragOff(m, ip, 0);
    setIpv4Ttl(m, ip, this.#ttl);
    setIpv4Protocol(m, ip, protocol);
    m.dv.setInt32(ip + IPV4_SADDR, this.#ip);
    m.dv.setInt32(ip + IPV4_DADDR, daddr);
    ipv4FillChecksum(m, ip);
    return at;
  }
}
