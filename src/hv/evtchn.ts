/**
 * Event channels, the worker side. Xen's 2-level ABI keeps pending and mask bitmaps in a
 * page the hypervisor shares with each guest. Here no thread is the hypervisor's own, so
 * the bits live in a *link page* per pair of domains: a SharedArrayBuffer only those two
 * hold, with one side per domain. A domain's port p, bound to a port of domain D, has its
 * pending and mask bits in its side of the D link; D notifies by setting the bit and, if
 * the owner sleeps, taking its sleeping flag and bumping and notifying the side's wake word. Either side may scribble
 * on the page, so the receiver honours a pending bit only for a port its own port table
 * says is bound to that peer; anything else is counted as spurious and dropped.
 *
 * Port tables are written by the machine (the trusted control plane, main thread) into a
 * SharedArrayBuffer per domain; the machine keeps its own authoritative copy, so a domain
 * scribbling on its table only confuses itself.
 */
import { assert } from "../base/assert.js";
import { LATE_EOI_DEFAULTS, LateEoi, type LateEoiOptions } from "./late-eoi.js";
import { NodeTimers, type Timers } from "./timer.js";

/** Ports per domain: the 2-level ABI's 64 words of 64 bits. */
export const EVTCHN_NR_PORTS = 4096;

// Port table word: state in bits 30-31, remote domid in 14-29, remote port in 0-13.
export const PORT_FREE = 0;
export const PORT_UNBOUND = 1;
export const PORT_INTERDOMAIN = 2;

export function portWord(state: number, remoteDom: number, remotePort: number): number {
  return ((state << 30) | ((remoteDom & 0xffff) << 14) | (remotePort & 0x3fff)) >>> 0;
}
export const portState = (w: number): number => w >>> 30;
export const portRemoteDom = (w: number): number => (w >>> 14) & 0xffff;
export const portRemotePort = (w: number): number => w & 0x3fff;

// Link page: two sides of SIDE_BYTES; side 0 belongs to the lower domid. Int32 indices:
export const LINK_BYTES = 4096;
const SIDE_WORDS = 512;
export const SIDE_WAKE = 0;
export const SIDE_SLEEPING = 1;
export const SIDE_SEL = 4;
export const SIDE_PENDING = 16;
export const SIDE_MASK = SIDE_PENDING + EVTCHN_NR_PORTS / 32;
assert(SIDE_MASK + EVTCHN_NR_PORTS / 32 <= SIDE_WORDS, "link side overflows its half page");

export function createLink(): SharedArrayBuffer {
  return new SharedArrayBuffer(LINK_BYTES);
}

/** Int32 index of `domid`'s side in the link between `domid` and `peer`. */
export function sideBase(domid: number, peer: number): number {
  return domid < peer ? 0 : SIDE_WORDS;
}

/**
 * A port's handler. It returns `false` when the event found nothing to do (spurious): the
 * port is then held back with late EOI (see late-eoi.ts). Anything else counts as work.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: a handler with no return value found work
export type PortHandler = (port: number) => boolean | void;

export interface EvtchnStats {
  sent: number;
  wakes: number;
  /** Handler runs. */
  dispatched: number;
  /** Events that found no work: a handler returned false, or a forged bit of a port not bound to that peer. */
  spurious: number;
  /** Times a port was held back by late EOI. */
  lateEoiHolds: number;
  /** Ports held back now. */
  heldPorts: number;
  /** The hold the latest spurious event earned, in ms (0 until one did). */
  lastDelayMs: number;
  /** Dispatch passes over a side that found no work at all (see EventLoop's side backoff). */
  emptyPasses: number;
}

/** One port's late-EOI state. */
export interface PortStats {
  /** Spurious events since the port's handler was set. */
  spurious: number;
  /** The hold for its current run of spurious events, in ms (0: its last event found work). */
  delayMs: number;
  held: boolean;
}

