/**
 * A domain's event loop. Drivers never block (seed 000): they register port handlers and
 * timers and return. In `notify` mode the loop keeps one Atomics.waitAsync per link side
 * and sleeps until a peer wakes it; in `poll` mode (benchmarks on dedicated cores) it spins
 * over the selector words and yields to the Node event loop every `pollSliceMs` so timers
 * and control messages still run.
 *
 * A side is the peer's to write: it may set every pending and selector bit, or bump the
 * wake word, without end. A pass over a side in which no handler found work (bits for
 * masked, held, unbound or unhandled ports, spurious events) or a wake-up that finds
 * nothing selected is empty; after SIDE_EMPTY_THRESHOLD empty ones in a row the loop stops
 * looking at that side for a while, 1 ms doubling up to 1 s, so one peer's storm costs the
 * domain a bounded number of passes and the other sides keep their turn. Any handler that
 * finds work ends the backoff.
 */
import { type EventChannels, type OwnSide, SIDE_SLEEPING, SIDE_WAKE } from "./evtchn.js";

/**
 * `notify`: sleep as soon as there is no work; `hybrid`: spin up to `spinUs` first, so a
 * peer that sends within that window finds us awake and skips its wake-up call (the
 * sender calls Atomics.notify only for a sleeping domain); `poll`: never sleep.
 */
export type LoopMode = "notify" | "hybrid" | "poll";

/** Empty passes or wake-ups in a row a side may cost before the loop stops looking at it. */
export const SIDE_EMPTY_THRESHOLD = 4;
const SIDE_FIRST_PAUSE_MS = 1;
const SIDE_MAX_PAUSE_MS = 1000;

/** Per side: empty passes in a row, the current pause, and (poll mode) when it ends. */
interface SideBackoff {
  empty: number;
  pauseMs: number;
  until: number;
}

export interface LoopOptions {
  mode?: LoopMode;
  /** Poll mode: how long to spin before yielding to timers and messages. */
  pollSliceMs?: number;
  /** Hybrid mode: how long to look for work before going to sleep. */
  spinUs?: number;
  /** Called with anything a handler throws (a bug); the loop goes on. */
  onHandlerError?: (e: unknown) => void;
}

export class EventLoop {
  readonly #ev: EventChannels;
  readonly #armed = new Set<OwnSide>();
  // Weak: a removed link's side (a guest gone) takes its entry with it.
  readonly #backoff = new WeakMap<OwnSide, SideBackoff>();
  readonly #sleeps = new Map<NodeJS.Timeout, () => void>();
  readonly #onError: (e: unknown) => void;
  #mode: LoopMode;
  #pollSliceMs: number;
  #spinMs: number;
  #running = false;
  #stopped: Promise<void> | null = null;
  #resolveStopped: (() => void) | null = null;
  #deferred: (() => void)[] = [];
  #deferScheduled = false;
  #soon: (() => void)[] = [];
  #soonSpare: (() => void)[] = [];
  wakeups = 0;
  /** Times a side was left alone after a run of empty passes. */
  sidePauses = 0;

  constructor(ev: EventChannels, opts: LoopOptions = {}) {
    this.#ev = ev;
    this.#mode = opts.mode ?? "notify";
    this.#pollSliceMs = opts.pollSliceMs ?? 2;
    this.#spinMs = this.#mode === "hybrid" ? (opts.spinUs ?? 50) / 1000 : 0;
    this.#onError =
      opts.onHandlerError ?? ((e) => process.stderr.write(`pvnet: handler error: ${String(e)}\n`));
    ev.onLatePending = (side) => this.#soonDispatch(side);
    ev.onHandlerError = this.#onError;
  }

  get mode(): LoopMode {
    return this.#mode;
  }

  get running(): boolean {
    return this.#running;
  }

  /** Starts the loop; the promise settles when `stop` is called. */
  start(): Promise<void> {
    if (this.#stopped !== null) return this.#stopped;
    this.#running = true;
    this.#stopped = new Promise((r) => {
      this.#resolveStopped = r;
    });
    if (this.#mode !== "poll") for (const s of this.#ev.sides) this.#arm(s);
    else void this.#poll();
    return this.#stopped;
  }

  /** Starts watching a side added after `start` (a new link). */
  watch(side: OwnSide): void {
    if (this.#running && this.#mode !== "poll") this.#arm(side);
  }

  stop(): void {
    if (!this.#running) return;
    this.#running = false;
    for (const s of this.#armed) {
      // Wake our own waiters so their promises settle and nothing stays pending.
      Atomics.add(s.w, s.base + SIDE_WAKE, 1);
      Atomics.notify(s.w, s.base + SIDE_WAKE);
    }
    for (const [t, r] of this.#sleeps) {
      clearTimeout(t);
      r();
    }
    this.#sleeps.clear();
    this.#resolveStopped?.();
  }

  /** Runs `fn` after the current batch of work (Linux's "schedule the rest for later"). */
  defer(fn: () => void): void {
    this.#deferred.push(fn);
    // The poll loop drains deferred work itself, between spins.
    if (this.#mode === "poll" && this.#running) return;
    if (!this.#deferScheduled) {
      this.#deferScheduled = true;
      setImmediate(this.#runDeferredFn);
    }
  }

  /**
   * Runs `fn` as soon as the code running now returns (a microtask): after every frame a
   * handler or a timer queues, before the domain sleeps, without waiting a turn of the
   * Node loop as `defer` does (a setImmediate hop costs ~10 µs on a loaded host, paid on
   * every ping). For bounded work only, such as publishing a batch: what must yield to
   * timers and messages goes through `defer`.
   */
  soon(fn: () => void): void {
    this.#soon.push(fn);
    if (this.#soon.length === 1) queueMicrotask(this.#runSoonFn);
  }

  readonly #runSoonFn = (): void => {
    const fns = this.#soon;
    // Swapped, not reallocated: what these queue lands in the other list, for a new microtask.
    this.#soon = this.#soonSpare;
    this.#soonSpare = fns;
    for (let i = 0; i < fns.length; i++) this.#guard(fns[i]);
    fns.length = 0;
  };

  // Bound once and the two lists swapped, as for `soon`: a sender defers once per batch,
  // and a closure, a list and an iterator per batch are garbage a busy domain need not make.
  readonly #runDeferredFn = (): void => this.#runDeferred();
  #deferredSpare: (() => void)[] = [];

  #runDeferred(): void {
    this.#deferScheduled = false;
    const fns = this.#deferred;
    this.#deferred = this.#deferredSpare;
    this.#deferredSpare = fns;
    for (let i = 0; i < fns.length; i++) this.#guard(fns[i]);
    fns.length = 0;
  }

  #guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.#onError(e);
    }
  }

  /** Dispatches `side`; returns how long to leave it alone (0: look again at once). */
  #dispatch(side: OwnSide): number {
    let found = 1;
    try {
      found = this.#ev.dispatch(side);
    } catch (e) {
      this.#onError(e);
    }
    return this.#note(side, found > 0);
  }

