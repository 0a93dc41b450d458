/**
 * Counters that stay on: one Float64Array slot per name in a SharedArrayBuffer. The single
 * writer bumps slots with plain stores (no atomics on the hot path); any thread holding the
 * buffer reads a live, possibly slightly stale, value. Float64 keeps integers exact to 2^53.
 */
export class Counters<N extends string = string> {
  readonly names: readonly N[];
  readonly f64: Float64Array;
  readonly #index: Record<string, number>;

  constructor(names: readonly N[], buffer?: SharedArrayBuffer) {
    this.names = names;
    const sab = buffer ?? new SharedArrayBuffer(names.length * 8);
    if (sab.byteLength < names.length * 8) throw new RangeError("Counter buffer too small");
    this.f64 = new Float64Array(sab, 0, names.length);
    this.#index = Object.create(null) as Record<string, number>;
    names.forEach((n, i) => {
      this.#index[n] = i;
    });
  }

  get buffer(): SharedArrayBuffer {
    return this.f64.buffer as SharedArrayBuffer;
  }

  /** The slot of `name`, for hot paths that bump `f64[slot]` directly. */
  slot(name: N): number {
    const i = this.#index[name];
    if (i === undefined) throw new RangeError(`Unknown counter: ${name}`);
    return i;
  }

  add(name: N, n = 1): void {
    this.f64[this.slot(name)] += n;
  }

  get(name: N): number {
    return this.f64[this.slot(name)];
  }

  snapshot(): Record<N, number> {
    const out = {} as Record<N, number>;
    this.names.forEach((n, i) => {
      out[n] = this.f64[i];
    });
    return out;
  }
}
