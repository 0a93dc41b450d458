/** Test frames for netfront: a numbered pattern, checkable from its bytes alone. */

/** Ethernet header to our test MAC, an experimental EtherType, then seq and a pattern. */
export function fillFrame(b: Uint8Array, off: number, len: number, seq: number): void {
  for (let i = 0; i < 6; i++) b[off + i] = 0xff;
  b[off + 6] = 0x00;
  b[off + 7] = 0x16;
  b[off + 8] = 0x3e;
  b[off + 9] = 0;
  b[off + 10] = 0;
  b[off + 11] = 2;
  b[off + 12] = 0x88;
  b[off + 13] = 0xb5;
  for (let i = 14; i < len; i++) b[off + i] = i < 18 ? (seq >>> ((17 - i) * 8)) & 255 : (seq * 7 + i) & 255;
}

/** The seq a frame carries, or -1 when any byte is not the pattern's. */
export function checkFrame(b: Uint8Array, off: number, len: number): number {
  if (len < 18 || b[off + 12] !== 0x88 || b[off + 13] !== 0xb5) return -1;
  const seq = ((b[off + 14] << 24) | (b[off + 15] << 16) | (b[off + 16] << 8) | b[off + 17]) >>> 0;
  for (let i = 18; i < len; i++) if (b[off + i] !== ((seq * 7 + i) & 255)) return -1;
  return seq;
}

/** An Ethernet + IPv4 + UDP frame of `len` bytes for the flow (src, dst, sport, dport). */
export function udpFrame(len: number, src: number, dst: number, sport: number, dport: number): Uint8Array {
  const b = new Uint8Array(len);
  fillFrame(b, 0, len, 0);
  b.fill(0, 14, Math.min(len, 42));
  b[12] = 0x08;
  b[13] = 0x00;
  b[14] = 0x45;
  b[23] = 17;
  const put32 = (at: number, v: number) => {
    b[at] = v >>> 24;
    b[at + 1] = v >>> 16;
    b[at + 2] = v >>> 8;
    b[at + 3] = v;
  };
  put32(26, src);
  put32(30, dst);
  b[34] = sport >>> 8;
  b[35] = sport;
  b[36] = dport >>> 8;
  b[37] = dport;
  return b;
}
