/**
 * Timers for deferred and periodic driver work: drivers never sleep, they arm a timer and
 * return (seed 000: "use add_ac_timer() to get yourself an event callback sometime later").
 * A domain's timers are tracked so that shutting the domain down cancels them all.
 */
export type TimerId = number;

export interface Timers {
  after(ms: number, fn: () => void): TimerId;
  every(ms: number, fn: () => void): TimerId;
  cancel(id: TimerId): void;
  cancelAll(): void;
  readonly active: number;
  /** The clock the timers run on, in ms: work that meters time (credit) reads this one. */
  readonly now: number;
  /** Ms until the next timer is due (0 if one is overdue; Infinity: none armed). */
  nextDueMs(): number;
}

/** A live Node timer and when it next fires, on the performance.now() clock. */
interface LiveTimer {
  t: NodeJS.Timeout;
  at: number;
  every: number;
}

export class NodeTimers implements Timers {
  // Due times are kept so a loop that sleeps the thread (block mode) wakes for the next one.
  readonly #live = new Map<TimerId, LiveTimer>();
  readonly #onError: (e: unknown) => void;
  #next = 1;

  constructor(
    onError: (e: unknown) => void = (e) => process.stderr.write(`pvnet: timer error: ${String(e)}\n`),
  ) {
    this.#onError = onError;
  }

  get active(): number {
    return this.#live.size;
  }

  get now(): number {
    return performance.now();
  }

  after(ms: number, fn: () => void): TimerId {
    const id = this.#next++;
    const t = setTimeout(() => {
      this.#live.delete(id);
      this.#run(fn);
    }, ms);
    // Node runs a timer no sooner than 1 ms (a longer delay rounds down to whole ms).
    this.#live.set(id, { t, at: performance.now() + Math.max(1, Math.trunc(ms)), every: 0 });
    return id;
  }

  every(ms: number, fn: () => void): TimerId {
    const id = this.#next++;
    const period = Math.max(1, Math.trunc(ms));
    const rec: LiveTimer = {
      t: setInterval(() => {
        rec.at = performance.now() + period;
        this.#run(fn);
      }, ms),
      at: performance.now() + period,
      every: period,
    };
    this.#live.set(id, rec);
    return id;
  }

  cancel(id: TimerId): void {
    const t = this.#live.get(id);
    if (t === undefined) return;
    clearTimeout(t.t);
    this.#live.delete(id);
  }

  cancelAll(): void {
    for (const t of this.#live.values()) clearTimeout(t.t);
    this.#live.clear();
  }

  nextDueMs(): number {
    let at = Number.POSITIVE_INFINITY;
    for (const t of this.#live.values()) if (t.at < at) at = t.at;
    return at === Number.POSITIVE_INFINITY ? at : Math.max(0, at - performance.now());
  }

  #run(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.#onError(e);
    }
  }
}

/** Timers driven by hand, for deterministic tests: `advance(ms)` fires what is due, in order. */
export class ManualTimers implements Timers {
  #now = 0;
  #next = 1;
  readonly #due = new Map<TimerId, { at: number; every: number; fn: () => void }>();

  get active(): number {
    return this.#due.size;
  }

  get now(): number {
    return this.#now;
  }

  after(ms: number, fn: () => void): TimerId {
    const id = this.#next++;
    this.#due.set(id, { at: this.#now + ms, every: 0, fn });
    return id;
  }

  every(ms: number, fn: () => void): TimerId {
    const id = this.#next++;
    this.#due.set(id, { at: this.#now + ms, every: Math.max(ms, 1), fn });
    return id;
  }

  cancel(id: TimerId): void {
    this.#due.delete(id);
  }

  cancelAll(): void {
    this.#due.clear();
  }

  nextDueMs(): number {
    let at = Number.POSITIVE_INFINITY;
    for (const t of this.#due.values()) if (t.at < at) at = t.at;
    return at === Number.POSITIVE_INFINITY ? at : Math.max(0, at - this.#now);
  }

  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let best: TimerId | undefined;
      let bestAt = Number.POSITIVE_INFINITY;
      for (const [id, t] of this.#due) {
        if (t.at <= end && (t.at < bestAt || (t.at === bestAt && best !== undefined && id < best))) {
          best = id;
          bestAt = t.at;
        }
      }
      if (best === undefined) break;
      const t = this.#due.get(best)!;
      this.#now = t.at;
      if (t.every > 0) t.at += t.every;
      else this.#due.delete(best);
      t.fn();
    }
    this.#now = end;
  }
}
