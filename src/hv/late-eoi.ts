/**
 * Late EOI: a port whose event found no work is held back before its next event is
 * delivered, so a peer that fires a channel with nothing behind it costs the receiver a
 * bounded number of handler runs (Linux's answer to XSA-332 for backends and XSA-391 for
 * frontends). The first `threshold` spurious events in a row cost nothing (events coalesce
 * and race honestly); after that each one holds the port for a delay that starts at
 * `firstDelayMs` and doubles up to `maxDelayMs`. An event that finds work resets it.
 * While a port is held its event is kept pending, not lost: the release looks again.
 */
import type { Timers } from "./timer.js";

export interface LateEoiOptions {
  /** Spurious events in a row a port takes before it is held; Linux's default is 1. */
  readonly threshold: number;
  /** The first hold, in ms (Linux: one jiffy). */
  readonly firstDelayMs: number;
  /** The longest hold, in ms (Linux: one second). */
  readonly maxDelayMs: number;
}

export const LATE_EOI_DEFAULTS: LateEoiOptions = { threshold: 1, firstDelayMs: 1, maxDelayMs: 1000 };

/** Past this many doublings the delay is at its bound whatever the options. */
const MAX_RUN = 40;

export class LateEoi {
  readonly #opts: LateEoiOptions;
  readonly #timers: Timers;
  readonly #release: (port: number) => void;
  /** Spurious events in a row, per port. */
  readonly #run: Uint8Array;
  /** The current hold per port in ms; 0 once work was found. */
  readonly #delay: Uint32Array;
  /** Timer of a held port; 0 when not held. */
  readonly #timer: Int32Array;
  readonly #spurious: Uint32Array;
  #held = 0;

  constructor(nPorts: number, timers: Timers, opts: LateEoiOptions, release: (port: number) => void) {
    this.#opts = opts;
    this.#timers = timers;
    this.#release = release;
    this.#run = new Uint8Array(nPorts);
    this.#delay = new Uint32Array(nPorts);
    this.#timer = new Int32Array(nPorts);
    this.#spurious = new Uint32Array(nPorts);
  }

  /** Ports held back now. */
  get held(): number {
    return this.#held;
  }

  /**
   * Counts a spurious event on `port`; returns how long the port is now held, in ms (0:
   * not held, within the threshold). The caller masks a held port; `release` unmasks it.
   */
  spurious(port: number): number {
    this.#spurious[port]++;
    const run = this.#run[port] < MAX_RUN ? ++this.#run[port] : MAX_RUN;
    const { threshold, firstDelayMs, maxDelayMs } = this.#opts;
    if (run <= threshold || this.#timer[port] !== 0) return 0;
    const delay = Math.min(maxDelayMs, firstDelayMs * 2 ** (run - 1 - threshold));
    this.#delay[port] = delay;
    this.#held++;
    this.#timer[port] = this.#timers.after(delay, () => {
      this.#timer[port] = 0;
      this.#held--;
      this.#release(port);
    });
    return delay;
  }

  /** The event found work: the next spurious one starts from scratch. */
  work(port: number): void {
    if (this.#run[port] === 0) return;
    this.#run[port] = 0;
    this.#delay[port] = 0;
  }

  /** Forgets `port` (unbound or its handler removed): no hold, no history. */
  forget(port: number): void {
    if (this.#timer[port] !== 0) {
      this.#timers.cancel(this.#timer[port]);
      this.#timer[port] = 0;
      this.#held--;
    }
    this.#run[port] = 0;
    this.#delay[port] = 0;
    this.#spurious[port] = 0;
  }

  /** Spurious events counted on `port` since it was last forgotten. */
  spuriousOf(port: number): number {
    return this.#spurious[port];
  }

  /** The hold `port` gets (or got) for its current run of spurious events, in ms. */
  delayOf(port: number): number {
    return this.#delay[port];
  }
}
