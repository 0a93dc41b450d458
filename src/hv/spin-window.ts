/**
 * How long an `adaptive` loop spins before it sleeps, learnt as KVM's halt polling learns
 * its own: the window doubles (from SPIN_WINDOW_MIN_US up to `maxUs`) when work came after
 * the window ran out but within `maxUs`, halves when work came later than that; a spin that
 * runs out halves it and stops it growing for 2, 4, ... 1024 idle spells (misses in a row),
 * because on a machine with more threads than cores a short gap after a failed spin often
 * means the peer could run only once the spinner slept.
 */

/** The first window once a gap short enough to spin for was seen, µs. */
export const SPIN_WINDOW_MIN_US = 10;
const MAX_MISS_RUN = 10;

export class SpinWindow {
  readonly maxUs: number;
  /** How long the next idle spell spins, µs (0: sleep at once). */
  windowUs = 0;
  #coolDown = 0;
  #missRun = 0;

  constructor(maxUs: number) {
    this.maxUs = maxUs;
  }

  /** Work came `gapUs` after the domain went idle (by a spin or after a sleep). */
  gap(gapUs: number, bySpin: boolean): void {
    if (bySpin) this.#missRun = 0;
    if (this.#coolDown > 0) {
      this.#coolDown--;
      return;
    }
    const w = this.windowUs;
    if (gapUs <= w) return;
    if (gapUs <= this.maxUs) this.windowUs = Math.min(this.maxUs, w === 0 ? SPIN_WINDOW_MIN_US : w * 2);
    else this.windowUs = halve(w);
  }

  /** A spin ran out with no work. */
  missed(): void {
    this.windowUs = halve(this.windowUs);
    this.#missRun = Math.min(MAX_MISS_RUN, this.#missRun + 1);
    this.#coolDown = 1 << this.#missRun;
  }
}

function halve(w: number): number {
  return w / 2 < SPIN_WINDOW_MIN_US ? 0 : w / 2;
}
