/**
 * Frames for the end-to-end chain tests, built in the test thread (the guests only send what
 * they are handed), and the checks a receiver's copy must pass: the same bytes, or the same
 * bytes with a completed L4 checksum, or valid TCP segments of a GSO superframe.
 */
import { onesFold, onesSum } from "../../src/wire/net/checksum.js";

export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;
/** IEEE 802 local experimental EtherType: frames that are neither IPv4 nor IPv6. */
export const ETH_P_RAW = 0x88b5;
/** The "hello" frames each guest broadcasts so the switch learns its MAC; receivers skip them. */
export const ETH_P_HELLO = 0x88b6;

export type FrameKind = "raw" | "udp4" | "tcp4" | "tcp6" | "udp6";

export interface FrameSpec {
  readonly kind: FrameKind;
  /** Whole frame length, Ethernet header included. */
  readonly len: number;
  readonly dst: number;
  readonly src: number;
  /** Payload seed and the UDP/TCP source port (multi-queue tests vary it per flow). */
  readonly seed: number;
  readonly sport?: number;
  /** Write a blank checksum (the pseudo-header sum, as Linux leaves it for CHECKSUM_PARTIAL). */
  readonly blank?: boolean;
}

export const HDR: Record<FrameKind, number> = { raw: 14, udp4: 42, tcp4: 54, udp6: 62, tcp6: 74 };

export function macBytes(mac: number): number[] {
  return [
    Math.floor(mac / 2 ** 40) & 0xff,
    Math.floor(mac / 2 ** 32) & 0xff,
    (mac >>> 24) & 0xff,
    (mac >>> 16) & 0xff,
    (mac >>> 8) & 0xff,
    mac & 0xff,
  ];
}

export function parseMac(s: string): number {
  return Number.parseInt(s.replaceAll(":", ""), 16);
}

/** Builds the frame: headers right for its length, a seeded payload, a full or blank checksum. */
export function buildFrame(s: FrameSpec): Uint8Array {
  const f = new Uint8Array(s.len);
  const dv = new DataView(f.buffer);
  f.set(macBytes(s.dst), 0);
  f.set(macBytes(s.src), 6);
  const type = s.kind === "raw" ? ETH_P_RAW : s.kind === "udp4" || s.kind === "tcp4" ? ETH_P_IP : ETH_P_IPV6;
  dv.setUint16(12, type);
  // Payload first (a cheap LCG keyed by the seed), headers written over its start.
  let x = (s.seed * 2654435761 + 12345) >>> 0;
  for (let i = 14; i < s.len; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    f[i] = x >>> 24;
  }
  const sport = s.sport ?? 1000 + (s.seed % 50000);
  const tcp = s.kind === "tcp4" || s.kind === "tcp6";
  if (s.kind === "udp4" || s.kind === "tcp4") {
    const ip = 14;
    f.fill(0, ip, ip + 20);
    f[ip] = 0x45;
    dv.setUint16(ip + 2, s.len - 14);
    dv.setUint16(ip + 4, s.seed & 0xffff);
    f[ip + 8] = 64;
    f[ip + 9] = tcp ? 6 : 17;
    dv.setUint32(ip + 12, 0x0a000001);
    dv.setUint32(ip + 16, 0x0a000002);
    dv.setUint16(ip + 10, ~onesFold(onesSum(f, ip, ip + 20)) & 0xffff);
  } else if (s.kind === "udp6" || s.kind === "tcp6") {
    const ip = 14;
    f.fill(0, ip, ip + 40);
    f[ip] = 0x60;
    dv.setUint16(ip + 4, s.len - 54);
    f[ip + 6] = tcp ? 6 : 17;
    f[ip + 7] = 64;
    f[ip + 8] = 0xfd;
    f[ip + 23] = 1;
    f[ip + 24] = 0xfd;
    f[ip + 39] = 2;
  }
  if (s.kind === "raw") return f;
  const l4 = s.kind === "udp4" || s.kind === "tcp4" ? 34 : 54;
  dv.setUint16(l4, sport);
  dv.setUint16(l4 + 2, 7);
  if (tcp) {
    dv.setUint32(l4 + 4, s.seed >>> 0);
    dv.setUint32(l4 + 8, 1);
    f[l4 + 12] = 5 << 4;
    f[l4 + 13] = 0x18; // PSH|ACK
    dv.setUint16(l4 + 14, 65535);
    dv.setUint16(l4 + 18, 0);
  } else dv.setUint16(l4 + 4, s.len - l4);
  const check = l4 + (tcp ? 16 : 6);
  dv.setUint16(check, 0);
  if (s.blank) dv.setUint16(check, onesFold(pseudoSum(f, s.len)) & 0xffff);
  else {
    let c = ~onesFold(onesSum(f, l4, s.len, pseudoSum(f, s.len))) & 0xffff;
    if (c === 0 && !tcp) c = 0xffff;
    dv.setUint16(check, c);
  }
  return f;
}

