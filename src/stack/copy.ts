/**
 * Copies between the stack's memory and the device's lent TX buffers, allocating nothing
 * (wire/copy.ts makes a subarray for large copies between buffers). Headers put payloads at
 * offsets like 42, so the word loop runs whenever both ends share their alignment mod 8,
 * which holds when both frames start 8-aligned (slots and pool pages do).
 */
import type { Mem } from "../wire/mem.js";

/** Copies `len` bytes from `src` at `srcAt` to `dst` at `dstAt` (ranges checked by the caller, disjoint). */
export function copyAcross(dst: Mem, dstAt: number, src: Mem, srcAt: number, len: number): void {
  if (dst.buffer === src.buffer) {
    dst.u8.copyWithin(dstAt, srcAt, srcAt + len);
    return;
  }
  const d8 = dst.u8;
  const s8 = src.u8;
  let i = 0;
  if (((dstAt ^ srcAt) & 7) === 0 && len >= 16) {
    // Bytes up to the first shared 8-byte boundary, then words.
    const lead = (8 - (dstAt & 7)) & 7;
    for (; i < lead; i++) d8[dstAt + i] = s8[srcAt + i];
    const words = (len - lead) >>> 3;
    const d64 = dst.f64;
    const s64 = src.f64;
    const di = (dstAt + lead) >>> 3;
    const si = (srcAt + lead) >>> 3;
    for (let w = 0; w < words; w++) d64[di + w] = s64[si + w];
    i = lead + (words << 3);
  }
  for (; i < len; i++) d8[dstAt + i] = s8[srcAt + i];
}
