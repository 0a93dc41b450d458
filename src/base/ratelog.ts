import type { Clock } from "./clock.js";
import { systemClock } from "./clock.js";

export type LogSink = (line: string) => void;

const stderrSink: LogSink = (line) => process.stderr.write(`${line}\n`);

/**
 * A rate-limited logger, netmap's nm_prlim: at most `burst` lines per `windowMs` per key;
 * the lines it swallows are counted and reported with the next line that gets through.
 */
export class RateLog {
  readonly #clock: Clock;
  readonly #sink: LogSink;
  readonly #burst: number;
  readonly #windowMs: number;
  readonly #state = new Map<string, { start: number; n: number; dropped: number }>();

  constructor(opts: { sink?: LogSink; clock?: Clock; burst?: number; windowMs?: number } = {}) {
    this.#sink = opts.sink ?? stderrSink;
    this.#clock = opts.clock ?? systemClock;
    this.#burst = opts.burst ?? 5;
    this.#windowMs = opts.windowMs ?? 1000;
  }

  /** Logs `line` under `key`; returns whether it was printed. */
  log(key: string, line: string): boolean {
    const now = this.#clock.nowMs();
    let s = this.#state.get(key);
    if (s === undefined) {
      s = { start: now, n: 0, dropped: 0 };
      this.#state.set(key, s);
    }
    if (now - s.start >= this.#windowMs) {
      s.start = now;
      s.n = 0;
    }
    if (s.n >= this.#burst) {
      s.dropped++;
      return false;
    }
    s.n++;
    const suffix = s.dropped > 0 ? ` (${s.dropped} similar lines suppressed)` : "";
    s.dropped = 0;
    this.#sink(line + suffix);
    return true;
  }
}
