/**
 * IPv4 header (RFC 791 section 3.1; field names from Linux's struct iphdr):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |Version|  IHL  |Type of Service|          Total Length         |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |         Identification        |Flags|      Fragment Offset    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Time to Live |    Protocol   |         Header Checksum       |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                       Source Address                          |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Destination Address                        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Options (IHL > 5)          |    Padding    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Addresses are u32 numbers on the hot path (first octet in the top byte); strings only
 * through formatIpv4/parseIpv4. Options are carried as opaque bytes, never interpreted.
 */

import { assert } from "../../base/assert.js";
import { checkLayout, type ParseError, parseError } from "../layout.js";
import type { Mem } from "../mem.js";
import { internetChecksum, onesFold, onesSum } from "./checksum.js";

export const IPV4_VERSION_IHL = 0;
export const IPV4_TOS = 1;
export const IPV4_TOT_LEN = 2;
export const IPV4_ID = 4;
export const IPV4_FRAG_OFF = 6;
export const IPV4_TTL = 8;
export const IPV4_PROTOCOL = 9;
export const IPV4_CHECK = 10;
export const IPV4_SADDR = 12;
export const IPV4_DADDR = 16;
/** Header length without options (IHL 5). */
export const IPV4_HLEN = 20;
/** Header length with 40 bytes of options (IHL 15). */
export const IPV4_MAX_HLEN = 60;

/** Flag bits and offset mask of frag_off. */
export const IP_DF = 0x4000;
export const IP_MF = 0x2000;
export const IP_OFFSET = 0x1fff;

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

checkLayout("iphdr", IPV4_HLEN, {
  version_ihl: [IPV4_VERSION_IHL, 1],
  tos: [IPV4_TOS, 1],
  tot_len: [IPV4_TOT_LEN, 2],
  id: [IPV4_ID, 2],
  frag_off: [IPV4_FRAG_OFF, 2],
  ttl: [IPV4_TTL, 1],
  protocol: [IPV4_PROTOCOL, 1],
  check: [IPV4_CHECK, 2],
  saddr: [IPV4_SADDR, 4],
  daddr: [IPV4_DADDR, 4],
});

/** Dotted quad. */
export function formatIpv4(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

// Leading zeros are refused: inet_aton would read "010" as octal 8, so it is ambiguous.
const OCTET = "(0|[1-9][0-9]{0,2})";
const IPV4_RE = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

/** Strict dotted quad "a.b.c.d", each 0..255 without leading zeros, to a u32. */
export function parseIpv4(s: string): number | ParseError {
  const g = IPV4_RE.exec(s);
  if (g === null) return parseError(`ipv4 address: expected a.b.c.d, got ${JSON.stringify(s)}`);
  let addr = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(g[i]);
    if (octet > 255) return parseError(`ipv4 address: octet ${octet} > 255 in ${JSON.stringify(s)}`);
    addr = addr * 256 + octet;
  }
  return addr;
}

export function ipv4Version(m: Mem, at: number): number {
  return m.u8[at + IPV4_VERSION_IHL] >>> 4;
}

/** Header length in 32-bit words. */
export function ipv4Ihl(m: Mem, at: number): number {
  return m.u8[at + IPV4_VERSION_IHL] & 0x0f;
}

/** Header length in bytes (IHL * 4). */
export function ipv4HeaderLen(m: Mem, at: number): number {
  return (m.u8[at + IPV4_VERSION_IHL] & 0x0f) << 2;
}

/** Writes version 4 and `ihl`. */
export function setIpv4Ihl(m: Mem, at: number, ihl: number): void {
  m.u8[at + IPV4_VERSION_IHL] = 0x40 | (ihl & 0x0f);
}

export function ipv4Tos(m: Mem, at: number): number {
  return m.u8[at + IPV4_TOS];
}

export function setIpv4Tos(m: Mem, at: number, tos: number): void {
  m.u8[at + IPV4_TOS] = tos;
}

