/**
 * Allocation-free copies for netfront's hot path, the faster method per size as measured
 * on the 2-core target (Node 20, into a SharedArrayBuffer, ns per copy at 64 / 256 / 512 /
 * 1500 B): an 8-byte word loop 16 / 53 / 94 / 245; `copyWithin` inside one buffer 42 / 44 /
 * 60 / 103; `set` from the caller's whole view about 34 / - / - / 112; `set` from a fresh
 * subarray 74 / 76 / 90 / 132, but that view is garbage per frame, so it is never used.
 * Hence: `copyWithin` above SAME_BUFFER_WORD_MAX when both ends share a buffer; `set` above
 * WORD_COPY_MAX when the caller's view is exactly the bytes to copy; else the word loop
 * (both ends aligned: pool buffers are page-aligned, the stack's slots 8-aligned) or bytes.
 * A zero-copy sender (tx.ts `lend`) skips all of this.
 */
import { PAGE_SIZE } from "../hv/memory.js";
import type { Mem } from "../wire/mem.js";

/** From the caller's own whole view, above this many bytes `set` beats the word loop. */
export const WORD_COPY_MAX = 128;
/** Inside one buffer, above this many bytes `copyWithin` beats the word loop. */
export const SAME_BUFFER_WORD_MAX = 128;

/** Copies `len` bytes between two Mems (ranges checked by the caller; disjoint when one buffer). */
export function copyMem(dst: Mem, dstOff: number, src: Mem, srcOff: number, len: number): void {
  if (dst.buffer === src.buffer && len > SAME_BUFFER_WORD_MAX) {
    dst.u8.copyWithin(dstOff, srcOff, srcOff + len);
    return;
  }
  copyWords(dst.f64, dst.u8, dstOff, src.f64, src.u8, srcOff, len);
}

function copyWords(
  d64: Float64Array,
  d8: Uint8Array,
  dstOff: number,
  s64: Float64Array,
  s8: Uint8Array,
  srcOff: number,
  len: number,
): void {
  let i = 0;
  if (((dstOff | srcOff) & 7) === 0) {
    const words = len >>> 3;
    const di = dstOff >>> 3;
    const si = srcOff >>> 3;
    for (let w = 0; w < words; w++) d64[di + w] = s64[si + w];
    i = words << 3;
  }
  for (; i < len; i++) d8[dstOff + i] = s8[srcOff + i];
}

/**
 * Zeroes whole pages before they are granted to an untrusted backend (XSA-403): a pool page
 * may last have held anything of the guest's, and the grant lets the backend read all of it.
 */
export function zeroPages(mem: Mem, pages: readonly number[]): void {
  for (const p of pages) mem.u8.fill(0, p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
}

/**
 * Copies frames the caller hands in as Uint8Arrays. Word views over a frame's buffer are
 * made once per buffer that is seen twice running (the stack reuses one), so frames from
 * many buffers (a sender cycling through one array per flow) make no views: they are copied
 * natively when the view is the frame, else by a byte loop from the caller's view.
 */
export class FrameSource {
  #buf: ArrayBufferLike | null = null;
  #missed: ArrayBufferLike | null = null;
  #u8: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  #f64: Float64Array<ArrayBufferLike> = new Float64Array(0);

  /** Copies `len` bytes of `frame` from `at` into `dst` at `dstOff`. */
  copyOut(frame: Uint8Array, at: number, dst: Mem, dstOff: number, len: number): void {
    const buf = frame.buffer;
    const from = frame.byteOffset + at;
    if (buf === dst.buffer) {
      if (len > SAME_BUFFER_WORD_MAX) {
        dst.u8.copyWithin(dstOff, from, from + len);
        return;
      }
    } else if (len > WORD_COPY_MAX && at === 0 && len === frame.length) {
      dst.u8.set(frame, dstOff);
      return;
    }
    if (buf !== this.#buf) {
      if (buf !== this.#missed) {
        this.#missed = buf;
        const d8 = dst.u8;
        for (let i = 0; i < len; i++) d8[dstOff + i] = frame[at + i];
        return;
      }
      this.#buf = buf;
      this.#u8 = new Uint8Array(buf);
      this.#f64 = new Float64Array(buf, 0, buf.byteLength >>> 3);
    }
    copyWords(dst.f64, dst.u8, dstOff, this.#f64, this.#u8, from, len);
  }
}