function pseudoSum(f: Uint8Array, len: number): number {
  const v4 = ((f[12] << 8) | f[13]) === ETH_P_IP;
  const l4 = v4 ? 34 : 54;
  const proto = v4 ? f[23] : f[20];
  const l4Len = len - l4;
  return v4
    ? onesSum(f, 26, 34, onesFold(proto + l4Len))
    : onesSum(f, 22, 54, onesFold(proto + (l4Len >>> 16) + (l4Len & 0xffff)));
}

/** Offset of the L4 checksum of an IPv4/IPv6 TCP/UDP frame, or -1. */
export function checkOffset(f: Uint8Array): number {
  const type = (f[12] << 8) | f[13];
  const l4 = type === ETH_P_IP ? 34 : type === ETH_P_IPV6 ? 54 : -1;
  if (l4 < 0) return -1;
  const proto = type === ETH_P_IP ? f[23] : f[20];
  return proto === 6 ? l4 + 16 : proto === 17 ? l4 + 6 : -1;
}

/** True when the frame's L4 checksum verifies (and, for IPv4, its header checksum). */
export function l4ChecksumOk(f: Uint8Array): boolean {
  const type = (f[12] << 8) | f[13];
  const v4 = type === ETH_P_IP;
  if (v4 && (onesFold(onesSum(f, 14, 34)) & 0xffff) !== 0xffff) return false;
  const l4 = v4 ? 34 : 54;
  const ipLen = v4 ? ((f[16] << 8) | f[17]) + 14 : ((f[18] << 8) | f[19]) + 54;
  if (ipLen !== f.length) return false;
  return (onesFold(onesSum(f, l4, f.length, pseudoSum(f, f.length))) & 0xffff) === 0xffff;
}

/** The frame with its L4 checksum field zeroed (to compare everything else byte for byte). */
export function withoutCheck(f: Uint8Array): Uint8Array {
  const c = checkOffset(f);
  const g = f.slice();
  if (c >= 0) {
    g[c] = 0;
    g[c + 1] = 0;
  }
  return g;
}

/** First differing index of two frames, -1 if equal (for short failure messages). */
export function firstDiff(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/**
 * Checks that `segs` are the TCP segments a GSO superframe `sup` must be cut into with MSS
 * `mss`: each a valid frame (IP and TCP checksums right, IP lengths and ids, sequence numbers
 * advancing, PSH/FIN only on the last), their payloads concatenated equal to the superframe's.
 * Returns a failure reason or null.
 */
export function checkSegments(sup: Uint8Array, segs: Uint8Array[], mss: number): string | null {
  const v4 = ((sup[12] << 8) | sup[13]) === ETH_P_IP;
  const hdr = v4 ? 54 : 74;
  const l4 = v4 ? 34 : 54;
  const payload = sup.length - hdr;
  const want = Math.max(1, Math.ceil(payload / mss));
  if (segs.length !== want) return `${segs.length} segments, expected ${want}`;
  const sdv = new DataView(sup.buffer, sup.byteOffset);
  const seq0 = sdv.getUint32(l4 + 4);
  let at = hdr;
  for (const [i, s] of segs.entries()) {
    const dv = new DataView(s.buffer, s.byteOffset);
    const plen = Math.min(mss, sup.length - at);
    if (s.length !== hdr + plen) return `segment ${i}: ${s.length} bytes, expected ${hdr + plen}`;
    if (!l4ChecksumOk(s)) return `segment ${i}: bad checksum`;
    if (firstDiff(s.subarray(0, 12), sup.subarray(0, 12)) >= 0) return `segment ${i}: MACs changed`;
    if (dv.getUint32(l4 + 4) !== (seq0 + (at - hdr)) >>> 0)
      return `segment ${i}: seq ${dv.getUint32(l4 + 4)}`;
    if (firstDiff(s.subarray(hdr), sup.subarray(at, at + plen)) >= 0) return `segment ${i}: payload differs`;
    const last = i === segs.length - 1;
    if (!last && (s[l4 + 13] & 0x09) !== 0) return `segment ${i}: PSH/FIN before the last`;
    if (last && (s[l4 + 13] & 0x08) !== (sup[l4 + 13] & 0x08)) return `segment ${i}: PSH lost`;
    at += plen;
  }
  return null;
}
