/**
 * A domain's event loop. Drivers never block (seed 000): they register port handlers and
 * timers and return. In `notify` mode the loop keeps one Atomics.waitAsync per link side
 * and sleeps until a peer wakes it; in `poll` mode (benchmarks on dedicated cores) it spins
 * over the selector words and yields to the Node event loop every `pollSliceMs` so timers
 * and control messages still run. In `block` mode (a guest, whose work is all event
 * channels) the thread itself sleeps in Atomics.wait on its one side's wake word, which
 * wakes it in about half the time an awaited waitAsync takes (no trip through the Node
 * event loop); it sleeps no longer than until the next pvnet timer (or `blockMaxMs`), and
 * the machine rings the domain's doorbell (bell.ts) with every message it posts, so the
 * loop yields to the Node event loop for it.
 *
 * A side is the peer's to write: it may set every pending and selector bit, or bump the
 * wake word, without end. A pass over a side in which no handler found work (bits for
 * masked, held, unbound or unhandled ports, spurious events) or a wake-up that finds
 * nothing selected is empty; after SIDE_EMPTY_THRESHOLD empty ones in a row the loop stops
 * looking at that side for a while, 1 ms doubling up to 1 s, so one peer's storm costs the
 * domain a bounded number of passes and the other sides keep their turn. Any handler that
 * finds work ends the backoff.
 */
import { BELL_MAIL, BELL_WAKE } from "./bell.js";
import { type EventChannels, type OwnSide, SIDE_SLEEPING, SIDE_WAKE } from "./evtchn.js";
import { SpinWindow } from "./spin-window.js";

/**
 * `notify`: sleep as soon as there is no work; `hybrid`: spin up to `spinUs` first, so a
 * peer that sends within that window finds us awake and skips its wake-up call (the
 * sender calls Atomics.notify only for a sleeping domain); `adaptive`: as hybrid, over all
 * the domain's sides at once, for a window learnt as KVM's halt polling learns its own: it
 * doubles when work came after the window ran out but within `spinUs`, halves when work
 * came later than that (none at all for a domain whose peers pause, or on a machine so
 * loaded that a peer's thread rarely runs while this one spins); `poll`: never sleep;
 * `block`: sleep in Atomics.wait (the whole thread) while the domain has at most one link,
 * as a guest has (Domain-0 only); with more it runs as `notify`. Node timers and I/O callbacks
 * other than pvnet's own (Domain.timers) and the machine's messages run late by up to
 * `blockMaxMs` in this mode: it is for domains whose work is all event channels.
 */
export type LoopMode = "notify" | "hybrid" | "adaptive" | "poll" | "block";
export const LOOP_MODES: readonly LoopMode[] = ["notify", "hybrid", "adaptive", "poll", "block"];

/**
 * Adaptive mode: the longest spin, µs. About what a wake-up costs the two threads (a
 * waitAsync wake-up is ~35 µs of CPU in each): spinning longer than that costs more than
 * the wake-up it saves.
 */
export const ADAPTIVE_SPIN_MAX_US = 60;

/** Empty passes or wake-ups in a row a side may cost before the loop stops looking at it. */
export const SIDE_EMPTY_THRESHOLD = 4;
const SIDE_FIRST_PAUSE_MS = 1;
const SIDE_MAX_PAUSE_MS = 1000;

/** Stands in for a run function in a drained list slot (an empty slot would shrink the list). */
const NOOP = (): void => {};
/** A settled promise: `then` on it queues a microtask for less than queueMicrotask's AsyncResource. */
const SETTLED = Promise.resolve();

/**
 * A side's wait loop (notify, hybrid, adaptive): its state between turns and its callbacks,
 * bound once, so a turn, a sleep and a wake-up make nothing of pvnet's (only what
 * Atomics.waitAsync and setImmediate themselves return).
 */
