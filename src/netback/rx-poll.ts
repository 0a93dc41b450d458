/**
 * RX for a frontend that never notifies when it posts buffers (no feature-rx-notify, as
 * old frontends and Mini-OS): while frames wait for buffers, netback looks at the RX ring
 * on a timer instead of waiting for an event that will not come. One timer per queue,
 * armed only while something waits, so an idle guest costs nothing.
 */
import type { TimerId, Timers } from "../hv/timer.js";

/** How often a waiting queue looks for buffers (Linux drains such a queue within 30 ms). */
export const RX_POLL_MS = 10;

export class RxPoll {
  readonly #timers: Timers;
  readonly #fire: () => void;
  #timer: TimerId | undefined;

  constructor(timers: Timers, fire: () => void) {
    this.#timers = timers;
    this.#fire = fire;
  }

  /** Looks again in RX_POLL_MS, unless a look is already due. */
  arm(): void {
    if (this.#timer !== undefined) return;
    this.#timer = this.#timers.after(RX_POLL_MS, () => {
      this.#timer = undefined;
      this.#fire();
    });
  }

  cancel(): void {
    if (this.#timer !== undefined) this.#timers.cancel(this.#timer);
    this.#timer = undefined;
  }
}
