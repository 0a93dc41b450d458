/**
 * Software segmentation of a TCP GSO frame, where the frame goes somewhere that cannot take
 * it whole: netback RX for a guest that did not negotiate the GSO type (Linux would have
 * segmented it in the stack before the vif's xmit), and VALE for a port without offloads
 * (vale/soft-offload.ts: a tap or VXLAN uplink, a netmap user, as netmap's VALE segments
 * for a port without virtio-net headers).
 *
 * Input: one Ethernet frame, Ethernet II (no VLAN tag) + IPv4 or IPv6 + TCP + payload,
 * and the GSO extra's `size` (the MSS) and `type`. Output: the segments written back to
 * back into a caller's buffer, each a complete frame, their lengths into a caller's
 * Uint32Array. Per segment, as Linux's TSO/GSO produces them:
 * - Ethernet header copied unchanged;
 * - IPv4: total length, identification incremented per segment (mod 2**16), header
 *   checksum recomputed; options copied. IPv6: payload length;
 * - TCP: sequence number advanced by the payload before it; FIN and PSH only on the last
 *   segment, CWR only on the first; options, window, ack and urgent pointer copied as
 *   they are; the checksum computed in full over the pseudo-header, header and payload.
 *   The input's checksum field is ignored (it is often the pseudo-header partial sum).
 *
 * Refused with a negative GsoStatus, nothing written: VLAN-tagged frames; IPv6 with any
 * extension header (next header must be TCP, so a hop-by-hop jumbogram is refused too);
 * IPv4 fragments; anything whose lengths do not fit. Bytes after the IP packet (Ethernet
 * padding) are ignored.
 *
 * The input may sit in memory another domain can rewrite while this runs: each header
 * field is read once, the validated values are written over the copy in the first
 * segment, later segments take their headers from that private copy, and each payload
 * byte is read once, as it is copied and summed. Whatever the other side does, lengths,
 * bounds and every checksum in the output stay consistent. `src` and `out` must not
 * overlap. Nothing is allocated.
 */

import { XEN_NETIF_GSO_TYPE_TCPV4, XEN_NETIF_GSO_TYPE_TCPV6 } from "../xen/netif.js";
import { onesFold, onesSum } from "./checksum.js";
import { ETH_HLEN, ETH_P_IP, ETH_P_IPV6, ETH_TYPE } from "./ethernet.js";
import {
  IP_MF,
  IP_OFFSET,
  IPPROTO_TCP,
  IPV4_CHECK,
  IPV4_DADDR,
  IPV4_FRAG_OFF,
  IPV4_HLEN,
  IPV4_ID,
  IPV4_PROTOCOL,
  IPV4_SADDR,
  IPV4_TOT_LEN,
  IPV4_VERSION_IHL,
} from "./ipv4.js";
import { IPV6_HLEN, IPV6_NEXTHDR, IPV6_PAYLOAD_LEN, IPV6_VERSION_TC, ipv6PseudoHeaderSumAt } from "./ipv6.js";
import { TCP_CHECK, TCP_CWR, TCP_DOFF, TCP_FIN, TCP_FLAGS, TCP_HLEN, TCP_PSH, TCP_SEQ } from "./tcp.js";

/** Largest input accepted: Ethernet + IPv6 header + the largest IPv6 payload length. */
export const GSO_MAX_FRAME = ETH_HLEN + IPV6_HLEN + 0xffff;

/** Why a frame was not segmented; success is the (positive) segment count. */
export enum GsoStatus {
  /** off/len/outOff not integers inside their buffers, or len > GSO_MAX_FRAME. */
  BadArgs = -1,
  /** GSO type is neither XEN_NETIF_GSO_TYPE_TCPV4 nor XEN_NETIF_GSO_TYPE_TCPV6. */
  BadType = -2,
  /** MSS not an integer in 1..65535. */
  BadMss = -3,
  /** A header (Ethernet, IP, TCP) does not fit in the frame. */
  Truncated = -4,
  /** EtherType does not match the GSO type (VLAN tags included). */
  WrongEthertype = -5,
  /** IP version does not match the GSO type. */
  BadVersion = -6,
  /** IPv4 IHL < 5. */
  BadIhl = -7,
  /** IP total/payload length shorter than its headers or past the end of the frame; IPv6 payload length 0. */
  BadLength = -8,
  /** Protocol / next header is not TCP (IPv6 extension headers are refused). */
  NotTcp = -9,
  /** IPv4 fragment (MF set or non-zero offset). */
  Fragment = -10,
  /** TCP data offset < 5 or past the IP payload. */
  BadDataOffset = -11,
  /** `out` or `lens` too small for every segment. */
  NoSpace = -12,
}

/**
 * Segments the `len`-byte frame at `src[off]` by `mss` into `out` from `outOff`; segment
 * i is `lens[i]` bytes, following segment i-1. Returns the number of segments (1 when the
 * frame carries no more than `mss` bytes of payload, or none) or a negative GsoStatus.
 * `out` needs room for count * (frame headers) + payload bytes.
 */
