/**
 * TCP header (RFC 9293 section 3.1; names from Linux's struct tcphdr):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |          Source Port          |       Destination Port        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                        Sequence Number                        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Acknowledgment Number                      |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Data |       |C|E|U|A|P|R|S|F|                               |
 *   | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
 *   |       |       |R|E|G|K|H|T|N|N|                               |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |           Checksum            |         Urgent Pointer        |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Options (Data Offset > 5)                  |
 *
 * The checksum covers a pseudo-header (IPv4: ipv4PseudoHeaderSum with IPPROTO_TCP; IPv6:
 * ipv6PseudoHeaderSumAt), the header and the data. Unlike UDP, 0 is an ordinary value.
 * Options are opaque bytes here.
 */

import { checkLayout } from "../layout.js";
import type { Mem } from "../mem.js";

export const TCP_SOURCE = 0;
export const TCP_DEST = 2;
export const TCP_SEQ = 4;
export const TCP_ACK_SEQ = 8;
/** Data offset in the top nibble; the low nibble is reserved (and AccECN's AE bit). */
export const TCP_DOFF = 12;
export const TCP_FLAGS = 13;
export const TCP_WINDOW = 14;
export const TCP_CHECK = 16;
export const TCP_URG_PTR = 18;
/** Header length without options (data offset 5). */
export const TCP_HLEN = 20;
/** Header length with 40 bytes of options (data offset 15). */
export const TCP_MAX_HLEN = 60;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

checkLayout("tcphdr", TCP_HLEN, {
  source: [TCP_SOURCE, 2],
  dest: [TCP_DEST, 2],
  seq: [TCP_SEQ, 4],
  ack_seq: [TCP_ACK_SEQ, 4],
  doff: [TCP_DOFF, 1],
  flags: [TCP_FLAGS, 1],
  window: [TCP_WINDOW, 2],
  check: [TCP_CHECK, 2],
  urg_ptr: [TCP_URG_PTR, 2],
});

export function tcpSource(m: Mem, at: number): number {
  return m.dv.getUint16(at + TCP_SOURCE);
}

export function tcpDest(m: Mem, at: number): number {
  return m.dv.getUint16(at + TCP_DEST);
}

export function tcpSeq(m: Mem, at: number): number {
  return m.dv.getUint32(at + TCP_SEQ);
}

export function setTcpSeq(m: Mem, at: number, seq: number): void {
  m.dv.setUint32(at + TCP_SEQ, seq);
}

export function tcpAckSeq(m: Mem, at: number): number {
  return m.dv.getUint32(at + TCP_ACK_SEQ);
}

/** Header length in bytes (data offset * 4). */
export function tcpHeaderLen(m: Mem, at: number): number {
  return (m.u8[at + TCP_DOFF] >>> 4) << 2;
}

/** The eight flag bits (TCP_FIN .. TCP_CWR). */
export function tcpFlags(m: Mem, at: number): number {
  return m.u8[at + TCP_FLAGS];
}

export function setTcpFlags(m: Mem, at: number, flags: number): void {
  m.u8[at + TCP_FLAGS] = flags;
}

export function tcpWindow(m: Mem, at: number): number {
  return m.dv.getUint16(at + TCP_WINDOW);
}

export function tcpCheck(m: Mem, at: number): number {
  return m.dv.getUint16(at + TCP_CHECK);
}

export function setTcpCheck(m: Mem, at: number, check: number): void {
  m.dv.setUint16(at + TCP_CHECK, check);
}

export function tcpUrgPtr(m: Mem, at: number): number {
  return m.dv.getUint16(at + TCP_URG_PTR);
}
