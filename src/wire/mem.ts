import "../base/endian.js";

/**
 * The views bundle: one set of typed arrays over one (Shared)ArrayBuffer, created once and
 * passed to every accessor with an absolute byte offset. Accessors index the view that
 * matches the field's width (`u32[off >>> 2]`), so they allocate nothing.
 *
 * Trap to remember: an out-of-range typed-array index reads `undefined` and writes are
 * dropped, while DataView throws. Code reading untrusted offsets validates `off + len <=
 * limit` itself before touching memory.
 */
export interface Mem {
  readonly buffer: ArrayBufferLike;
  readonly byteLength: number;
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly i16: Int16Array;
  readonly u32: Uint32Array;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly dv: DataView;
  /**
   * copy.ts's cache of source views, one per 2 KiB of this memory (made on first use): a
   * native copy between two buffers needs a view of exactly the bytes it copies, and frames
   * of one size leave from the same buffers again and again, so the view is made once.
   */
  spans: (Uint8Array | undefined)[] | null;
}

/** Views over the whole of `buffer`; its length must be a multiple of 8. */
export function memOf(buffer: ArrayBufferLike): Mem {
  const n = buffer.byteLength;
  if (n % 8 !== 0) throw new RangeError(`Cannot view buffer: length ${n} is not a multiple of 8`);
  return {
    buffer,
    byteLength: n,
    u8: new Uint8Array(buffer),
    u16: new Uint16Array(buffer),
    i16: new Int16Array(buffer),
    u32: new Uint32Array(buffer),
    i32: new Int32Array(buffer),
    f64: new Float64Array(buffer),
    dv: new DataView(buffer),
    spans: null,
  };
}

/** A private (unshared) Mem of `bytes` bytes, rounded up to 8. */
export function privateMem(bytes: number): Mem {
  return memOf(new ArrayBuffer((bytes + 7) & ~7));
}

/** A shared Mem of `bytes` bytes, rounded up to 8. */
export function sharedMem(bytes: number): Mem {
  return memOf(new SharedArrayBuffer((bytes + 7) & ~7));
}
