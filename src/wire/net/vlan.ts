/**
 * IEEE 802.1Q tag, inserted in an Ethernet header where the EtherType would be; the
 * frame's own EtherType follows the tag (`at + VLAN_HLEN`):
 *
 *    0       2                    4
 *   +-------+---+-+------------+
 *   | TPID  |PCP|D|    VID     |   TPID = 0x8100 (ETH_P_8021Q)
 *   +-------+---+-+------------+   TCI = PCP:3 | DEI:1 | VID:12
 *
 * `at` below is the offset of the TPID, i.e. frame start + ETH_TYPE. Only single C-tags
 * are described here; 802.1ad S-tags (0x88a8) and QinQ are not supported.
 */

import { checkLayout, type ParseError, parseError } from "../layout.js";
import type { Mem } from "../mem.js";
import { ETH_P_8021Q } from "./ethernet.js";

export const VLAN_HLEN = 4;
/** Ethernet header plus one tag. */
export const VLAN_ETH_HLEN = 18;
export const VLAN_TPID = 0;
export const VLAN_TCI = 2;

export const VLAN_PRIO_MASK = 0xe000;
export const VLAN_PRIO_SHIFT = 13;
export const VLAN_DEI_MASK = 0x1000;
export const VLAN_VID_MASK = 0x0fff;

checkLayout("vlan_tag", VLAN_HLEN, { tpid: [VLAN_TPID, 2], tci: [VLAN_TCI, 2] });

export function packVlanTci(pcp: number, dei: boolean, vid: number): number {
  return ((pcp << VLAN_PRIO_SHIFT) & VLAN_PRIO_MASK) | (dei ? VLAN_DEI_MASK : 0) | (vid & VLAN_VID_MASK);
}

export function vlanTpid(m: Mem, at: number): number {
  return m.dv.getUint16(at + VLAN_TPID);
}

export function vlanTci(m: Mem, at: number): number {
  return m.dv.getUint16(at + VLAN_TCI);
}

export function vlanPcp(m: Mem, at: number): number {
  return (m.dv.getUint16(at + VLAN_TCI) & VLAN_PRIO_MASK) >>> VLAN_PRIO_SHIFT;
}

export function vlanDei(m: Mem, at: number): boolean {
  return (m.dv.getUint16(at + VLAN_TCI) & VLAN_DEI_MASK) !== 0;
}

export function vlanVid(m: Mem, at: number): number {
  return m.dv.getUint16(at + VLAN_TCI) & VLAN_VID_MASK;
}

/** The EtherType of the tagged payload, just after the tag. */
export function vlanEncapsulatedProto(m: Mem, at: number): number {
  return m.dv.getUint16(at + VLAN_HLEN);
}

/** Writes TPID 0x8100 and the TCI. */
export function setVlanTag(m: Mem, at: number, tci: number): void {
  m.dv.setUint16(at + VLAN_TPID, ETH_P_8021Q);
  m.dv.setUint16(at + VLAN_TCI, tci);
}

export interface VlanTagRepr {
  pcp: number;
  dei: boolean;
  vid: number;
}

/** Parses a tag at `at`; a TPID other than 0x8100 is a ParseError. */
export function parseVlanTag(b: Uint8Array, at = 0): VlanTagRepr | ParseError {
  if (!(at >= 0 && at + VLAN_HLEN <= b.length)) return parseError("vlan: buffer too short");
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const tpid = dv.getUint16(at + VLAN_TPID);
  if (tpid !== ETH_P_8021Q) return parseError(`vlan: TPID 0x${tpid.toString(16)} is not 0x8100`);
  const tci = dv.getUint16(at + VLAN_TCI);
  return {
    pcp: (tci & VLAN_PRIO_MASK) >>> VLAN_PRIO_SHIFT,
    dei: (tci & VLAN_DEI_MASK) !== 0,
    vid: tci & VLAN_VID_MASK,
  };
}

export function emitVlanTag(r: VlanTagRepr, b: Uint8Array, at = 0): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  dv.setUint16(at + VLAN_TPID, ETH_P_8021Q);
  dv.setUint16(at + VLAN_TCI, packVlanTci(r.pcp, r.dei, r.vid));
}
