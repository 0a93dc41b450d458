/**
 * Credit-based rate limiting of a guest's transmissions (xen-protocol.md §7.3), as Linux
 * netback does it: the toolstack's `rate` key grants `bytes` every `usec` microseconds; each
 * packet is charged its whole length; a packet that does not fit waits, unconsumed, until the
 * window ends (the caller arms a timer for the time `charge` returns and stops reading the
 * ring). Time is passed in (milliseconds, the resolution of Linux's jiffies here), so the
 * limiter is pure and can be tested without waiting.
 */

/** The `rate` key: `"<bytes>,<usec>"`, both decimal. */
export interface Rate {
  readonly bytes: number;
  readonly usec: number;
}

/** No `rate` key, or one that does not parse: unlimited, as Linux treats it. */
export const UNLIMITED: Rate = Object.freeze({ bytes: Number.POSITIVE_INFINITY, usec: 0 });

/** A burst this large always fits, so a 64 KiB GSO frame can never seize the queue. */
const MIN_BURST = 131072;

/**
 * Parses a `rate` value strictly, as Linux's xen_net_read_rate does: digits, a comma, digits,
 * nothing else. `undefined` means "does not parse": the caller logs it and runs unlimited.
 */
export function parseRate(text: string): Rate | undefined {
  const m = /^(\d+),(\d+)$/.exec(text);
  if (m === null) return undefined;
  const bytes = Number(m[1]);
  const usec = Number(m[2]);
  if (!Number.isSafeInteger(bytes) || !Number.isSafeInteger(usec)) return undefined;
  return { bytes, usec };
}

export class TxCredit {
  #bytes: number;
  #windowMs: number;
  #remaining: number;
  #windowStart: number;
  /** When a timer is armed: the time it fires; -1 when none is. */
  #timerAt = -1;

  constructor(rate: Rate, nowMs: number) {
    this.#bytes = rate.bytes;
    this.#windowMs = Math.floor(rate.usec / 1000);
    this.#remaining = rate.bytes;
    this.#windowStart = nowMs;
  }

  /** Credit left in this window (bytes). */
  get remaining(): number {
    return this.#remaining;
  }

  /** Whether the queue is waiting for its timer. */
  get limited(): boolean {
    return this.#timerAt >= 0;
  }

  /**
   * Charges a packet of `size` bytes. Returns -1 when it may go now (credit taken), else the
   * time at which to try again: the caller arms a timer for it and leaves the request on
   * the ring until `onTimer`.
   */
  charge(size: number, nowMs: number): number {
    if (size <= this.#remaining) {
      this.#remaining -= size;
      return -1;
    }
    if (this.#timerAt >= 0) return this.#timerAt;
    const next = this.#windowStart + this.#windowMs;
    if (nowMs >= next) {
      this.#windowStart = nowMs;
      this.#addCredit();
      if (size <= this.#remaining) {
        this.#remaining -= size;
        return -1;
      }
    }
    const at = this.#windowStart + this.#windowMs;
    this.#windowStart = at;
    this.#timerAt = at;
    return at;
  }

  /** The timer `charge` asked for has fired: a new window's credit. */
  onTimer(): void {
    this.#timerAt = -1;
    this.#addCredit();
  }

  /**
   * A new `rate` (the key changed under a watch). Credit left over is cut to the new
   * window's size unless a timer is pending, as Linux does.
   */
  setRate(rate: Rate): void {
    this.#bytes = rate.bytes;
    this.#windowMs = Math.floor(rate.usec / 1000);
    if (this.#timerAt < 0 && this.#remaining > rate.bytes) this.#remaining = rate.bytes;
  }

  #addCredit(): void {
    const maxBurst = Math.max(MIN_BURST, this.#bytes);
    this.#remaining = Math.min(this.#remaining + this.#bytes, maxBurst);
  }
}
