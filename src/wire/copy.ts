/**
 * Byte copies between Mems without allocating. Measured on the 2-core target
 * (shared/reference/perf-lessons.md): for small frames a Float64Array word loop beats
 * `set`/`copyWithin` by 2-3x; above a few hundred bytes the native copy wins. A native copy
 * between two buffers needs a view of exactly its source bytes: each 2 KiB of a source keeps
 * the view last copied from there (Mem.spans), so a stream of frames of one size (MTU-sized
 * TCP, a benchmark) makes no view after its first pass over the buffers, and a size change
 * costs one. V8 keeps NaN bit patterns through Float64Array element copies in every tier (a
 * test holds it to that), so the word loop is an exact byte copy.
 */
import type { Mem } from "./mem.js";

/** The span cache's grain: a netmap buffer (half a page), so two VALE buffers of a page keep a view each. */
const SPAN_BYTES = 2048;

/** Below this many bytes (and 8-byte aligned ends) the word loop is used. */
export const WORD_COPY_MAX = 256;

/**
 * Copies `len` bytes from `src` at `srcOff` to `dst` at `dstOff`. Callers have checked
 * both ranges. Overlap is allowed only when `src === dst` (then copyWithin handles it).
 */
export function copyBytes(dst: Mem, dstOff: number, src: Mem, srcOff: number, len: number): void {
  if (
    len <= WORD_COPY_MAX &&
    ((dstOff | srcOff) & 7) === 0 &&
    (src !== dst || disjoint(dstOff, srcOff, len))
  ) {
    const words = len >>> 3;
    const d = dst.f64;
    const s = src.f64;
    const di = dstOff >>> 3;
    const si = srcOff >>> 3;
    for (let i = 0; i < words; i++) d[di + i] = s[si + i];
    const done = words << 3;
    if (done !== len) {
      const d8 = dst.u8;
      const s8 = src.u8;
      for (let i = done; i < len; i++) d8[dstOff + i] = s8[srcOff + i];
    }
    return;
  }
  if (src === dst) {
    dst.u8.copyWithin(dstOff, srcOff, srcOff + len);
    return;
  }
  if (len <= WORD_COPY_MAX) {
    // Unaligned small frames (a VALE buffer's frame behind a 2-byte pad) by bytes: the
    // native copy below costs a view per call, a per-frame allocation on the hot path.
    const d8 = dst.u8;
    const s8 = src.u8;
    for (let i = 0; i < len; i++) d8[dstOff + i] = s8[srcOff + i];
    return;
  }
  dst.u8.set(spanOf(src, srcOff, len), dstOff);
}

/** A view of `len` bytes of `src` from `off`: the one its span kept if it is that, else a new one kept. */
function spanOf(src: Mem, off: number, len: number): Uint8Array {
  let spans = src.spans;
  if (spans === null) {
    spans = new Array<Uint8Array | undefined>(Math.ceil(src.byteLength / SPAN_BYTES)).fill(undefined);
    src.spans = spans;
  }
  const at = (off / SPAN_BYTES) | 0;
  const v = spans[at];
  if (v !== undefined && v.byteOffset === src.u8.byteOffset + off && v.length === len) return v;
  const fresh = src.u8.subarray(off, off + len);
  spans[at] = fresh;
  return fresh;
}

function disjoint(a: number, b: number, len: number): boolean {
  return a + len <= b || b + len <= a;
}
