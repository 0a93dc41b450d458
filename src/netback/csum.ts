/**
 * Completing a frame's L4 checksum in software, for a receiver that did not negotiate
 * checksum offload (Linux's skb_checksum_help on the way to a vif without NETIF_F_*_CSUM).
 * The frame must be Ethernet II, then IPv4 or IPv6 without extension headers, then TCP or
 * UDP. The checksum is computed from scratch over the pseudo-header and the L4 bytes the
 * IP length covers (the sender's partial sum in the field is ignored), so it is right
 * whatever the sender wrote. Works on a private linear copy: every byte is read where
 * it will be delivered from. Nothing is allocated.
 */
import { onesFold, onesSum } from "../wire/net/checksum.js";
import { ETH_HLEN, ETH_P_IP, ETH_P_IPV6, ETH_TYPE } from "../wire/net/ethernet.js";
import {
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV4_DADDR,
  IPV4_HLEN,
  IPV4_PROTOCOL,
  IPV4_SADDR,
  IPV4_TOT_LEN,
  IPV4_VERSION_IHL,
} from "../wire/net/ipv4.js";
import { IPV6_HLEN, IPV6_NEXTHDR, IPV6_PAYLOAD_LEN, ipv6PseudoHeaderSumAt } from "../wire/net/ipv6.js";
import { TCP_CHECK, TCP_HLEN } from "../wire/net/tcp.js";
import { UDP_CHECK, UDP_HLEN } from "../wire/net/udp.js";

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

/**
 * A stable flow hash of the frame's first `len` bytes: the IPv4 or IPv6 addresses and,
 * for TCP and UDP, the ports; the MAC addresses otherwise. Any value is fine for queue
 * selection; the same flow always gets the same one.
 */
export function flowHash(b: Uint8Array, off: number, len: number): number {
  let h = 0x811c9dc5;
  const type = etherType(b, off, len);
  const ip = off + ETH_HLEN;
  let from = off;
  let to = off + Math.min(len, 12);
  let ports = -1;
  if (type === ETH_P_IP && len >= ETH_HLEN + IPV4_HLEN) {
    from = ip + IPV4_SADDR;
    to = ip + IPV4_DADDR + 4;
    const proto = b[ip + IPV4_PROTOCOL];
    const l4 = ip + ((b[ip] & 0x0f) << 2);
    if ((proto === IPPROTO_TCP || proto === IPPROTO_UDP) && l4 + 4 <= off + len) ports = l4;
  } else if (type === ETH_P_IPV6 && len >= ETH_HLEN + IPV6_HLEN) {
    from = ip + 8;
    to = ip + IPV6_HLEN;
    const proto = b[ip + IPV6_NEXTHDR];
    if ((proto === IPPROTO_TCP || proto === IPPROTO_UDP) && ip + IPV6_HLEN + 4 <= off + len)
      ports = ip + IPV6_HLEN;
  }
  for (let i = from; i < to; i++) h = Math.imul(h ^ b[i], 0x01000193);
  if (ports >= 0) for (let i = ports; i < ports + 4; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h >>> 0;
}
