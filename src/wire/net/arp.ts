/**
 * ARP for Ethernet and IPv4 (RFC 826; names from Linux's struct arphdr plus the
 * Ethernet/IPv4 address fields), 28 bytes after the Ethernet header:
 *
 *    0       2       4   5   6       8             14      18            24      28
 *   +-------+-------+---+---+-------+-------------+-------+-------------+-------+
 *   | htype | ptype |hln|pln| oper  |     sha     |  spa  |     tha     |  tpa  |
 *   +-------+-------+---+---+-------+-------------+-------+-------------+-------+
 *    ARPHRD_ETHER ETH_P_IP 6  4                6 bytes  4 bytes
 *
 * MACs are 48-bit numbers and IPv4 addresses u32 numbers, as everywhere on the hot path.
 * Other hardware or protocol types are not supported: parse rejects them.
 */

import { assert } from "../../base/assert.js";
import { type ParseError, parseError } from "../layout.js";
import type { Mem } from "../mem.js";
import { ETH_ALEN, ETH_P_IP, formatMac, readMac, writeMac } from "./ethernet.js";
import { formatIpv4 } from "./ipv4.js";

export const ARP_HTYPE = 0;
export const ARP_PTYPE = 2;
export const ARP_HLEN = 4;
export const ARP_PLEN = 5;
export const ARP_OPER = 6;
export const ARP_SHA = 8;
export const ARP_SPA = 14;
export const ARP_THA = 18;
export const ARP_TPA = 24;
/** Size of an Ethernet/IPv4 ARP packet. */
export const ARP_LEN = 28;

export const ARPHRD_ETHER = 1;
export const ARPOP_REQUEST = 1;
export const ARPOP_REPLY = 2;

// checkLayout's alignment rule is for host structs: ARP's addresses sit unaligned by
// design (spa at 14), so only check that the fields tile the 28 bytes.
assert(
  ARP_SHA === ARP_OPER + 2 &&
    ARP_SPA === ARP_SHA + ETH_ALEN &&
    ARP_THA === ARP_SPA + 4 &&
    ARP_TPA === ARP_THA + ETH_ALEN &&
    ARP_LEN === ARP_TPA + 4,
  "arp: fields do not tile 28 bytes",
);

export function arpHtype(m: Mem, at: number): number {
  return m.dv.getUint16(at + ARP_HTYPE);
}

export function arpPtype(m: Mem, at: number): number {
  return m.dv.getUint16(at + ARP_PTYPE);
}

export function arpHlen(m: Mem, at: number): number {
  return m.u8[at + ARP_HLEN];
}

export function arpPlen(m: Mem, at: number): number {
  return m.u8[at + ARP_PLEN];
}

/** True for htype Ethernet, ptype IPv4, hlen 6, plen 4: the only kind described here. */
export function arpIsEthIpv4(m: Mem, at: number): boolean {
  return (
    m.dv.getUint32(at + ARP_HTYPE) === ((ARPHRD_ETHER << 16) | ETH_P_IP) &&
    m.dv.getUint16(at + ARP_HLEN) === 0x0604
  );
}

export function arpOper(m: Mem, at: number): number {
  return m.dv.getUint16(at + ARP_OPER);
}

export function setArpOper(m: Mem, at: number, oper: number): void {
  m.dv.setUint16(at + ARP_OPER, oper);
}

export function arpSha(m: Mem, at: number): number {
  return readMac(m.dv, at + ARP_SHA);
}

export function setArpSha(m: Mem, at: number, mac: number): void {
  writeMac(m.dv, at + ARP_SHA, mac);
}

export function arpSpa(m: Mem, at: number): number {
  return m.dv.getUint32(at + ARP_SPA);
}

export function setArpSpa(m: Mem, at: number, addr: number): void {
  m.dv.setUint32(at + ARP_SPA, addr);
}

export function arpTha(m: Mem, at: number): number {
  return readMac(m.dv, at + ARP_THA);
}

export function setArpTha(m: Mem, at: number, mac: number): void {
  writeMac(m.dv, at + ARP_THA, mac);
}

export function arpTpa(m: Mem, at: number): number {
  return m.dv.getUint32(at + ARP_TPA);
}

export function setArpTpa(m: Mem, at: number, addr: number): void {
  m.dv.setUint32(at + ARP_TPA, addr);
}

/** Writes htype, ptype, hlen and plen for Ethernet/IPv4. */
export function setArpEthIpv4(m: Mem, at: number): void {
  m.dv.setUint16(at + ARP_HTYPE, ARPHRD_ETHER);
  m.dv.setUint16(at + ARP_PTYPE, ETH_P_IP);
  m.u8[at + ARP_HLEN] = ETH_ALEN;
  m.u8[at + ARP_PLEN] = 4;
}

export interface ArpRepr {
  oper: number;
  sha: number;
  spa: number;
  tha: number;
  tpa: number;
}

/** Parses an Ethernet/IPv4 ARP packet; other htype/ptype/hlen/plen are a ParseError. */
export function parseArp(b: Uint8Array, at = 0): ArpRepr | ParseError {
  if (!(at >= 0 && at + ARP_LEN <= b.length)) return parseError("arp: buffer too short");
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const htype = dv.getUint16(at + ARP_HTYPE);
  const ptype = dv.getUint16(at + ARP_PTYPE);
  if (htype !== ARPHRD_ETHER || ptype !== ETH_P_IP) {
    return parseError(`arp: htype ${htype} ptype 0x${ptype.toString(16)} is not Ethernet/IPv4`);
  }
  if (b[at + ARP_HLEN] !== ETH_ALEN || b[at + ARP_PLEN] !== 4) {
    return parseError(`arp: hlen ${b[at + ARP_HLEN]} plen ${b[at + ARP_PLEN]}, expected 6 and 4`);
  }
  return {
    oper: dv.getUint16(at + ARP_OPER),
    sha: readMac(dv, at + ARP_SHA),
    spa: dv.getUint32(at + ARP_SPA),
    tha: readMac(dv, at + ARP_THA),
    tpa: dv.getUint32(at + ARP_TPA),
  };
}

export function emitArp(r: ArpRepr, b: Uint8Array, at = 0): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  dv.setUint16(at + ARP_HTYPE, ARPHRD_ETHER);
  dv.setUint16(at + ARP_PTYPE, ETH_P_IP);
  b[at + ARP_HLEN] = ETH_ALEN;
  b[at + ARP_PLEN] = 4;
  dv.setUint16(at + ARP_OPER, r.oper);
  writeMac(dv, at + ARP_SHA, r.sha);
  dv.setUint32(at + ARP_SPA, r.spa);
  writeMac(dv, at + ARP_THA, r.tha);
  dv.setUint32(at + ARP_TPA, r.tpa);
}

/** One line in tcpdump's manner, for logs and `pvnet capture`. */
export function formatArp(r: ArpRepr): string {
  if (r.oper === ARPOP_REQUEST) return `who-has ${formatIpv4(r.tpa)} tell ${formatIpv4(r.spa)}`;
  if (r.oper === ARPOP_REPLY) return `${formatIpv4(r.spa)} is-at ${formatMac(r.sha)}`;
  return `oper ${r.oper} ${formatMac(r.sha)} ${formatIpv4(r.spa)} -> ${formatMac(r.tha)} ${formatIpv4(r.tpa)}`;
}
