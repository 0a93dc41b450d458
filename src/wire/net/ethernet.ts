/**
 * Ethernet II header (IEEE 802.3 framing with an EtherType, as in Linux's struct ethhdr):
 *
 *    0                   6                  12        14
 *   +-------------------+-------------------+---------+
 *   | destination MAC   | source MAC        |EtherType|
 *   +-------------------+-------------------+---------+
 *
 * MACs on the hot path are 48-bit numbers, `hi16 * 2**32 + lo32` with the first octet in
 * the top byte, so they compare with `===` and key a Map without strings (the netmap VALE
 * table keeps them as 64-bit integers for the same reason). Strings only at the edges:
 * formatMac/parseMac. Cost to know: a MAC is not a small integer, so V8 boxes it (one
 * heap number) when it crosses a call that was not inlined; the accessors are tiny so
 * the optimizer inlines them into a hot loop, and ethDstIsMulticast avoids the number.
 */

import { checkLayout, type ParseError, parseError } from "../layout.js";
import type { Mem } from "../mem.js";

export const ETH_ALEN = 6;
/** Header length without a VLAN tag. */
export const ETH_HLEN = 14;
export const ETH_DST = 0;
export const ETH_SRC = 6;
export const ETH_TYPE = 12;

export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_8021Q = 0x8100;
export const ETH_P_IPV6 = 0x86dd;

/** ff:ff:ff:ff:ff:ff as a MAC number. */
export const MAC_BROADCAST = 0xffff_ffff_ffff;

checkLayout("ethhdr", ETH_HLEN, {
  dst: [ETH_DST, ETH_ALEN],
  src: [ETH_SRC, ETH_ALEN],
  ethertype: [ETH_TYPE, 2],
});

const TWO32 = 0x1_0000_0000;

/** The six bytes at `off` as a MAC number (shared by the Mem accessors and the parsers). */
export function readMac(dv: DataView, off: number): number {
  return dv.getUint16(off) * TWO32 + dv.getUint32(off + 2);
}

export function writeMac(dv: DataView, off: number, mac: number): void {
  dv.setUint16(off, Math.floor(mac / TWO32));
  dv.setUint32(off + 2, mac >>> 0);
}

export function ethDstMac(m: Mem, at: number): number {
  return readMac(m.dv, at + ETH_DST);
}

export function setEthDstMac(m: Mem, at: number, mac: number): void {
  writeMac(m.dv, at + ETH_DST, mac);
}

export function ethSrcMac(m: Mem, at: number): number {
  return readMac(m.dv, at + ETH_SRC);
}

export function setEthSrcMac(m: Mem, at: number, mac: number): void {
  writeMac(m.dv, at + ETH_SRC, mac);
}

export function ethType(m: Mem, at: number): number {
  return m.dv.getUint16(at + ETH_TYPE);
}

export function setEthType(m: Mem, at: number, ethertype: number): void {
  m.dv.setUint16(at + ETH_TYPE, ethertype);
}

/** The destination's I/G bit straight from the frame: the flood test without a MAC number. */
export function ethDstIsMulticast(m: Mem, at: number): boolean {
  return (m.u8[at + ETH_DST] & 0x01) !== 0;
}

export function isBroadcast(mac: number): boolean {
  return mac === MAC_BROADCAST;
}

/** The I/G bit, the low bit of the first octet; broadcast is multicast too. */
export function isMulticast(mac: number): boolean {
  return (Math.floor(mac / TWO32) & 0x0100) !== 0;
}

/** "aa:bb:cc:dd:ee:ff", lowercase. */
export function formatMac(mac: number): string {
  const hi = Math.floor(mac / TWO32);
  const lo = mac >>> 0;
  const octets = [hi >>> 8, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff];
  return octets.map((o) => o.toString(16).padStart(2, "0")).join(":");
}

const MAC_RE = /^[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}$/;

/** Exactly six two-digit hex octets separated by colons; anything else is a ParseError. */
export function parseMac(s: string): number | ParseError {
  if (!MAC_RE.test(s))
    return parseError(`mac: expected six hex octets as aa:bb:cc:dd:ee:ff, got ${JSON.stringify(s)}`);
  const hex = s.replaceAll(":", "");
  return Number.parseInt(hex.slice(0, 4), 16) * TWO32 + Number.parseInt(hex.slice(4), 16);
}

export interface EthernetRepr {
  dst: number;
  src: number;
  ethertype: number;
}

export function parseEthernet(b: Uint8Array, at = 0): EthernetRepr | ParseError {
  if (!(at >= 0 && at + ETH_HLEN <= b.length)) return parseError("ethernet: buffer too short");
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    dst: readMac(dv, at + ETH_DST),
    src: readMac(dv, at + ETH_SRC),
    ethertype: dv.getUint16(at + ETH_TYPE),
  };
}

export function emitEthernet(r: EthernetRepr, b: Uint8Array, at = 0): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  writeMac(dv, at + ETH_DST, r.dst);
  writeMac(dv, at + ETH_SRC, r.src);
  dv.setUint16(at + ETH_TYPE, r.ethertype);
}
