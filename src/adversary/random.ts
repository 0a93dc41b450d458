/**
 * Seeded randomness for the adversary's random mode: the same seed writes the same words,
 * so a run that finds something can be replayed. mulberry32: small, fast, good enough to
 * spread bad input; not for anything secret.
 */
export class Rng {
  #s: number;

  constructor(seed: number) {
    this.#s = seed >>> 0;
  }

  /** A uniform u32. */
  u32(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return this.u32() % n;
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.u32() < p * 0x1_0000_0000;
  }

  /** One of `xs`. */
  pick<T>(xs: readonly T[]): T {
    return xs[this.below(xs.length)] as T;
  }
}

/** Totals a random run reports. */
export interface RandomTotals {
  /** Words written into shared rings, grant entries, link pages and xenstore values. */
  writes: number;
  /** Connections the peer ended (fatal) and the adversary made again. */
  reconnects: number;
  /** Responses the peer wrote back. */
  responses: number;
  /** Packets or frames the victim counted as dropped or errored. */
  dropped: number;
}