export function gsoSegment(
  src: Uint8Array,
  off: number,
  len: number,
  gsoType: number,
  mss: number,
  out: Uint8Array,
  outOff: number,
  lens: Uint32Array,
): number {
  if (!(Number.isInteger(off) && Number.isInteger(len) && off >= 0 && len >= 0 && off + len <= src.length))
    return GsoStatus.BadArgs;
  if (len > GSO_MAX_FRAME) return GsoStatus.BadArgs;
  if (!(Number.isInteger(outOff) && outOff >= 0 && outOff <= out.length)) return GsoStatus.BadArgs;
  const v4 = gsoType === XEN_NETIF_GSO_TYPE_TCPV4;
  if (!v4 && gsoType !== XEN_NETIF_GSO_TYPE_TCPV6) return GsoStatus.BadType;
  if (!(Number.isInteger(mss) && mss >= 1 && mss <= 0xffff)) return GsoStatus.BadMss;
  if (len < ETH_HLEN) return GsoStatus.Truncated;

  const ip = off + ETH_HLEN;
  const ethertype = (src[off + ETH_TYPE] << 8) | src[off + ETH_TYPE + 1];
  let verByte: number;
  let ipHlen: number;
  let l4Len: number;
  let fragOff = 0;
  if (v4) {
    if (ethertype !== ETH_P_IP) return GsoStatus.WrongEthertype;
    if (len < ETH_HLEN + IPV4_HLEN) return GsoStatus.Truncated;
    verByte = src[ip + IPV4_VERSION_IHL];
    if (verByte >>> 4 !== 4) return GsoStatus.BadVersion;
    ipHlen = (verByte & 0x0f) << 2;
    if (ipHlen < IPV4_HLEN) return GsoStatus.BadIhl;
    if (ETH_HLEN + ipHlen > len) return GsoStatus.Truncated;
    const totLen = (src[ip + IPV4_TOT_LEN] << 8) | src[ip + IPV4_TOT_LEN + 1];
    if (totLen < ipHlen || ETH_HLEN + totLen > len) return GsoStatus.BadLength;
    fragOff = (src[ip + IPV4_FRAG_OFF] << 8) | src[ip + IPV4_FRAG_OFF + 1];
    if ((fragOff & (IP_MF | IP_OFFSET)) !== 0) return GsoStatus.Fragment;
    if (src[ip + IPV4_PROTOCOL] !== IPPROTO_TCP) return GsoStatus.NotTcp;
    l4Len = totLen - ipHlen;
  } else {
    if (ethertype !== ETH_P_IPV6) return GsoStatus.WrongEthertype;
    if (len < ETH_HLEN + IPV6_HLEN) return GsoStatus.Truncated;
    verByte = src[ip + IPV6_VERSION_TC];
    if (verByte >>> 4 !== 6) return GsoStatus.BadVersion;
    ipHlen = IPV6_HLEN;
    const payloadLen = (src[ip + IPV6_PAYLOAD_LEN] << 8) | src[ip + IPV6_PAYLOAD_LEN + 1];
    if (payloadLen === 0 || ETH_HLEN + IPV6_HLEN + payloadLen > len) return GsoStatus.BadLength;
    if (src[ip + IPV6_NEXTHDR] !== IPPROTO_TCP) return GsoStatus.NotTcp;
    l4Len = payloadLen;
  }

  const tcp = ip + ipHlen;
  if (l4Len < TCP_HLEN) return GsoStatus.Truncated;
  const doffByte = src[tcp + TCP_DOFF];
  const tcpHlen = (doffByte >>> 4) << 2;
  if (tcpHlen < TCP_HLEN || tcpHlen > l4Len) return GsoStatus.BadDataOffset;
  const flags = src[tcp + TCP_FLAGS];
  const seq0 =
    ((src[tcp + TCP_SEQ] << 24) |
      (src[tcp + TCP_SEQ + 1] << 16) |
      (src[tcp + TCP_SEQ + 2] << 8) |
      src[tcp + TCP_SEQ + 3]) >>>
    0;

  const payload = l4Len - tcpHlen;
  const hdrLen = ETH_HLEN + ipHlen + tcpHlen;
  const count = payload === 0 ? 1 : Math.ceil(payload / mss);
  if (count > lens.length) return GsoStatus.NoSpace;
  if (out.length - outOff < count * hdrLen + payload) return GsoStatus.NoSpace;

  // Segment 0's headers: the input's bytes, then every validated field from the locals,
  // so a header the other side rewrote after the checks cannot reach the output.
  for (let k = 0; k < hdrLen; k++) out[outOff + k] = src[off + k];
  const oip = outOff + ETH_HLEN;
  out[outOff + ETH_TYPE] = ethertype >>> 8;
  out[outOff + ETH_TYPE + 1] = ethertype & 0xff;
  out[oip] = verByte;
  if (v4) {
    out[oip + IPV4_PROTOCOL] = IPPROTO_TCP;
    out[oip + IPV4_FRAG_OFF] = fragOff >>> 8;
    out[oip + IPV4_FRAG_OFF + 1] = fragOff & 0xff;
  } else {
    out[oip + IPV6_NEXTHDR] = IPPROTO_TCP;
  }
  out[oip + ipHlen + TCP_DOFF] = doffByte;
  const id0 = v4 ? (out[oip + IPV4_ID] << 8) | out[oip + IPV4_ID + 1] : 0;

  let at = outOff;
  let from = tcp + tcpHlen;
  let left = payload;
  for (let i = 0; i < count; i++) {
    const seg = Math.min(left, mss);
    if (i > 0) out.copyWithin(at, outOff, outOff + hdrLen);
    const sip = at + ETH_HLEN;
    const stcp = sip + ipHlen;
    const l4 = tcpHlen + seg;
    let sum: number;
    if (v4) {
      const totLen = ipHlen + l4;
      out[sip + IPV4_TOT_LEN] = totLen >>> 8;
      out[sip + IPV4_TOT_LEN + 1] = totLen & 0xff;
      const id = (id0 + i) & 0xffff;
      out[sip + IPV4_ID] = id >>> 8;
      out[sip + IPV4_ID + 1] = id & 0xff;
      out[sip + IPV4_CHECK] = 0;
      out[sip + IPV4_CHECK + 1] = 0;
      const hc = ~onesSum(out, sip, sip + ipHlen) & 0xffff;
      out[sip + IPV4_CHECK] = hc >>> 8;
      out[sip + IPV4_CHECK + 1] = hc & 0xff;
      sum = onesSum(out, sip + IPV4_SADDR, sip + IPV4_DADDR + 4, onesFold(IPPROTO_TCP + l4));
    } else {
      out[sip + IPV6_PAYLOAD_LEN] = l4 >>> 8;
      out[sip + IPV6_PAYLOAD_LEN + 1] = l4 & 0xff;
      sum = ipv6PseudoHeaderSumAt(out, sip, IPPROTO_TCP, l4);
    }
    const seq = (seq0 + i * mss) >>> 0;
    out[stcp + TCP_SEQ] = seq >>> 24;
    out[stcp + TCP_SEQ + 1] = (seq >>> 16) & 0xff;
    out[stcp + TCP_SEQ + 2] = (seq >>> 8) & 0xff;
    out[stcp + TCP_SEQ + 3] = seq & 0xff;
    // Linux's tcp_gso_segment: CWR stays on the first segment only, FIN and PSH on the last.
    let f = flags;
    if (i !== count - 1) f &= ~(TCP_FIN | TCP_PSH);
    if (i !== 0) f &= ~TCP_CWR;
    out[stcp + TCP_FLAGS] = f;
    out[stcp + TCP_CHECK] = 0;
    out[stcp + TCP_CHECK + 1] = 0;
    sum = onesSum(out, stcp, stcp + tcpHlen, sum);
    sum = copySum(src, from, out, stcp + tcpHlen, seg, sum);
    const tc = ~sum & 0xffff;
    out[stcp + TCP_CHECK] = tc >>> 8;
    out[stcp + TCP_CHECK + 1] = tc & 0xff;
    lens[i] = hdrLen + seg;
    at += hdrLen + seg;
    from += seg;
    left -= seg;
  }
  return count;
}

