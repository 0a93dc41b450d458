/**
 * VXLAN header (RFC 7348 section 5), carried in UDP to port 4789 and followed by the
 * inner Ethernet frame:
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |R|R|R|R|I|R|R|R|            Reserved                           |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                VXLAN Network Identifier (VNI) |   Reserved    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The I flag must be set for a valid VNI; the R bits are sent as zero and ignored on
 * receipt (RFC 7348), so parse ignores them too. Extensions that reuse R bits (GBP, GPE)
 * are not supported.
 */

import { checkLayout, type ParseError, parseError } from "../layout.js";
import type { Mem } from "../mem.js";

export const VXLAN_FLAGS = 0;
export const VXLAN_VNI = 4;
export const VXLAN_HLEN = 8;
/** IANA-assigned UDP destination port. */
export const VXLAN_PORT = 4789;
/** The I flag in the flags byte: the VNI is valid. */
export const VXLAN_FLAG_I = 0x08;
export const VXLAN_VNI_MAX = 0xff_ffff;

checkLayout("vxlanhdr", VXLAN_HLEN, {
  flags: [VXLAN_FLAGS, 1],
  reserved1: [1, 3],
  vni: [VXLAN_VNI, 3],
  reserved2: [7, 1],
});

export function vxlanFlags(m: Mem, at: number): number {
  return m.u8[at + VXLAN_FLAGS];
}

/** True when the I flag is set: the check a receiver makes before trusting the VNI. */
export function vxlanHasVni(m: Mem, at: number): boolean {
  return (m.u8[at + VXLAN_FLAGS] & VXLAN_FLAG_I) !== 0;
}

export function vxlanVni(m: Mem, at: number): number {
  return m.dv.getUint32(at + VXLAN_VNI) >>> 8;
}

/** Rewrites the VNI only, leaving flags and reserved bytes as they are. */
export function setVxlanVni(m: Mem, at: number, vni: number): void {
  m.dv.setUint16(at + VXLAN_VNI, vni >>> 8);
  m.u8[at + VXLAN_VNI + 2] = vni & 0xff;
}

/** Writes a whole header for encapsulation: I flag, `vni`, reserved bytes zero. */
export function setVxlanHeader(m: Mem, at: number, vni: number): void {
  m.dv.setUint32(at, VXLAN_FLAG_I << 24);
  m.dv.setUint32(at + VXLAN_VNI, (vni & VXLAN_VNI_MAX) << 8);
}

export interface VxlanRepr {
  vni: number;
}

/** Parses the header at `at`; without the I flag it is a ParseError. */
export function parseVxlan(b: Uint8Array, at = 0): VxlanRepr | ParseError {
  if (!(at >= 0 && at + VXLAN_HLEN <= b.length)) return parseError("vxlan: buffer too short");
  const flags = b[at + VXLAN_FLAGS];
  if ((flags & VXLAN_FLAG_I) === 0)
    return parseError(`vxlan: I flag not set (flags 0x${flags.toString(16)})`);
  return { vni: (b[at + VXLAN_VNI] << 16) | (b[at + VXLAN_VNI + 1] << 8) | b[at + VXLAN_VNI + 2] };
}

export function emitVxlan(r: VxlanRepr, b: Uint8Array, at = 0): void {
  b.fill(0, at, at + VXLAN_HLEN);
  b[at + VXLAN_FLAGS] = VXLAN_FLAG_I;
  b[at + VXLAN_VNI] = (r.vni >>> 16) & 0xff;
  b[at + VXLAN_VNI + 1] = (r.vni >>> 8) & 0xff;
  b[at + VXLAN_VNI + 2] = r.vni & 0xff;
}