  /** Records a pass (or wake-up) that found work or not; returns the pause it earned. */
  #note(side: OwnSide, work: boolean): number {
    let b = this.#backoff.get(side);
    if (b === undefined) {
      if (work) return 0;
      b = { empty: 0, pauseMs: 0, until: 0 };
      this.#backoff.set(side, b);
    }
    if (work) {
      b.empty = 0;
      b.pauseMs = 0;
      b.until = 0;
      return 0;
    }
    if (++b.empty <= SIDE_EMPTY_THRESHOLD) return 0;
    b.pauseMs = b.pauseMs === 0 ? SIDE_FIRST_PAUSE_MS : Math.min(SIDE_MAX_PAUSE_MS, b.pauseMs * 2);
    b.until = performance.now() + b.pauseMs;
    this.sidePauses++;
    return b.pauseMs;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(() => {
        this.#sleeps.delete(t);
        r();
      }, ms);
      this.#sleeps.set(t, r);
    });
  }

  #soonDispatch(side: OwnSide): void {
    // Not held back by a side's pause: only this domain's own unmask, new handler or
    // late-EOI release gets here (the peer cannot), and a loop asleep on the wake word
    // would not look until the peer woke it.
    queueMicrotask(() => {
      if (this.#running) this.#dispatch(side);
    });
  }

  #paused(side: OwnSide): boolean {
    const b = this.#backoff.get(side);
    return b !== undefined && b.until !== 0 && performance.now() < b.until;
  }

  #arm(side: OwnSide): void {
    if (this.#armed.has(side)) return;
    this.#armed.add(side);
    void this.#waitLoop(side);
  }

  async #waitLoop(side: OwnSide): Promise<void> {
    const { w, base } = side;
    const ev = this.#ev;
    let lastYield = performance.now();
    let woke = false;
    while (this.#running && ev.sides.includes(side)) {
      const seen = Atomics.load(w, base + SIDE_WAKE);
      if (ev.hasSelected(side)) {
        woke = false;
        const pause = this.#dispatch(side);
        if (pause > 0) {
          await this.#sleep(pause);
          lastYield = performance.now();
          continue;
        }
        // Under steady load the side never sleeps: let other sides, timers and messages
        // in at least once a millisecond.
        const now = performance.now();
        if (now - lastYield > 1) {
          lastYield = now;
          await yieldTurn();
        }
        continue;
      }
      if (woke) {
        woke = false;
        const pause = this.#note(side, false);
        if (pause > 0) {
          await this.#sleep(pause);
          lastYield = performance.now();
          continue;
        }
      }
      if (this.#spinMs > 0 && this.#spin(side)) continue;
      Atomics.store(w, base + SIDE_SLEEPING, 1);
      // Re-check after announcing sleep: a sender that missed the flag set a bit we see now.
      if (ev.hasSelected(side)) {
        Atomics.store(w, base + SIDE_SLEEPING, 0);
        continue;
      }
      const r = Atomics.waitAsync(w, base + SIDE_WAKE, seen);
      if (r.async) await r.value;
      Atomics.store(w, base + SIDE_SLEEPING, 0);
      this.wakeups++;
      woke = true;
      if (r.async) lastYield = performance.now();
      else if (performance.now() - lastYield > 1) {
        // The wake word moved before we slept: the peer owns it and may bump it nonstop,
        // so this path too lets timers, messages and other sides in once a millisecond.
        lastYield = performance.now();
        await yieldTurn();
      }
    }
    this.#armed.delete(side);
  }

  /** Looks for work on `side` for up to spinMs; true if some arrived. */
  #spin(side: OwnSide): boolean {
    const ev = this.#ev;
    const until = performance.now() + this.#spinMs;
    do {
      for (let i = 0; i < 64; i++) if (ev.hasSelected(side)) return true;
    } while (performance.now() < until);
    return false;
  }

  async #poll(): Promise<void> {
    const ev = this.#ev;
    while (this.#running) {
      const until = performance.now() + this.#pollSliceMs;
      do {
        for (let spin = 0; spin < 256; spin++) {
          const sides = ev.sides;
          for (let i = 0; i < sides.length; i++) {
            const side = sides[i];
            if (ev.hasSelected(side) && !this.#paused(side)) this.#dispatch(side);
          }
          if (this.#deferred.length > 0) this.#runDeferred();
        }
      } while (performance.now() < until && this.#running);
      await yieldTurn();
      if (this.#deferred.length > 0) this.#runDeferred();
    }
  }
}

function yieldTurn(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