/**
 * Copies `n` bytes from `src[s]` to `dst[d]` and adds them to the folded one's complement
 * `sum` in the same pass, so each source byte is read once and the sum covers exactly
 * what was written. Folds every 32 KiB so the accumulator stays a small integer.
 */
function copySum(src: Uint8Array, s: number, dst: Uint8Array, d: number, n: number, sum: number): number {
  const end = s + n;
  const even = end - (n & 1);
  let i = s;
  let j = d;
  while (i < even) {
    const stop = Math.min(even, i + 0x8000);
    // Four bytes a turn while they last: half the loop overhead of the word loop below.
    const stop4 = stop - ((stop - i) & 3);
    for (; i < stop4; i += 4, j += 4) {
      const a = src[i];
      const b = src[i + 1];
      const c = src[i + 2];
      const e = src[i + 3];
      dst[j] = a;
      dst[j + 1] = b;
      dst[j + 2] = c;
      dst[j + 3] = e;
      sum += ((a << 8) | b) + ((c << 8) | e);
    }
    for (; i < stop; i += 2, j += 2) {
      const a = src[i];
      const b = src[i + 1];
      dst[j] = a;
      dst[j + 1] = b;
      sum += (a << 8) | b;
    }
    sum = onesFold(sum);
  }
  if (i < end) {
    const a = src[i];
    dst[j] = a;
    sum = onesFold(sum + (a << 8));
  }
  return sum;
}
