/**
 * The learning table of a VALE switch: source MAC -> port, direct-mapped like netmap's
 * (a newer address overwrites an older one in the same bucket). MACs are never strings or
 * boxed numbers here: each is its two halves, the first 2 and the last 4 bytes, so a
 * lookup allocates nothing.
 */
export const LEARN_BUCKETS = 4096;
export const NO_PORT = -1;

export class LearnTable {
  readonly #lo = new Uint32Array(LEARN_BUCKETS);
  readonly #hi = new Int32Array(LEARN_BUCKETS).fill(-1);
  readonly #port = new Int32Array(LEARN_BUCKETS);
  #changes = 0;

  /** Bumped whenever a bucket changes: a lookup cached at another count may be stale. */
  get changes(): number {
    return this.#changes;
  }

  static bucket(hi16: number, lo32: number): number {
    // Mix the bytes that vary most (the low ones) with the OUI half.
    const h = Math.imul(lo32 ^ (hi16 << 11), 0x9e3779b1);
    return (h >>> 20) & (LEARN_BUCKETS - 1);
  }

  learn(hi16: number, lo32: number, port: number): void {
    const b = LearnTable.bucket(hi16, lo32);
    if (this.#hi[b] === hi16 && this.#lo[b] === lo32 && this.#port[b] === port) return;
    this.#lo[b] = lo32;
    this.#hi[b] = hi16;
    this.#port[b] = port;
    this.#changes++;
  }

  lookup(hi16: number, lo32: number): number {
    const b = LearnTable.bucket(hi16, lo32);
    return this.#hi[b] === hi16 && this.#lo[b] === lo32 ? this.#port[b] : NO_PORT;
  }

  /** Forgets every address learnt on `port` (the port left the switch). */
  forgetPort(port: number): void {
    for (let b = 0; b < LEARN_BUCKETS; b++) if (this.#hi[b] >= 0 && this.#port[b] === port) this.#hi[b] = -1;
    this.#changes++;
  }
}