export function ipv4TotLen(m: Mem, at: number): number {
  return m.dv.getUint16(at + IPV4_TOT_LEN);
}

export function setIpv4TotLen(m: Mem, at: number, totLen: number): void {
  m.dv.setUint16(at + IPV4_TOT_LEN, totLen);
}

export function ipv4Id(m: Mem, at: number): number {
  return m.dv.getUint16(at + IPV4_ID);
}

export function setIpv4Id(m: Mem, at: number, id: number): void {
  m.dv.setUint16(at + IPV4_ID, id);
}

/** Flags and fragment offset together; mask with IP_DF, IP_MF, IP_OFFSET. */
export function ipv4FragOff(m: Mem, at: number): number {
  return m.dv.getUint16(at + IPV4_FRAG_OFF);
}

export function setIpv4FragOff(m: Mem, at: number, fragOff: number): void {
  m.dv.setUint16(at + IPV4_FRAG_OFF, fragOff);
}

export function ipv4Ttl(m: Mem, at: number): number {
  return m.u8[at + IPV4_TTL];
}

export function setIpv4Ttl(m: Mem, at: number, ttl: number): void {
  m.u8[at + IPV4_TTL] = ttl;
}

export function ipv4Protocol(m: Mem, at: number): number {
  return m.u8[at + IPV4_PROTOCOL];
}

export function setIpv4Protocol(m: Mem, at: number, protocol: number): void {
  m.u8[at + IPV4_PROTOCOL] = protocol;
}

export function ipv4Check(m: Mem, at: number): number {
  return m.dv.getUint16(at + IPV4_CHECK);
}

export function setIpv4Check(m: Mem, at: number, check: number): void {
  m.dv.setUint16(at + IPV4_CHECK, check);
}

export function ipv4Saddr(m: Mem, at: number): number {
  return m.dv.getUint32(at + IPV4_SADDR);
}

export function setIpv4Saddr(m: Mem, at: number, saddr: number): void {
  m.dv.setUint32(at + IPV4_SADDR, saddr);
}

export function ipv4Daddr(m: Mem, at: number): number {
  return m.dv.getUint32(at + IPV4_DADDR);
}

export function setIpv4Daddr(m: Mem, at: number, daddr: number): void {
  m.dv.setUint32(at + IPV4_DADDR, daddr);
}

/** Header checksum over IHL * 4 bytes, the check field taken as zero (it is skipped). */
export function ipv4ComputeChecksum(m: Mem, at: number): number {
  return ipv4HeaderChecksum(m.u8, at, ipv4HeaderLen(m, at));
}

export function ipv4FillChecksum(m: Mem, at: number): void {
  m.dv.setUint16(at + IPV4_CHECK, ipv4ComputeChecksum(m, at));
}

/** True when the header, check field included, sums to 0xffff (RFC 1071 verification). */
export function ipv4ChecksumValid(m: Mem, at: number): boolean {
  return onesSum(m.u8, at, at + ipv4HeaderLen(m, at)) === 0xffff;
}

/**
 * The pseudo-header sum (see ipv4PseudoHeaderSum) for a transport segment of `len` bytes
 * carried by the IPv4 header at `at`, read straight from the header: addresses >= 2**31
 * are not small integers, and passing them through calls would box them.
 */
export function ipv4PseudoHeaderSumAt(m: Mem, at: number, protocol: number, len: number): number {
  return onesSum(m.u8, at + IPV4_SADDR, at + IPV4_DADDR + 4, onesFold(protocol + len));
}

function ipv4HeaderChecksum(b: Uint8Array, at: number, hlen: number): number {
  return internetChecksum(b, at + IPV4_CHECK + 2, at + hlen, onesSum(b, at, at + IPV4_CHECK));
}

