/**
 * UDP header (RFC 768; names from Linux's struct udphdr):
 *
 *    0      7 8     15 16    23 24    31
 *   +--------+--------+--------+--------+
 *   |     Source      |   Destination   |
 *   |      Port       |      Port       |
 *   +--------+--------+--------+--------+
 *   |     Length      |    Checksum     |
 *   +--------+--------+--------+--------+
 *   |     data octets ...
 *
 * Length counts header and data. Over IPv4 the checksum covers the pseudo-header (see
 * ipv4PseudoHeaderSum), the header and the data; 0 means "no checksum", so a computed 0
 * is sent as 0xffff (its one's complement twin).
 */

import { assert } from "../../base/assert.js";
import { checkLayout, type ParseError, parseError } from "../layout.js";
import type { Mem } from "../mem.js";
import { ipv4PseudoHeaderSum, onesSum } from "./checksum.js";
import { IPPROTO_UDP, ipv4PseudoHeaderSumAt } from "./ipv4.js";

export const UDP_SOURCE = 0;
export const UDP_DEST = 2;
export const UDP_LEN = 4;
export const UDP_CHECK = 6;
export const UDP_HLEN = 8;

checkLayout("udphdr", UDP_HLEN, {
  source: [UDP_SOURCE, 2],
  dest: [UDP_DEST, 2],
  len: [UDP_LEN, 2],
  check: [UDP_CHECK, 2],
});

export function udpSource(m: Mem, at: number): number {
  return m.dv.getUint16(at + UDP_SOURCE);
}

export function setUdpSource(m: Mem, at: number, port: number): void {
  m.dv.setUint16(at + UDP_SOURCE, port);
}

export function udpDest(m: Mem, at: number): number {
  return m.dv.getUint16(at + UDP_DEST);
}

export function setUdpDest(m: Mem, at: number, port: number): void {
  m.dv.setUint16(at + UDP_DEST, port);
}

export function udpLen(m: Mem, at: number): number {
  return m.dv.getUint16(at + UDP_LEN);
}

export function setUdpLen(m: Mem, at: number, len: number): void {
  m.dv.setUint16(at + UDP_LEN, len);
}

export function udpCheck(m: Mem, at: number): number {
  return m.dv.getUint16(at + UDP_CHECK);
}

export function setUdpCheck(m: Mem, at: number, check: number): void {
  m.dv.setUint16(at + UDP_CHECK, check);
}

/**
 * The checksum to send for the datagram at `at` inside the IPv4 packet at `ipAt` (the
 * pseudo-header comes from there), its length from the len field, which the caller has
 * checked against the buffer; the check field is taken as zero. Never 0.
 */
export function udpComputeChecksum(m: Mem, at: number, ipAt: number): number {
  const len = udpLen(m, at);
  const sum = ipv4PseudoHeaderSumAt(m, ipAt, IPPROTO_UDP, len);
  return finish(onesSum(m.u8, at + UDP_CHECK + 2, at + len, onesSum(m.u8, at, at + UDP_CHECK, sum)));
}

export function udpFillChecksum(m: Mem, at: number, ipAt: number): void {
  m.dv.setUint16(at + UDP_CHECK, udpComputeChecksum(m, at, ipAt));
}

/** True when the checksum verifies or is 0 (the sender did not compute one). */
export function udpChecksumValid(m: Mem, at: number, ipAt: number): boolean {
  if (m.dv.getUint16(at + UDP_CHECK) === 0) return true;
  const len = udpLen(m, at);
  return onesSum(m.u8, at, at + len, ipv4PseudoHeaderSumAt(m, ipAt, IPPROTO_UDP, len)) === 0xffff;
}

/** Complement of a folded sum, with 0 sent as 0xffff (0 means "no checksum"). */
function finish(sum: number): number {
  const c = ~sum & 0xffff;
  return c === 0 ? 0xffff : c;
}

function datagramSum(b: Uint8Array, at: number, len: number, saddr: number, daddr: number): number {
  return onesSum(b, at, at + len, ipv4PseudoHeaderSum(saddr, daddr, IPPROTO_UDP, len));
}

function datagramChecksum(b: Uint8Array, at: number, len: number, saddr: number, daddr: number): number {
  const sum = ipv4PseudoHeaderSum(saddr, daddr, IPPROTO_UDP, len);
  return finish(onesSum(b, at + UDP_CHECK + 2, at + len, onesSum(b, at, at + UDP_CHECK, sum)));
}

/** The IPv4 addresses a UDP checksum covers through the pseudo-header. */
export interface UdpIpv4Addrs {
  saddr: number;
  daddr: number;
}

export interface UdpRepr {
  source: number;
  dest: number;
  /** Bytes after the header, as many as the len field says; parse returns a copy. */
  data: Uint8Array;
}

export function udpReprLen(r: UdpRepr): number {
  return UDP_HLEN + r.data.length;
}

/**
 * Parses the datagram at `at`: len >= 8 and inside `b`. With `ipv4`, a non-zero checksum
 * must verify; without it the checksum is not checked.
 */
export function parseUdp(b: Uint8Array, at = 0, ipv4?: UdpIpv4Addrs): UdpRepr | ParseError {
  if (!(at >= 0 && at + UDP_HLEN <= b.length)) return parseError("udp: buffer too short");
  const len = (b[at + UDP_LEN] << 8) | b[at + UDP_LEN + 1];
  if (len < UDP_HLEN) return parseError(`udp: length ${len} < 8`);
  if (at + len > b.length) return parseError(`udp: length ${len} exceeds buffer (${b.length - at})`);
  const check = (b[at + UDP_CHECK] << 8) | b[at + UDP_CHECK + 1];
  if (ipv4 !== undefined && check !== 0 && datagramSum(b, at, len, ipv4.saddr, ipv4.daddr) !== 0xffff) {
    return parseError("udp: bad checksum");
  }
  return {
    source: (b[at + UDP_SOURCE] << 8) | b[at + UDP_SOURCE + 1],
    dest: (b[at + UDP_DEST] << 8) | b[at + UDP_DEST + 1],
    data: b.slice(at + UDP_HLEN, at + len),
  };
}

/** Writes header and data; the checksum is computed with `ipv4`, else left 0 (none). */
export function emitUdp(r: UdpRepr, b: Uint8Array, at = 0, ipv4?: UdpIpv4Addrs): void {
  const len = udpReprLen(r);
  assert(len <= 0xffff, `udp: length ${len} > 65535`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  dv.setUint16(at + UDP_SOURCE, r.source);
  dv.setUint16(at + UDP_DEST, r.dest);
  dv.setUint16(at + UDP_LEN, len);
  b.set(r.data, at + UDP_HLEN);
  const check = ipv4 === undefined ? 0 : datagramChecksum(b, at, len, ipv4.saddr, ipv4.daddr);
  dv.setUint16(at + UDP_CHECK, check);
}
