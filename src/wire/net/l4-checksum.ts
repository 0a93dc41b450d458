/**
 * Completing a frame's L4 checksum in software, for a receiver that did not negotiate
 * checksum offload (Linux's skb_checksum_help on the way to a vif without NETIF_F_*_CSUM:
 * netback RX) or takes no offloads at all (a VALE port without them: vale/soft-offload.ts).
 * The frame must be Ethernet II, then IPv4 or IPv6 without extension headers, then TCP or
 * UDP. The checksum is computed from scratch over the pseudo-header and the L4 bytes the
 * IP length covers (the sender's partial sum in the field is ignored), so it is right
 * whatever the sender wrote. Works on a private linear copy: every byte is read where
 * it will be delivered from. Nothing is allocated.
 */
import { onesFold, onesSum } from "./checksum.js";
import { ETH_HLEN, ETH_P_IP, ETH_P_IPV6, ETH_TYPE } from "./ethernet.js";
import {
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV4_DADDR,
  IPV4_HLEN,
  IPV4_PROTOCOL,
  IPV4_SADDR,
  IPV4_TOT_LEN,
  IPV4_VERSION_IHL,
} from "./ipv4.js";
import { IPV6_HLEN, IPV6_NEXTHDR, IPV6_PAYLOAD_LEN, ipv6PseudoHeaderSumAt } from "./ipv6.js";
import { TCP_CHECK, TCP_HLEN } from "./tcp.js";
import { UDP_CHECK, UDP_HLEN } from "./udp.js";

/** The frame's EtherType (0 when shorter than an Ethernet header). */
export function etherType(b: Uint8Array, off: number, len: number): number {
  return len < ETH_HLEN ? 0 : (b[off + ETH_TYPE] << 8) | b[off + ETH_TYPE + 1];
}

/**
 * Fills the TCP or UDP checksum of the `len`-byte frame at `b[off]`; false (nothing
 * written) when the frame is not one this handles.
 */
export function fillL4Checksum(b: Uint8Array, off: number, len: number): boolean {
  const type = etherType(b, off, len);
  const ip = off + ETH_HLEN;
  let l4: number;
  let l4Len: number;
  let proto: number;
  let sum: number;
  if (type === ETH_P_IP) {
    if (len < ETH_HLEN + IPV4_HLEN) return false;
    const vihl = b[ip + IPV4_VERSION_IHL];
    const ihl = (vihl & 0x0f) << 2;
    const tot = (b[ip + IPV4_TOT_LEN] << 8) | b[ip + IPV4_TOT_LEN + 1];
    if (vihl >>> 4 !== 4 || ihl < IPV4_HLEN || tot < ihl || ETH_HLEN + tot > len) return false;
    proto = b[ip + IPV4_PROTOCOL];
    l4 = ip + ihl;
    l4Len = tot - ihl;
    sum = onesSum(b, ip + IPV4_SADDR, ip + IPV4_DADDR + 4, onesFold(proto + l4Len));
  } else if (type === ETH_P_IPV6) {
    if (len < ETH_HLEN + IPV6_HLEN) return false;
    const plen = (b[ip + IPV6_PAYLOAD_LEN] << 8) | b[ip + IPV6_PAYLOAD_LEN + 1];
    if (b[ip] >>> 4 !== 6 || ETH_HLEN + IPV6_HLEN + plen > len) return false;
    proto = b[ip + IPV6_NEXTHDR];
    l4 = ip + IPV6_HLEN;
    l4Len = plen;
    sum = ipv6PseudoHeaderSumAt(b, ip, proto, l4Len);
  } else return false;
  let field: number;
  if (proto === IPPROTO_TCP && l4Len >= TCP_HLEN) field = l4 + TCP_CHECK;
  else if (proto === IPPROTO_UDP && l4Len >= UDP_HLEN) field = l4 + UDP_CHECK;
  else return false;
  b[field] = 0;
  b[field + 1] = 0;
  let c = ~onesSum(b, l4, l4 + l4Len, sum) & 0xffff;
  // UDP sends a computed 0 as all ones (0 means "no checksum").
  if (c === 0 && proto === IPPROTO_UDP) c = 0xffff;
  b[field] = c >>> 8;
  b[field + 1] = c & 0xff;
  return true;
}