export interface Ipv4HeaderRepr {
  tos: number;
  id: number;
  dontFrag: boolean;
  moreFrags: boolean;
  /** In units of 8 bytes. */
  fragOffset: number;
  ttl: number;
  protocol: number;
  saddr: number;
  daddr: number;
  /** Raw option bytes, a multiple of 4 up to 40; parse returns a copy. */
  options: Uint8Array;
  /** Total length minus header length. */
  payloadLen: number;
}

export function ipv4HeaderReprLen(r: Ipv4HeaderRepr): number {
  return IPV4_HLEN + r.options.length;
}

/**
 * Parses and checks an IPv4 header: version 4, IHL >= 5, header and total length inside
 * `b`, valid header checksum. The reserved flag bit is ignored (RFC 791: must be zero).
 */
export function parseIpv4Header(b: Uint8Array, at = 0): Ipv4HeaderRepr | ParseError {
  if (!(at >= 0 && at + IPV4_HLEN <= b.length)) return parseError("ipv4: buffer too short");
  const vi = b[at + IPV4_VERSION_IHL];
  if (vi >>> 4 !== 4) return parseError(`ipv4: version ${vi >>> 4} is not 4`);
  const hlen = (vi & 0x0f) << 2;
  if (hlen < IPV4_HLEN) return parseError(`ipv4: IHL ${vi & 0x0f} < 5`);
  if (at + hlen > b.length) return parseError(`ipv4: header length ${hlen} exceeds buffer`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const totLen = dv.getUint16(at + IPV4_TOT_LEN);
  if (totLen < hlen) return parseError(`ipv4: total length ${totLen} < header length ${hlen}`);
  if (at + totLen > b.length)
    return parseError(`ipv4: total length ${totLen} exceeds buffer (${b.length - at})`);
  if (onesSum(b, at, at + hlen) !== 0xffff) return parseError("ipv4: bad header checksum");
  const fragOff = dv.getUint16(at + IPV4_FRAG_OFF);
  return {
    tos: b[at + IPV4_TOS],
    id: dv.getUint16(at + IPV4_ID),
    dontFrag: (fragOff & IP_DF) !== 0,
    moreFrags: (fragOff & IP_MF) !== 0,
    fragOffset: fragOff & IP_OFFSET,
    ttl: b[at + IPV4_TTL],
    protocol: b[at + IPV4_PROTOCOL],
    saddr: dv.getUint32(at + IPV4_SADDR),
    daddr: dv.getUint32(at + IPV4_DADDR),
    options: b.slice(at + IPV4_HLEN, at + hlen),
    payloadLen: totLen - hlen,
  };
}

/** Writes the header (not the payload) and its checksum. */
export function emitIpv4Header(r: Ipv4HeaderRepr, b: Uint8Array, at = 0): void {
  const hlen = ipv4HeaderReprLen(r);
  assert(r.options.length % 4 === 0 && hlen <= IPV4_MAX_HLEN, `ipv4: bad options length ${r.options.length}`);
  assert(hlen + r.payloadLen <= 0xffff, `ipv4: total length ${hlen + r.payloadLen} > 65535`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  b[at + IPV4_VERSION_IHL] = 0x40 | (hlen >>> 2);
  b[at + IPV4_TOS] = r.tos;
  dv.setUint16(at + IPV4_TOT_LEN, hlen + r.payloadLen);
  dv.setUint16(at + IPV4_ID, r.id);
  const flags = (r.dontFrag ? IP_DF : 0) | (r.moreFrags ? IP_MF : 0);
  dv.setUint16(at + IPV4_FRAG_OFF, flags | (r.fragOffset & IP_OFFSET));
  b[at + IPV4_TTL] = r.ttl;
  b[at + IPV4_PROTOCOL] = r.protocol;
  dv.setUint32(at + IPV4_SADDR, r.saddr);
  dv.setUint32(at + IPV4_DADDR, r.daddr);
  b.set(r.options, at + IPV4_HLEN);
  dv.setUint16(at + IPV4_CHECK, ipv4HeaderChecksum(b, at, hlen));
}
