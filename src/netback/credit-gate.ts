/**
 * A TX queue's rate limiter at run time: the pure credit arithmetic (credit.ts) plus the
 * replenishment timer, as Linux's xenvif_tx_credit_callback. When a packet does not fit,
 * `admit` says no and arms one timer for the window's end; the queue stops consuming its
 * ring (the request stays there, unanswered) and the timer runs it again. Nothing blocks,
 * nothing is dropped, the guest is never disconnected, and other queues and vifs never
 * wait: each queue has its own gate, on Domain-0's loop.
 */
import type { TimerId, Timers } from "../hv/timer.js";
import { type Rate, TxCredit } from "./credit.js";

export class CreditGate {
  readonly #timers: Timers;
  readonly #resume: () => void;
  readonly #now: () => number;
  #credit: TxCredit;
  #unlimited: boolean;
  #timer: TimerId | undefined;

  constructor(rate: Rate, timers: Timers, resume: () => void, now: () => number = () => timers.now) {
    this.#timers = timers;
    this.#resume = resume;
    this.#now = now;
    this.#unlimited = !Number.isFinite(rate.bytes);
    this.#credit = new TxCredit(rate, now());
  }

  /** A replenishment timer is pending: the queue must not consume its ring. */
  get waiting(): boolean {
    return this.#timer !== undefined;
  }

  /** Charges a packet of `size` bytes; false (timer armed) when it must wait. */
  admit(size: number): boolean {
    if (this.#unlimited) return true;
    const now = this.#now();
    const at = this.#credit.charge(size, Math.floor(now));
    if (at < 0) return true;
    if (this.#timer === undefined)
      this.#timer = this.#timers.after(Math.max(0, at - now), () => {
        this.#timer = undefined;
        this.#credit.onTimer();
        this.#resume();
      });
    return false;
  }

  /**
   * The `rate` key changed (or went away: UNLIMITED). A pending timer stays: it brings the
   * new window's credit, as Linux's mod_timer path does.
   */
  setRate(rate: Rate): void {
    const was = this.#unlimited;
    this.#unlimited = !Number.isFinite(rate.bytes);
    if (was && !this.#unlimited) this.#credit = new TxCredit(rate, Math.floor(this.#now()));
    else this.#credit.setRate(rate);
    if (this.#unlimited && this.#timer !== undefined) {
      this.#timers.cancel(this.#timer);
      this.#timer = undefined;
      this.#credit.onTimer();
      this.#resume();
    }
  }

  close(): void {
    if (this.#timer !== undefined) this.#timers.cancel(this.#timer);
    this.#timer = undefined;
  }
}