export interface EventChannelsOptions {
  /** Where late-EOI holds are timed; a domain passes its own, so shutdown cancels them. */
  timers?: Timers;
  lateEoi?: Partial<LateEoiOptions>;
}

/** One of this domain's sides: where its pending bits for ports bound to `peer` live. */
export interface OwnSide {
  readonly peer: number;
  readonly w: Int32Array;
  readonly base: number;
}

export class EventChannels {
  readonly domid: number;
  readonly stats: EvtchnStats = {
    sent: 0,
    wakes: 0,
    dispatched: 0,
    spurious: 0,
    lateEoiHolds: 0,
    heldPorts: 0,
    lastDelayMs: 0,
    emptyPasses: 0,
  };
  readonly #ports: Uint32Array;
  /**
   * The same words, signed: an interdomain port's word has bit 31 set, and a Uint32 load of
   * it is a heap number (an allocation per event) where an Int32 load is not. Read only by
   * the hot paths, which look at bit fields (>>> makes them unsigned again).
   */
  readonly #portsI32: Int32Array;
  readonly #links = new Map<number, Int32Array>();
  readonly #sides: OwnSide[] = [];
  readonly #handlers: (PortHandler | undefined)[] = new Array(EVTCHN_NR_PORTS);
  /** Masked by the driver. */
  readonly #masked = new Uint32Array(EVTCHN_NR_PORTS / 32);
  /** Held back by late EOI; kept apart so a driver's unmask does not end a hold. */
  readonly #held = new Uint32Array(EVTCHN_NR_PORTS / 32);
  readonly #eoi: LateEoi;
  /** Called when an unmask or a new handler finds a port already pending. */
  onLatePending: (side: OwnSide) => void = () => {};
  /**
   * Called with what a port handler threw. Each handler runs on its own: one that throws
   * (a driver bug a guest's input may trigger) must not cost the ports dispatched after it
   * their events, since their pending bits are already cleared.
   */
  onHandlerError: (e: unknown) => void = (e) =>
    process.stderr.write(`pvnet: event handler error: ${String(e)}\n`);

