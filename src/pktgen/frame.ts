/**
 * pkt-gen's packet: Ethernet, IPv4, UDP, then payload; checksums filled. ping and txseq
 * put a big-endian sequence number at frame offset 42 (the UDP payload) and ping a
 * timestamp after it.
 */
import { type Mem, privateMem } from "../wire/mem.js";
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

/**
 * -s/-d ranges: the addresses and ports of the next packet, cycled as netmap's pkt-gen
 * cycles them (source port first, then source address, then destination port, then
 * destination address, each wrapping to its start and carrying into the next).
 */
export class AddrCycler {
  sip: number;
  sport: number;
  dip: number;
  dport: number;
  readonly #o: PktGenOptions;

  constructor(o: PktGenOptions) {
    this.#o = o;
    this.sip = o.srcIp;
    this.sport = o.srcPort;
    this.dip = o.dstIp;
    this.dport = o.dstPort;
  }

  /** True when -s or -d gave a range (otherwise every packet is the template). */
  static needed(o: PktGenOptions): boolean {
    return (
      o.srcIpEnd !== o.srcIp ||
      o.srcPortEnd !== o.srcPort ||
      o.dstIpEnd !== o.dstIp ||
      o.dstPortEnd !== o.dstPort
    );
  }

  /** Writes the current tuple into the frame at `off` (fixing both checksums), then advances. */
  stamp(m: Mem, off: number): void {
    const dv = m.dv;
    dv.setUint32(off + 26, this.sip);
    dv.setUint32(off + 30, this.dip);
    ipv4FillChecksum(m, off + 14);
    setUdpSource(m, off + 34, this.sport);
    setUdpDest(m, off + 34, this.dport);
    udpFillChecksum(m, off + 34, off + 14);
    this.#next();
  }

  #next(): void {
    const o = this.#o;
    if (this.sport < o.srcPortEnd) {
      this.sport++;
      return;
    }
    this.sport = o.srcPort;
    if (this.sip < o.srcIpEnd) {
      this.sip++;
      return;
    }
    this.sip = o.srcIp;
    if (this.dport < o.dstPortEnd) {
      this.dport++;
      return;
    }
    this.dport = o.dstPort;
    if (this.dip < o.dstIpEnd) {
      this.dip++;
      return;
    }
    this.dip = o.dstIp;
  }
}

/** -X: a packet as hex and printable ASCII, 16 bytes a line, after a line saying where it is. */
export function hexdump(
  u8: Uint8Array,
  off: number,
  len: number,
  where: string,
  say: (l: string) => void,
): void {
  say(`${where} len ${len}`);
  for (let i = 0; i < len; i += 16) {
    let hex = "";
    let text = "";
    for (let j = 0; j < 16; j++) {
      if (i + j >= len) {
        hex += j === 8 ? "    " : "   ";
        continue;
      }
      const b = u8[off + i + j]!;
      hex += `${j === 8 ? "  " : j === 0 ? "" : " "}${b.toString(16).padStart(2, "0")}`;
      text += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".";
    }
    say(`  ${i.toString(16).padStart(4, "0")}: ${hex.padEnd(49)} |${text}|`);
  }
}
