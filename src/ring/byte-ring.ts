/**
 * A byte-stream ring as xenstore and the console use (io/xs_wire.h's
 * xenstore_domain_interface): a power-of-two byte buffer and free-running u32 producer and
 * consumer offsets, buffer index = offset mod size. Each side owns one index and reads the
 * other's once per call; a peer index claiming more than the ring holds is reported
 * (BYTE_RING_BAD_INDEX), never followed. Bytes are copied out before anyone parses them.
 */
import type { Mem } from "../wire/mem.js";

export const BYTE_RING_BAD_INDEX = -1;

export interface ByteRingPlace {
  readonly m: Mem;
  /** Byte offset of the data buffer. */
  readonly buf: number;
  readonly size: number;
  /** Byte offsets of the consumer and producer index words. */
  readonly consAt: number;
  readonly prodAt: number;
}

/** The consuming side: reads bytes the peer produced and advances the consumer index. */
export class ByteRingReader {
  readonly #p: ByteRingPlace;
  readonly #consI: number;
  readonly #prodI: number;
  #cons: number;

  constructor(p: ByteRingPlace) {
    this.#p = p;
    this.#consI = p.consAt >>> 2;
    this.#prodI = p.prodAt >>> 2;
    this.#cons = Atomics.load(p.m.u32, this.#consI);
  }

  /** Bytes waiting, or BYTE_RING_BAD_INDEX when the producer's index is impossible. */
  available(): number {
    const n = (Atomics.load(this.#p.m.u32, this.#prodI) - this.#cons) >>> 0;
    return n > this.#p.size ? BYTE_RING_BAD_INDEX : n;
  }

  /** Copies up to `max` bytes into `dst` at `at` and consumes them; returns the count or an error. */
  read(dst: Uint8Array, at: number, max: number): number {
    const avail = this.available();
    if (avail < 0) return avail;
    const n = Math.min(avail, max);
    const { m, buf, size } = this.#p;
    for (let i = 0; i < n; ) {
      const idx = (this.#cons + i) & (size - 1);
      const run = Math.min(n - i, size - idx);
      dst.set(m.u8.subarray(buf + idx, buf + idx + run), at + i);
      i += run;
    }
    this.#cons = (this.#cons + n) >>> 0;
    Atomics.store(m.u32, this.#consI, this.#cons);
    return n;
  }
}

/** The producing side: writes bytes and advances the producer index. */
export class ByteRingWriter {
  readonly #p: ByteRingPlace;
  readonly #consI: number;
  readonly #prodI: number;
  #prod: number;

  constructor(p: ByteRingPlace) {
    this.#p = p;
    this.#consI = p.consAt >>> 2;
    this.#prodI = p.prodAt >>> 2;
    this.#prod = Atomics.load(p.m.u32, this.#prodI);
  }

  /** Free bytes, or BYTE_RING_BAD_INDEX when the consumer's index is impossible. */
  space(): number {
    const used = (this.#prod - Atomics.load(this.#p.m.u32, this.#consI)) >>> 0;
    return used > this.#p.size ? BYTE_RING_BAD_INDEX : this.#p.size - used;
  }

  /** Writes up to `n` bytes of `src` from `at`; returns how many fit, or an error. */
  write(src: Uint8Array, at: number, n: number): number {
    const free = this.space();
    if (free < 0) return free;
    const k = Math.min(free, n);
    const { m, buf, size } = this.#p;
    for (let i = 0; i < k; ) {
      const idx = (this.#prod + i) & (size - 1);
      const run = Math.min(k - i, size - idx);
      m.u8.set(src.subarray(at + i, at + i + run), buf + idx);
      i += run;
    }
    this.#prod = (this.#prod + k) >>> 0;
    Atomics.store(m.u32, this.#prodI, this.#prod);
    return k;
  }
}
