/** Frames built with the wire module's emitters (not the stack's code), for injecting. */
import { ARPOP_REQUEST, emitArp } from "../../src/wire/net/arp.js";
import { ETH_HLEN, ETH_P_ARP, ETH_P_IP, emitEthernet } from "../../src/wire/net/ethernet.js";
import { emitIcmp, ICMP_ECHO, icmpReprLen } from "../../src/wire/net/icmp.js";
import { emitIpv4Header, IPPROTO_ICMP, IPPROTO_UDP } from "../../src/wire/net/ipv4.js";
import { emitUdp, UDP_HLEN } from "../../src/wire/net/udp.js";
import { IP_B, MAC_B } from "./harness.js";

export const IP_C = 0x0a00_0007; // 10.0.0.7, a host only the tests play
export const MAC_C = 0x0200_0000_0007;

export interface IpOpts {
  dst?: number;
  src?: number;
  saddr?: number;
  daddr?: number;
  ttl?: number;
  moreFrags?: boolean;
  fragOffset?: number;
  options?: Uint8Array;
  /** Bytes appended after the packet (Ethernet padding). */
  pad?: number;
}

/** Ethernet + IPv4 around `l4` (already complete, checksum included). */
export function ipv4Frame(protocol: number, l4: Uint8Array, o: IpOpts = {}): Uint8Array {
  const options = o.options ?? new Uint8Array(0);
  const ipLen = 20 + options.length + l4.length;
  const b = new Uint8Array(ETH_HLEN + ipLen + (o.pad ?? 0));
  emitEthernet({ dst: o.dst ?? MAC_B, src: o.src ?? MAC_C, ethertype: ETH_P_IP }, b);
  emitIpv4Header(
    {
      tos: 0,
      id: 0x4242,
      dontFrag: false,
      moreFrags: o.moreFrags ?? false,
      fragOffset: o.fragOffset ?? 0,
      ttl: o.ttl ?? 64,
      protocol,
      saddr: o.saddr ?? IP_C,
      daddr: o.daddr ?? IP_B,
      options,
      payloadLen: l4.length,
    },
    b,
    ETH_HLEN,
  );
  b.set(l4, ETH_HLEN + 20 + options.length);
  return b;
}

export function icmpMessage(type: number, id: number, seq: number, data: Uint8Array): Uint8Array {
  const r = { type, code: 0, id, sequence: seq, data };
  const b = new Uint8Array(icmpReprLen(r));
  emitIcmp(r, b);
  return b;
}

export function echoRequestFrame(data = Uint8Array.from({ length: 32 }, (_, i) => i), o: IpOpts = {}) {
  return ipv4Frame(IPPROTO_ICMP, icmpMessage(ICMP_ECHO, 0x1234, 7, data), o);
}

/** A UDP datagram with its checksum filled for `saddr` -> `daddr` (0 when `noChecksum`). */
export function udpMessage(
  sport: number,
  dport: number,
  data: Uint8Array,
  saddr = IP_C,
  daddr = IP_B,
  noChecksum = false,
): Uint8Array {
  const b = new Uint8Array(UDP_HLEN + data.length);
  emitUdp({ source: sport, dest: dport, data }, b, 0, noChecksum ? undefined : { saddr, daddr });
  return b;
}

export function udpFrame(sport: number, dport: number, data: Uint8Array, o: IpOpts = {}): Uint8Array {
  return ipv4Frame(IPPROTO_UDP, udpMessage(sport, dport, data, o.saddr ?? IP_C, o.daddr ?? IP_B), o);
}

export function arpFrame(
  oper: number,
  sha: number,
  spa: number,
  tha: number,
  tpa: number,
  dst = 0xffff_ffff_ffff,
): Uint8Array {
  const b = new Uint8Array(ETH_HLEN + 28);
  emitEthernet({ dst, src: sha, ethertype: ETH_P_ARP }, b);
  emitArp({ oper, sha, spa, tha, tpa }, b, ETH_HLEN);
  return b;
}

export function arpRequestFrom(sha: number, spa: number, tpa: number): Uint8Array {
  return arpFrame(ARPOP_REQUEST, sha, spa, 0, tpa);
}

/** Lowercase hex with no separators, for byte-exact comparisons that print well. */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}
