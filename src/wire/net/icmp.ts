/**
 * ICMP for IPv4 (RFC 792; names from Linux's struct icmphdr). Every message starts with
 * type, code and checksum; the next four bytes depend on the type. Echo request/reply:
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |     Type      |     Code      |          Checksum             |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |           Identifier          |        Sequence Number        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |     Data ...
 *
 * The checksum covers the whole ICMP message (header and data, no pseudo-header). The
 * message has no length field: its end is the end of the IPv4 payload, passed in as `len`.
 */

import { checkLayout, type ParseError, parseError } from "../layout.js";
import type { Mem } from "../mem.js";
import { internetChecksum, onesSum } from "./checksum.js";

export const ICMP_TYPE = 0;
export const ICMP_CODE = 1;
export const ICMP_CHECKSUM = 2;
export const ICMP_ECHO_ID = 4;
export const ICMP_ECHO_SEQUENCE = 6;
export const ICMP_HLEN = 8;

export const ICMP_ECHOREPLY = 0;
export const ICMP_DEST_UNREACH = 3;
export const ICMP_ECHO = 8;
export const ICMP_TIME_EXCEEDED = 11;

checkLayout("icmphdr", ICMP_HLEN, {
  type: [ICMP_TYPE, 1],
  code: [ICMP_CODE, 1],
  checksum: [ICMP_CHECKSUM, 2],
  id: [ICMP_ECHO_ID, 2],
  sequence: [ICMP_ECHO_SEQUENCE, 2],
});

export function icmpType(m: Mem, at: number): number {
  return m.u8[at + ICMP_TYPE];
}

export function setIcmpType(m: Mem, at: number, type: number): void {
  m.u8[at + ICMP_TYPE] = type;
}

export function icmpCode(m: Mem, at: number): number {
  return m.u8[at + ICMP_CODE];
}

export function setIcmpCode(m: Mem, at: number, code: number): void {
  m.u8[at + ICMP_CODE] = code;
}

export function icmpChecksum(m: Mem, at: number): number {
  return m.dv.getUint16(at + ICMP_CHECKSUM);
}

export function setIcmpChecksum(m: Mem, at: number, checksum: number): void {
  m.dv.setUint16(at + ICMP_CHECKSUM, checksum);
}

export function icmpEchoId(m: Mem, at: number): number {
  return m.dv.getUint16(at + ICMP_ECHO_ID);
}

export function setIcmpEchoId(m: Mem, at: number, id: number): void {
  m.dv.setUint16(at + ICMP_ECHO_ID, id);
}

export function icmpEchoSequence(m: Mem, at: number): number {
  return m.dv.getUint16(at + ICMP_ECHO_SEQUENCE);
}

export function setIcmpEchoSequence(m: Mem, at: number, sequence: number): void {
  m.dv.setUint16(at + ICMP_ECHO_SEQUENCE, sequence);
}

/** Checksum of the `len`-byte message at `at`, its checksum field taken as zero. */
export function icmpComputeChecksum(m: Mem, at: number, len: number): number {
  return messageChecksum(m.u8, at, at + len);
}

export function icmpFillChecksum(m: Mem, at: number, len: number): void {
  m.dv.setUint16(at + ICMP_CHECKSUM, messageChecksum(m.u8, at, at + len));
}

export function icmpChecksumValid(m: Mem, at: number, len: number): boolean {
  return onesSum(m.u8, at, at + len) === 0xffff;
}

function messageChecksum(b: Uint8Array, at: number, end: number): number {
  return internetChecksum(b, at + ICMP_CHECKSUM + 2, end, onesSum(b, at, at + ICMP_CHECKSUM));
}

/**
 * An ICMP message. `id` and `sequence` are the echo names of bytes 4..7; for other types
 * they carry that type's rest-of-header halves unchanged (unused, next-hop MTU, ...).
 */
export interface IcmpRepr {
  type: number;
  code: number;
  id: number;
  sequence: number;
  /** Bytes after the 8-byte header; parse returns a copy. */
  data: Uint8Array;
}

export function icmpReprLen(r: IcmpRepr): number {
  return ICMP_HLEN + r.data.length;
}

/** Parses the message in [at, end) and checks its checksum. */
export function parseIcmp(b: Uint8Array, at = 0, end = b.length): IcmpRepr | ParseError {
  if (!(at >= 0 && end <= b.length && at + ICMP_HLEN <= end)) return parseError("icmp: buffer too short");
  if (onesSum(b, at, end) !== 0xffff) return parseError("icmp: bad checksum");
  return {
    type: b[at + ICMP_TYPE],
    code: b[at + ICMP_CODE],
    id: (b[at + ICMP_ECHO_ID] << 8) | b[at + ICMP_ECHO_ID + 1],
    sequence: (b[at + ICMP_ECHO_SEQUENCE] << 8) | b[at + ICMP_ECHO_SEQUENCE + 1],
    data: b.slice(at + ICMP_HLEN, end),
  };
}

/** Writes header, data and checksum: icmpReprLen(r) bytes. */
export function emitIcmp(r: IcmpRepr, b: Uint8Array, at = 0): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  b[at + ICMP_TYPE] = r.type;
  b[at + ICMP_CODE] = r.code;
  dv.setUint16(at + ICMP_ECHO_ID, r.id);
  dv.setUint16(at + ICMP_ECHO_SEQUENCE, r.sequence);
  b.set(r.data, at + ICMP_HLEN);
  dv.setUint16(at + ICMP_CHECKSUM, messageChecksum(b, at, at + icmpReprLen(r)));
}