  constructor(domid: number, ports: SharedArrayBuffer, opts: EventChannelsOptions = {}) {
    this.domid = domid;
    this.#ports = new Uint32Array(ports);
    this.#portsI32 = new Int32Array(ports);
    this.#eoi = new LateEoi(
      EVTCHN_NR_PORTS,
      opts.timers ?? new NodeTimers(),
      { ...LATE_EOI_DEFAULTS, ...opts.lateEoi },
      (port) => this.#endHold(port),
    );
  }

  get sides(): readonly OwnSide[] {
    return this.#sides;
  }

  addLink(peer: number, link: SharedArrayBuffer): OwnSide {
    const w = new Int32Array(link);
    this.#links.set(peer, w);
    const side = { peer, w, base: sideBase(this.domid, peer) };
    this.#sides.push(side);
    return side;
  }

  removeLink(peer: number): void {
    this.#links.delete(peer);
    const i = this.#sides.findIndex((s) => s.peer === peer);
    if (i >= 0) this.#sides.splice(i, 1);
  }

  hasLink(peer: number): boolean {
    return this.#links.has(peer);
  }

  /** State word of a local port (see portState and friends). */
  portInfo(port: number): number {
    if (!validPort(port)) return PORT_FREE;
    return Atomics.load(this.#ports, port);
  }

  on(port: number, handler: PortHandler): void {
    if (!validPort(port)) assert(false, `port ${port} out of range`);
    this.#fresh(port);
    this.#handlers[port] = handler;
    this.#recheck(port);
  }

  off(port: number): void {
    if (!validPort(port)) return;
    this.#handlers[port] = undefined;
    this.#fresh(port);
  }

  /** A new handler or binding starts with no hold and no history (and no timer left). */
  #fresh(port: number): void {
    if ((this.#held[port >>> 5] & (1 << (port & 31))) !== 0) this.#endHold(port, false);
    this.#eoi.forget(port);
    this.stats.heldPorts = this.#eoi.held;
  }

  /** Late-EOI state of one port. */
  portStats(port: number): PortStats {
    if (!validPort(port)) return { spurious: 0, delayMs: 0, held: false };
    return {
      spurious: this.#eoi.spuriousOf(port),
      delayMs: this.#eoi.delayOf(port),
      held: (this.#held[port >>> 5] & (1 << (port & 31))) !== 0,
    };
  }

  /**
   * EVTCHNOP_send: sets the remote port pending and wakes its domain if the bit was clear,
   * the port unmasked and the domain asleep. Returns 0, or -1 when the port is not bound
   * (an unbound port's send is a no-op in Xen; pvnet reports it to the caller).
   */
  send(port: number): number {
    if (!validPort(port)) return -1;
    const info = Atomics.load(this.#portsI32, port);
    if (info >>> 30 !== PORT_INTERDOMAIN) return -1;
    const peer = (info >>> 14) & 0xffff;
    const rp = info & 0x3fff;
    const w = this.#links.get(peer);
    if (w === undefined) return -1;
    this.stats.sent++;
    const base = sideBase(peer, this.domid);
    const word = rp >>> 5;
    const bit = 1 << (rp & 31);
    if ((Atomics.or(w, base + SIDE_PENDING + word, bit) & bit) !== 0) return 0;
    if ((Atomics.load(w, base + SIDE_MASK + word) & bit) !== 0) return 0;
    Atomics.or(w, base + SIDE_SEL + (word >>> 5), 1 << (word & 31));
    // One wake-up per sleep: the first sender to see the flag takes it, so the other ports a
    // batch signals (netback's TX and RX, several queues) find the domain already woken.
    // The owner clears the flag on waking anyway; a wake-up lost here is impossible because
    // the bit and selector were set first and the owner re-checks them after raising it.
    if (Atomics.load(w, base + SIDE_SLEEPING) !== 0 && Atomics.exchange(w, base + SIDE_SLEEPING, 0) !== 0) {
      Atomics.add(w, base + SIDE_WAKE, 1);
      Atomics.notify(w, base + SIDE_WAKE, 1);
      this.stats.wakes++;
    }
    return 0;
  }

  mask(port: number): void {
    if (!validPort(port)) assert(false, `port ${port} out of range`);
    this.#masked[port >>> 5] |= 1 << (port & 31);
    this.#setSharedMask(port);
  }

  /** Unmasks and, as in Xen, looks for an event that arrived while masked. */
  unmask(port: number): void {
    if (!validPort(port)) assert(false, `port ${port} out of range`);
    const bit = 1 << (port & 31);
    this.#masked[port >>> 5] &= ~bit;
    // A late-EOI hold outlasts the driver's mask: its end unmasks and looks.
    if ((this.#held[port >>> 5] & bit) !== 0) return;
    this.#clearSharedMask(port);
    this.#recheck(port);
  }

  // The shared mask bit only spares an honest sender the selector and the wake-up: the
  // peer may clear it, so dispatch goes by the private bitmaps.
  #setSharedMask(port: number): void {
    const s = this.#sideOf(port);
    if (s !== undefined) Atomics.or(s.w, s.base + SIDE_MASK + (port >>> 5), 1 << (port & 31));
  }

  #clearSharedMask(port: number): void {
    const s = this.#sideOf(port);
    if (s !== undefined) Atomics.and(s.w, s.base + SIDE_MASK + (port >>> 5), ~(1 << (port & 31)));
  }

  /** Whether `side` has anything selected; cheap enough to poll. */
  hasSelected(side: OwnSide): boolean {
    const { w, base } = side;
    return (
      (Atomics.load(w, base + SIDE_SEL) |
        Atomics.load(w, base + SIDE_SEL + 1) |
        Atomics.load(w, base + SIDE_SEL + 2) |
        Atomics.load(w, base + SIDE_SEL + 3)) !==
      0
    );
  }

  /**
   * Runs the handler of every pending, unmasked, handled port of `side`, clearing each
   * pending bit before its handler runs (so an event raised during the handler is kept).
   * Returns how many handlers found work (0 for a pass that was all noise: bits for ports
   * held, masked, unbound or unhandled, or handlers that returned false).
   */
  dispatch(side: OwnSide): number {
    const { w, base, peer } = side;
    let found = 0;
    for (let s = 0; s < 4; s++) {
      let sel = Atomics.exchange(w, base + SIDE_SEL + s, 0);
      while (sel !== 0) {
        const low = sel & -sel;
        sel ^= low;
        const word = (s << 5) | (31 - Math.clz32(low));
        found += this.#dispatchWord(w, base, peer, word);
      }
    }
    if (found === 0) this.stats.emptyPasses++;
    return found;
  }

  #dispatchWord(w: Int32Array, base: number, peer: number, word: number): number {
    const pending = Atomics.load(w, base + SIDE_PENDING + word);
    let take = pending & ~(this.#masked[word] | this.#held[word]);
    if (take === 0) return 0;
    let found = 0;
    // Only ports with a handler are taken; the rest stay pending until one is set.
    let handled = 0;
    for (let t = take; t !== 0; ) {
      const low = t & -t;
      t ^= low;
      const port = (word << 5) | (31 - Math.clz32(low));
      if (this.#handlers[port] !== undefined || !this.#boundTo(port, peer)) handled |= low;
    }
    take = handled;
    if (take === 0) return 0;
    Atomics.and(w, base + SIDE_PENDING + word, ~take);
    while (take !== 0) {
      const low = take & -take;
      take ^= low;
      const port = (word << 5) | (31 - Math.clz32(low));
      if (!this.#boundTo(port, peer)) {
        this.stats.spurious++;
        continue;
      }
      const h = this.#handlers[port];
      if (h === undefined) continue;
      this.stats.dispatched++;
      // A handler that throws is a bug, not a peer's storm: not counted against the port.
      let spurious = false;
      try {
        spurious = h(port) === false;
      } catch (e) {
        this.onHandlerError(e);
      }
      if (spurious) this.#spurious(port);
      else {
        this.#eoi.work(port);
        found++;
      }
    }
    return found;
  }

  #spurious(port: number): void {
    this.stats.spurious++;
    const delay = this.#eoi.spurious(port);
    if (delay === 0) return;
    this.stats.lastDelayMs = delay;
    this.stats.lateEoiHolds++;
    this.stats.heldPorts = this.#eoi.held;
    this.#held[port >>> 5] |= 1 << (port & 31);
    this.#setSharedMask(port);
  }

  /** The hold is over: unmask (unless the driver masked it) and deliver what waited. */
  #endHold(port: number, look = true): void {
    const bit = 1 << (port & 31);
    this.#held[port >>> 5] &= ~bit;
    this.stats.heldPorts = this.#eoi.held;
    if ((this.#masked[port >>> 5] & bit) !== 0) return;
    this.#clearSharedMask(port);
    if (look) this.#recheck(port);
  }

  #boundTo(port: number, peer: number): boolean {
    const info = Atomics.load(this.#portsI32, port);
    return info >>> 30 === PORT_INTERDOMAIN && ((info >>> 14) & 0xffff) === peer;
  }

  #sideOf(port: number): OwnSide | undefined {
    const info = Atomics.load(this.#portsI32, port);
    if (info >>> 30 !== PORT_INTERDOMAIN) return undefined;
    const peer = (info >>> 14) & 0xffff;
    return this.#sides.find((s) => s.peer === peer);
  }

  #recheck(port: number): void {
    const s = this.#sideOf(port);
    if (s === undefined) return;
    const word = port >>> 5;
    if ((Atomics.load(s.w, s.base + SIDE_PENDING + word) & (1 << (port & 31))) === 0) return;
    Atomics.or(s.w, s.base + SIDE_SEL + (word >>> 5), 1 << (word & 31));
    this.onLatePending(s);
  }
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port > 0 && port < EVTCHN_NR_PORTS;
}
