/**
 * The flow hash netback picks a vif's RX queue with when the frontend set no steering of
 * its own.
 */

import { ETH_HLEN, ETH_P_IP, ETH_P_IPV6 } from "../wire/net/ethernet.js";
import {
  IPPROTO_TCP,
  IPPROTO_UDP,
  IPV4_DADDR,
  IPV4_HLEN,
  IPV4_PROTOCOL,
  IPV4_SADDR,
} from "../wire/net/ipv4.js";
import { IPV6_HLEN, IPV6_NEXTHDR } from "../wire/net/ipv6.js";
import { etherType } from "../wire/net/l4-checksum.js";

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
