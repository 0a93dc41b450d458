/**
 * pkt-gen's packet: Ethernet, IPv4, UDP, then payload; checksums filled. ping and txseq
 * put a big-endian sequence number at frame offset 42 (the UDP payload) and ping a
 * timestamp after it.
 */
import { privateMem } from "../wire/mem.js";
import { ETH_P_IP, emitEthernet } from "../wire/net/ethernet.js";
import { emitIpv4Header, IPPROTO_UDP, ipv4FillChecksum } from "../wire/net/ipv4.js";
import { setUdpDest, setUdpLen, setUdpSource, udpFillChecksum } from "../wire/net/udp.js";
import type { PktGenOptions } from "./options.js";

export const PKT_SEQ_OFF = 42;
export const PKT_TS_OFF = 46;

export function buildFrame(o: PktGenOptions): Uint8Array {
  const m = privateMem(o.len);
  const b = m.u8.subarray(0, o.len);
  for (let i = 42; i < o.len; i++) b[i] = i & 0xff;
  emitEthernet({ dst: o.dstMac, src: o.srcMac, ethertype: ETH_P_IP }, b, 0);
  emitIpv4Header(
    {
      tos: 0,
      id: 0,
      dontFrag: true,
      moreFrags: false,
      fragOffset: 0,
      ttl: 64,
      protocol: IPPROTO_UDP,
      saddr: o.srcIp,
      daddr: o.dstIp,
      options: new Uint8Array(0),
      payloadLen: o.len - 34,
    },
    b,
    14,
  );
  ipv4FillChecksum(m, 14);
  setUdpSource(m, 34, o.srcPort);
  setUdpDest(m, 34, o.dstPort);
  setUdpLen(m, 34, o.len - 34);
  udpFillChecksum(m, 34, 14);
  return Uint8Array.from(b);
}
