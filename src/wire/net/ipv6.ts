/**
 * IPv6 fixed header (RFC 8200 section 3; names from Linux's struct ipv6hdr):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |Version| Traffic Class |           Flow Label                  |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |         Payload Length        |  Next Header  |   Hop Limit   |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Source Address (16 bytes)                  |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                 Destination Address (16 bytes)                |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Payload length counts everything after these 40 bytes, extension headers included.
 * Addresses stay bytes in the frame: 128 bits fit no number, and nothing here needs one.
 */

import { checkLayout } from "../layout.js";
import type { Mem } from "../mem.js";
import { onesFold, onesSum } from "./checksum.js";

export const IPV6_VERSION_TC = 0;
export const IPV6_PAYLOAD_LEN = 4;
export const IPV6_NEXTHDR = 6;
export const IPV6_HOP_LIMIT = 7;
export const IPV6_SADDR = 8;
export const IPV6_DADDR = 24;
export const IPV6_HLEN = 40;

checkLayout("ipv6hdr", IPV6_HLEN, {
  version_tc_flow: [IPV6_VERSION_TC, 4],
  payload_len: [IPV6_PAYLOAD_LEN, 2],
  nexthdr: [IPV6_NEXTHDR, 1],
  hop_limit: [IPV6_HOP_LIMIT, 1],
  saddr: [IPV6_SADDR, 16],
  daddr: [IPV6_DADDR, 16],
});

export function ipv6Version(m: Mem, at: number): number {
  return m.u8[at + IPV6_VERSION_TC] >>> 4;
}

export function ipv6PayloadLen(m: Mem, at: number): number {
  return m.dv.getUint16(at + IPV6_PAYLOAD_LEN);
}

export function setIpv6PayloadLen(m: Mem, at: number, len: number): void {
  m.dv.setUint16(at + IPV6_PAYLOAD_LEN, len);
}

export function ipv6NextHeader(m: Mem, at: number): number {
  return m.u8[at + IPV6_NEXTHDR];
}

export function ipv6HopLimit(m: Mem, at: number): number {
  return m.u8[at + IPV6_HOP_LIMIT];
}

/**
 * Folded sum of the IPv6 pseudo-header (RFC 8200 section 8.1) for an upper-layer packet
 * of `len` bytes (< 2**32) with next header `nextHeader`, the addresses read from the
 * header at `at` in `b`:
 *
 *   source address (16) | destination address (16) | upper-layer length (4) | 0 0 0 | next header
 */
export function ipv6PseudoHeaderSumAt(b: Uint8Array, at: number, nextHeader: number, len: number): number {
  return onesSum(
    b,
    at + IPV6_SADDR,
    at + IPV6_DADDR + 16,
    onesFold((len >>> 16) + (len & 0xffff) + (nextHeader & 0xff)),
  );
}
