/**
 * Injectable time. Drivers take a Clock so a whole host can run under a fake clock in
 * tests; `nowNs` is monotonic.
 */
export interface Clock {
  nowMs(): number;
  nowNs(): bigint;
}

export const systemClock: Clock = {
  nowMs: () => performance.now(),
  nowNs: () => process.hrtime.bigint(),
};

/** A clock that moves only when told to. */
export class FakeClock implements Clock {
  #ms: number;
  constructor(startMs = 0) {
    this.#ms = startMs;
  }
  nowMs(): number {
    return this.#ms;
  }
  nowNs(): bigint {
    return BigInt(Math.round(this.#ms * 1e6));
  }
  advance(ms: number): void {
    this.#ms += ms;
  }
}