interface SideWaiter {
  readonly side: OwnSide;
  /** When the loop last let the Node event loop in (performance.now()). */
  lastYield: number;
  /** The last turn ended with a wake-up (the next empty look counts as an empty pass). */
  woke: boolean;
  /** Runs the loop on (after a yield or a pause). */
  readonly resume: () => void;
  /** The waitAsync settled: a wake-up. */
  readonly wake: () => void;
  /** A backoff pause ended. */
  readonly paused: () => void;
}

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
  /** Hybrid mode: how long to look for work before going to sleep; adaptive: the longest. */
  spinUs?: number;
  /** Called with anything a handler throws (a bug); the loop goes on. */
  onHandlerError?: (e: unknown) => void;
  /** Block mode: ms until the domain's next timer is due (Infinity: none). */
  nextTimerMs?: () => number;
  /** Block mode: the doorbell the machine rings with each message it posts (bell.ts). */
  bell?: Int32Array;
  /** Block mode: the longest one Atomics.wait lasts, ms (bounds how late foreign timers run). */
  blockMaxMs?: number;
}

/** Block mode's default bound on one sleep. */
export const BLOCK_MAX_MS = 50;

export class EventLoop {
  readonly #ev: EventChannels;
  readonly #armed = new Set<OwnSide>();
  // Weak: a removed link's side (a guest gone) takes its entry with it.
  readonly #backoff = new WeakMap<OwnSide, SideBackoff>();
  readonly #sleeps = new Map<NodeJS.Timeout, () => void>();
  readonly #onError: (e: unknown) => void;
  #mode: LoopMode;
  readonly #nextTimerMs: () => number;
  readonly #bell: Int32Array;
  readonly #blockMaxMs: number;
  /** Adaptive mode: when the domain last went idle (performance.now(); 0: it has work). */
  #idleSince = 0;
  /** Adaptive mode: how long the next idle spell spins. */
  readonly #window: SpinWindow;
  /** Sides whose wait loop sleeps in waitAsync (adaptive mode spins on their behalf). */
  readonly #asleep = new Set<OwnSide>();
  /** Adaptive mode: spins that found work, and spins that ran out. */
  spinHits = 0;
  spinMisses = 0;
  /** Block mode gave way to `notify` (a second link came). */
  #blockDone = false;
  #pollSliceMs: number;
  #spinMs: number;
  #running = false;
  #stopped: Promise<void> | null = null;
  #resolveStopped: (() => void) | null = null;
  // Run lists with counts, never emptied by `length = 0` (that frees the backing store, and
  // the next push allocates one again: per batch on a busy domain).
  #deferred: (() => void)[] = [];
  #nDeferred = 0;
  #deferScheduled = false;
  #soon: (() => void)[] = [];
  #nSoon = 0;
  #soonSpare: (() => void)[] = [];
  /** A microtask that runs the soon list is queued. */
  #soonQueued = false;
  /** Inside a dispatch or a deferred run, after which the loop runs the soon list itself. */
  #inside = 0;
  wakeups = 0;
  /** Times a side was left alone after a run of empty passes. */
  sidePauses = 0;

