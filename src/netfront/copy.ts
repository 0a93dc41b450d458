/**
 * Allocation-free copies for netfront's hot path. `copyBytes` (wire/copy.ts) makes a short
 * view per large copy; netfront copies every frame, so it walks 8-byte words when both
 * ends are aligned (buffers are page-aligned, the stack's slots 8-aligned) and bytes
 * otherwise. A frame handed in as a Uint8Array is read through word views over its buffer,
 * made once per distinct buffer (the stack reuses one), not per frame.
 */
import { PAGE_SIZE } from "../hv/memory.js";
import type { Mem } from "../wire/mem.js";

/** Copies `len` bytes between two Mems (ranges checked by the caller). */
export function copyMem(dst: Mem, dstOff: number, src: Mem, srcOff: number, len: number): void {
  copyRaw(dst.f64, dst.u8, dstOff, src.f64, src.u8, srcOff, len);
}

function copyRaw(
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

/** Word views over the buffer of the frames a stack hands in, rebuilt when the buffer changes. */
export class FrameSource {
  #buf: ArrayBufferLike | null = null;
  #u8: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  #f64: Float64Array<ArrayBufferLike> = new Float64Array(0);

  /** Copies `len` bytes of `frame` from `at` into `dst` at `dstOff`. */
  copyOut(frame: Uint8Array, at: number, dst: Mem, dstOff: number, len: number): void {
    if (frame.buffer !== this.#buf) {
      this.#buf = frame.buffer;
      this.#u8 = new Uint8Array(frame.buffer);
      this.#f64 = new Float64Array(frame.buffer, 0, frame.buffer.byteLength >>> 3);
    }
    copyRaw(dst.f64, dst.u8, dstOff, this.#f64, this.#u8, frame.byteOffset + at, len);
  }
}
