/**
 * Frames for netback's tests: Ethernet + IPv4/IPv6 + UDP/TCP with a payload pattern that
 * names the frame (sequence number at a fixed place), and an independent checksum check.
 */
export const MAC_BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
export const macOf = (domid: number): number[] => [0x02, 0, 0, 0, 0, domid];

export interface FrameSpec {
  dst: number[];
  src: number[];
  /** Total frame bytes (>= headers). */
  len: number;
  v6?: boolean;
  tcp?: boolean;
  seq?: number;
  /** Leave the L4 checksum holding the pseudo-header sum only (as a csum_blank sender). */
  blank?: boolean;
  sport?: number;
}

function sum16(b: Uint8Array, from: number, to: number, s = 0): number {
  for (let i = from; i < to; i += 2) s += (b[i] << 8) | (i + 1 < to ? b[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

export function headerLen(s: Pick<FrameSpec, "v6" | "tcp">): number {
  return 14 + (s.v6 ? 40 : 20) + (s.tcp ? 20 : 8);
}

export function buildFrame(s: FrameSpec): Uint8Array {
  const b = new Uint8Array(s.len);
  b.set(s.dst, 0);
  b.set(s.src, 6);
  const ip = 14;
  const l4 = ip + (s.v6 ? 40 : 20);
  const l4Len = s.len - l4;
  if (s.v6) {
    b[12] = 0x86;
    b[13] = 0xdd;
    b[ip] = 0x60;
    b[ip + 4] = l4Len >>> 8;
    b[ip + 5] = l4Len & 0xff;
    b[ip + 6] = s.tcp ? 6 : 17;
    b[ip + 7] = 64;
    for (let i = 0; i < 16; i++) {
      b[ip + 8 + i] = i === 15 ? s.src[5] : 0xfd;
      b[ip + 24 + i] = i === 15 ? s.dst[5] : 0xfd;
    }
  } else {
    b[12] = 0x08;
    b[13] = 0x00;
    b[ip] = 0x45;
    const tot = s.len - 14;
    b[ip + 2] = tot >>> 8;
    b[ip + 3] = tot & 0xff;
    b[ip + 8] = 64;
    b[ip + 9] = s.tcp ? 6 : 17;
    b.set([10, 0, 0, s.src[5]], ip + 12);
    b.set([10, 0, 0, s.dst[5]], ip + 16);
    const hc = ~sum16(b, ip, ip + 20) & 0xffff;
    b[ip + 10] = hc >>> 8;
    b[ip + 11] = hc & 0xff;
  }
  const sport = s.sport ?? 1234;
  b[l4] = sport >>> 8;
  b[l4 + 1] = sport & 0xff;
  b[l4 + 3] = 80;
  let hdr = 8;
  if (s.tcp) {
    b[l4 + 12] = 0x50;
    b[l4 + 13] = 0x18;
    b[l4 + 15] = 0xff;
    hdr = 20;
  } else {
    b[l4 + 4] = l4Len >>> 8;
    b[l4 + 5] = l4Len & 0xff;
  }
  const seq = s.seq ?? 0;
  for (let i = l4 + hdr; i < s.len; i++) b[i] = (i * 7 + seq) & 0xff;
  if (l4 + hdr + 4 <= s.len) new DataView(b.buffer).setUint32(l4 + hdr, seq);
  const pseudo = pseudoSum(b, !!s.v6, s.tcp ? 6 : 17, l4Len);
  const ck = s.tcp ? l4 + 16 : l4 + 6;
  if (s.blank) {
    b[ck] = pseudo >>> 8;
    b[ck + 1] = pseudo & 0xff;
  } else {
    let c = ~sum16(b, l4, s.len, pseudo) & 0xffff;
    if (c === 0 && !s.tcp) c = 0xffff;
    b[ck] = c >>> 8;
    b[ck + 1] = c & 0xff;
  }
  return b;
}

function pseudoSum(b: Uint8Array, v6: boolean, proto: number, l4Len: number): number {
  const ip = 14;
  if (v6) return sum16(b, ip + 8, ip + 40, (l4Len >>> 16) + (l4Len & 0xffff) + proto);
  return sum16(b, ip + 12, ip + 20, proto + l4Len);
}

/** Whether the frame's IPv4 header (if any) and L4 checksum are right. */
export function checksumsOk(b: Uint8Array): boolean {
  const v6 = b[12] === 0x86 && b[13] === 0xdd;
  const ip = 14;
  let l4: number;
  let l4Len: number;
  let proto: number;
  if (v6) {
    l4 = ip + 40;
    l4Len = (b[ip + 4] << 8) | b[ip + 5];
    proto = b[ip + 6];
  } else {
    if ((~sum16(b, ip, ip + 20) & 0xffff) !== 0) return false;
    l4 = ip + 20;
    l4Len = ((b[ip + 2] << 8) | b[ip + 3]) - 20;
    proto = b[ip + 9];
  }
  return (~sum16(b, l4, l4 + l4Len, pseudoSum(b, v6, proto, l4Len)) & 0xffff) === 0;
}

/** The sequence number a frame built here carries. */
export function seqOf(b: Uint8Array): number {
  const v6 = b[12] === 0x86 && b[13] === 0xdd;
  const tcp = b[14 + (v6 ? 6 : 9)] === 6;
  const at = headerLen({ v6, tcp });
  return at + 4 <= b.length ? new DataView(b.buffer, b.byteOffset).getUint32(at) : -1;
}