  constructor(ev: EventChannels, opts: LoopOptions = {}) {
    this.#ev = ev;
    this.#mode = opts.mode ?? "notify";
    this.#pollSliceMs = opts.pollSliceMs ?? 2;
    this.#nextTimerMs = opts.nextTimerMs ?? (() => Number.POSITIVE_INFINITY);
    this.#bell = opts.bell ?? new Int32Array(new SharedArrayBuffer(16));
    this.#blockMaxMs = opts.blockMaxMs ?? BLOCK_MAX_MS;
    this.#spinMs = this.#mode === "hybrid" ? (opts.spinUs ?? 50) / 1000 : 0;
    this.#window = new SpinWindow(opts.spinUs ?? ADAPTIVE_SPIN_MAX_US);
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
    // Atomics.wait watches one word: a domain with several links already runs as notify.
    if (this.#mode === "block" && this.#ev.sides.length > 1) this.#blockDone = true;
    if (this.#mode === "poll") void this.#poll();
    else if (this.#blocking()) void this.#block();
    else for (const s of this.#ev.sides) this.#arm(s);
    return this.#stopped;
  }

  /** Starts watching a side added after `start` (a new link). */
  watch(side: OwnSide): void {
    if (!this.#running || this.#mode === "poll") return;
    // The block loop sees the new side itself (and gives way to notify for a second one).
    if (this.#mode === "block" && !this.#blockDone) {
      this.#wakeSelf();
      return;
    }
    this.#arm(side);
  }

  #blocking(): boolean {
    return this.#mode === "block" && !this.#blockDone && this.#ev.sides.length <= 1;
  }

  /** Moves the block loop (wherever it sleeps) so that it looks again. */
  #wakeSelf(): void {
    Atomics.add(this.#bell, BELL_WAKE, 1);
    Atomics.notify(this.#bell, BELL_WAKE);
    for (const s of this.#ev.sides) {
      Atomics.add(s.w, s.base + SIDE_WAKE, 1);
      Atomics.notify(s.w, s.base + SIDE_WAKE);
    }
  }

  stop(): void {
    if (!this.#running) return;
    this.#running = false;
    if (this.#mode === "block") this.#wakeSelf();
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
    this.#deferred[this.#nDeferred++] = fn;
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
    this.#soon[this.#nSoon++] = fn;
    // Called from a handler or deferred work the loop runs, the loop runs the list when that
    // returns, with no microtask at all (the common case: a sender's batch).
    if (this.#inside === 0 && !this.#soonQueued) {
      this.#soonQueued = true;
      void SETTLED.then(this.#runSoonQueued);
    }
  }

  readonly #runSoonQueued = (): void => {
    this.#soonQueued = false;
    this.#runSoon();
  };

  #runSoon(): void {
    const fns = this.#soon;
    const n = this.#nSoon;
    // Swapped, not reallocated: what these queue lands in the other list, for a new microtask.
    this.#soon = this.#soonSpare;
    this.#nSoon = 0;
    this.#soonSpare = fns;
    for (let i = 0; i < n; i++) {
      const fn = fns[i];
      fns[i] = NOOP;
      this.#guard(fn);
    }
  }

  // Bound once and the two lists swapped, as for `soon`: a sender defers once per batch,
  // and a closure, a list and an iterator per batch are garbage a busy domain need not make.
  readonly #runDeferredFn = (): void => this.#runDeferred();
  #deferredSpare: (() => void)[] = [];

  #runDeferred(): void {
    this.#deferScheduled = false;
    const fns = this.#deferred;
    const n = this.#nDeferred;
    this.#deferred = this.#deferredSpare;
    this.#nDeferred = 0;
    this.#deferredSpare = fns;
    this.#inside++;
    for (let i = 0; i < n; i++) {
      const fn = fns[i];
      fns[i] = NOOP;
      this.#guard(fn);
    }
    this.#inside--;
    if (this.#nSoon > 0 && this.#inside === 0) this.#runSoon();
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
    this.#inside++;
    try {
      found = this.#ev.dispatch(side);
    } catch (e) {
      this.#onError(e);
    }
    this.#inside--;
    if (this.#nSoon > 0 && this.#inside === 0) this.#runSoon();
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
    const wt: SideWaiter = {
      side,
      lastYield: performance.now(),
      woke: false,
      resume: () => this.#waitLoop(wt),
      wake: () => this.#woke(wt),
      paused: () => {
        wt.lastYield = performance.now();
        this.#waitLoop(wt);
      },
    };
    this.#waitLoop(wt);
  }

  /**
   * A side's loop: dispatches while the side has work, then sleeps in Atomics.waitAsync.
   * Callbacks rather than an async function: each await of one would make a promise and a
   * resumption per sleep and per yield; here a turn that ends schedules one bound callback.
   */
  #waitLoop(wt: SideWaiter): void {
    const side = wt.side;
    const { w, base } = side;
    const ev = this.#ev;
    while (this.#running && ev.sides.includes(side)) {
      const seen = Atomics.load(w, base + SIDE_WAKE);
      if (ev.hasSelected(side)) {
        wt.woke = false;
        if (this.#idleSince !== 0) this.#learnGap();
        const pause = this.#dispatch(side);
        if (pause > 0) {
          void this.#sleep(pause).then(wt.paused);
          return;
        }
        // Under steady load the side never sleeps: let other sides, timers and messages
        // in at least once a millisecond.
        const now = performance.now();
        if (now - wt.lastYield > 1) {
          wt.lastYield = now;
          setImmediate(wt.resume);
          return;
        }
        continue;
      }
      if (wt.woke) {
        wt.woke = false;
        // A block-mode domain that gave way to notify still has its bell rung: not the peer's.
        const pause = Atomics.exchange(this.#bell, BELL_MAIL, 0) !== 0 ? 0 : this.#note(side, false);
        if (pause > 0) {
          void this.#sleep(pause).then(wt.paused);
          return;
        }
      }
      if (this.#spinMs > 0 && this.#spin(side)) continue;
      if (this.#mode === "adaptive" && this.#spinAll(side)) continue;
      Atomics.store(w, base + SIDE_SLEEPING, 1);
      // Re-check after announcing sleep: a sender that missed the flag set a bit we see now.
      if (ev.hasSelected(side)) {
        Atomics.store(w, base + SIDE_SLEEPING, 0);
        continue;
      }
      const r = Atomics.waitAsync(w, base + SIDE_WAKE, seen);
      if (r.async) {
        // Only adaptive mode's spin looks at who sleeps: a set's add and delete per sleep
        // (a rehash when it shrinks) is garbage the other modes need not make.
        if (this.#mode === "adaptive") this.#asleep.add(side);
        void r.value.then(wt.wake);
        return;
      }
      Atomics.store(w, base + SIDE_SLEEPING, 0);
      this.wakeups++;
      wt.woke = true;
      if (performance.now() - wt.lastYield > 1) {
        // The wake word moved before we slept: the peer owns it and may bump it nonstop,
        // so this path too lets timers, messages and other sides in once a millisecond.
        wt.lastYield = performance.now();
        setImmediate(wt.resume);
        return;
      }
    }
    this.#armed.delete(side);
  }

  /** A side's waitAsync settled (the peer, or stop()): its loop runs on. */
  #woke(wt: SideWaiter): void {
    const side = wt.side;
    if (this.#mode === "adaptive") this.#asleep.delete(side);
    Atomics.store(side.w, side.base + SIDE_SLEEPING, 0);
    this.wakeups++;
    wt.woke = true;
    wt.lastYield = performance.now();
    this.#waitLoop(wt);
  }

  /**
   * Block mode: one loop over the domain's one side (or none yet), sleeping the thread in
   * Atomics.wait. It yields to the Node event loop (a setImmediate turn) when the machine
   * rang the bell, when a timer is due or the wait timed out, before sleeping after work
   * (so deferred work, promise chains and I/O callbacks run), and at least once a
   * millisecond under steady load.
   */
  async #block(): Promise<void> {
    const ev = this.#ev;
    const bell = this.#bell;
    let lastYield = performance.now();
    let woke = false;
    // True at first too: start() returns before the thread first sleeps, so the program's
    // main runs on.
    let worked = true;
    while (this.#running) {
      const sides = ev.sides;
      if (sides.length > 1) {
        // A second link: Atomics.wait watches one word, so from now on this is notify.
        this.#blockDone = true;
        for (const s of sides) this.#arm(s);
        return;
      }
      const side = sides.length === 1 ? sides[0] : undefined;
      const w = side === undefined ? bell : side.w;
      const at = side === undefined ? BELL_WAKE : side.base + SIDE_WAKE;
      const seen = Atomics.load(w, at);
      if (Atomics.exchange(bell, BELL_MAIL, 0) !== 0) {
        woke = false;
        lastYield = performance.now();
        await yieldTurn();
        continue;
      }
      if (side !== undefined && ev.hasSelected(side)) {
        woke = false;
        worked = true;
        const pause = this.#dispatch(side);
        if (pause > 0) {
          // A storm: the Node loop sleeps for us (messages and timers go on meanwhile).
          await this.#sleep(pause);
          lastYield = performance.now();
          continue;
        }
        const now = performance.now();
        if (now - lastYield > 1) {
          lastYield = now;
          await yieldTurn();
        }
        continue;
      }
      if (woke && side !== undefined) {
        woke = false;
        const pause = this.#note(side, false);
        if (pause > 0) {
          await this.#sleep(pause);
          lastYield = performance.now();
          continue;
        }
      }
      const timeout = Math.min(this.#nextTimerMs(), this.#blockMaxMs);
      if (worked || this.#deferScheduled || timeout <= 0) {
        // What the work set going (deferred work, promise chains, a due timer) runs first.
        worked = false;
        lastYield = performance.now();
        await yieldTurn();
        continue;
      }
      if (side !== undefined) Atomics.store(w, side.base + SIDE_SLEEPING, 1);
      // Re-check after announcing sleep: a sender that missed the flag set a bit we see now.
      if (
        (side !== undefined && ev.hasSelected(side)) ||
        Atomics.load(bell, BELL_MAIL) !== 0 ||
        !this.#running
      ) {
        if (side !== undefined) Atomics.store(w, side.base + SIDE_SLEEPING, 0);
        continue;
      }
      const r = Atomics.wait(w, at, seen, timeout);
      if (side !== undefined) Atomics.store(w, side.base + SIDE_SLEEPING, 0);
      this.wakeups++;
      if (r === "timed-out") {
        // Timers, and anything else the Node loop holds, get their turn.
        lastYield = performance.now();
        await yieldTurn();
        continue;
      }
      woke = true;
      if (performance.now() - lastYield > 1) {
        // The wake word is the peer's to bump without end: timers and messages still run.
        lastYield = performance.now();
        await yieldTurn();
      }
    }
  }

  /** Adaptive mode: work came; the idle spell before it sets the next window. */
  #learnGap(bySpin = false): void {
    this.#window.gap((performance.now() - this.#idleSince) * 1000, bySpin);
    this.#idleSince = 0;
  }

  /**
   * Adaptive mode, called by `side`'s loop with nothing selected on it: looks at every side
   * for up to a window learnt from recent gaps, dispatching what it finds on the others (whose
   * loops sleep: their SIDE_SLEEPING is cleared meanwhile, so their peers skip the wake-up).
   * True when work came for `side` itself or for another side (then look again at once).
   */
  #spinAll(side: OwnSide): boolean {
    const now = performance.now();
    if (this.#idleSince === 0) this.#idleSince = now;
    if (this.#window.windowUs === 0) return false;
    const windowMs = this.#window.windowUs / 1000;
    const ev = this.#ev;
    const others = this.#asleep;
    // A link removed (its guest gone) leaves its side here with nothing to end its wait:
    // drop it, and wake that wait so its loop sees the side gone and returns.
    for (const s of others) {
      if (ev.sides.includes(s)) continue;
      others.delete(s);
      Atomics.add(s.w, s.base + SIDE_WAKE, 1);
      Atomics.notify(s.w, s.base + SIDE_WAKE);
    }
    for (const s of others) Atomics.store(s.w, s.base + SIDE_SLEEPING, 0);
    let found = false;
    const until = now + windowMs;
    try {
      do {
        for (let i = 0; i < 32 && !found; i++) {
          if (ev.hasSelected(side)) found = true;
          for (const s of others) {
            if (!ev.hasSelected(s) || this.#paused(s) || !ev.sides.includes(s)) continue;
            this.#dispatch(s);
            found = true;
          }
        }
      } while (!found && performance.now() < until && this.#running);
    } finally {
      for (const s of others) {
        Atomics.store(s.w, s.base + SIDE_SLEEPING, 1);
        // A sender that saw the flag clear left its bits without a wake-up: wake that loop.
        if (ev.hasSelected(s)) {
          Atomics.add(s.w, s.base + SIDE_WAKE, 1);
          Atomics.notify(s.w, s.base + SIDE_WAKE);
        }
      }
    }
    if (found) {
      this.spinHits++;
      this.#learnGap(true);
    } else {
      this.spinMisses++;
      this.#window.missed();
    }

    return found;
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
          if (this.#nDeferred > 0) this.#runDeferred();
        }
      } while (performance.now() < until && this.#running);
      await yieldTurn();
      if (this.#nDeferred > 0) this.#runDeferred();
    }
  }
}

function yieldTurn(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
