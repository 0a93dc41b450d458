/**
 * A bound netmap port: the user's rings plus their kernel twins, and the syscall-like
 * txsync/rxsync that wrap an adapter's sync in netmap's common code: the prologue
 * (validation of head/cur, and of buffers marked NS_BUF_CHANGED unless the adapter's own
 * slot loop checks them), the adapter's work (or the host rings' for host krings),
 * nm_sync_finalize; on RX also transparent forwarding (NR_FORWARD/NS_FORWARD) and the ring
 * timestamp (NR_TIMESTAMP). Sync runs in the caller's thread. A port opened by name has a
 * netmap_if (`nifp`) and may hold extra buffers.
 */
import type { Clock } from "../base/clock.js";
import { PvnetError } from "../base/errors.js";
import type { RateLog } from "../base/ratelog.js";
import type { Mem } from "../wire/mem.js";
import { NAF_FORCE_READ, NAF_FORCE_RECLAIM, type NetmapAdapter } from "./adapter.js";
import { extraBufsAlloc, extraBufsFree } from "./extra-bufs.js";
import { swToNic } from "./forward.js";
import type { HostRings } from "./host-rings.js";
import { ringWait } from "./irq.js";
import { KRing } from "./kring.js";
import { NR_FORWARD, NR_TIMESTAMP, ringCur, ringFlags, ringNumSlots, ringSetTs, ringTail } from "./layout.js";
import type { NetmapRegion } from "./mem.js";
import { monitorsOf } from "./monitor.js";

/** Wall-clock time for ring->ts (netmap writes microtime()). */
export const wallClock: Pick<Clock, "nowMs"> = { nowMs: () => performance.timeOrigin + performance.now() };

export interface PortOptions {
  log?: RateLog;
  /** The device's host rings: host krings sync through them, NIC RX can forward up. */
  host?: HostRings | null;
  /** When set, the port gets a netmap_if of this name in the region (ports opened by name). */
  ifName?: string;
  /** nr_extra_bufs: spare buffers wanted on ni_bufs_head (needs `ifName`; fewer may be granted). */
  extraBufs?: number;
  /** Time source for ring->ts (NR_TIMESTAMP); injectable for tests. */
  clock?: Pick<Clock, "nowMs">;
}

/** Transparent-mode counts (NS_FORWARD). */
export interface ForwardStats {
  up: number;
  down: number;
  dropped: number;
}

export class NetmapPort {
  readonly adapter: NetmapAdapter;
  readonly region: NetmapRegion;
  readonly mem: Mem;
  readonly tx: KRing[];
  readonly rx: KRing[];
  readonly host: HostRings | null;
  /** Byte offset of this port's netmap_if, or 0 for a port built without one. */
  readonly nifp: number;
  /** Extra buffers granted at open (nr_extra_bufs on return). */
  readonly extraBufs: number;
  readonly forwarded: ForwardStats = { up: 0, down: 0, dropped: 0 };
  readonly #clock: Pick<Clock, "nowMs">;
  readonly #nicTx: KRing[];
  readonly #nicRx: KRing[];
  /** The adapter checks NS_BUF_CHANGED in its own txsync/rxsync loop (checksBufChanged). */
  readonly #txChecksBufs: boolean;
  readonly #rxChecksBufs: boolean;
  #closed = false;

  /**
   * Binds `adapter`'s rings (byte offsets in `region`; host rings among them are recognised
   * by `opts.host`), resets them and enters netmap mode. The 5th argument may still be a
   * bare RateLog.
   */
  constructor(
    region: NetmapRegion,
    adapter: NetmapAdapter,
    txRings: readonly number[],
    rxRings: readonly number[],
    options?: PortOptions | RateLog,
  ) {
    const o: PortOptions = isRateLog(options) ? { log: options } : (options ?? {});
    this.adapter = adapter;
    this.region = region;
    this.mem = region.mem;
    this.host = o.host ?? null;
    this.#clock = o.clock ?? wallClock;
    this.#txChecksBufs = adapter.checksBufChanged?.tx === true;
    this.#rxChecksBufs = adapter.checksBufChanged?.rx === true;
    const kring = (r: number, tx: boolean, i: number): KRing => {
      const host = this.host?.isHostRing(r) ?? false;
      const k = new KRing({
        m: region.mem,
        r,
        numSlots: ringNumSlots(region.mem, r),
        tx,
        name: `${adapter.name}${host ? "^" : ""} ${tx ? "TX" : "RX"}${i}`,
        nBufs: region.nBufs,
        bufSize: region.bufSize,
        log: o.log,
      });
      k.host = host;
      k.reset();
      return k;
    };
    this.tx = txRings.map((r, i) => kring(r, true, i));
    this.rx = rxRings.map((r, i) => kring(r, false, i));
    this.#nicTx = this.tx.filter((k) => !k.host);
    this.nifp = o.ifName === undefined ? 0 : this.#allocIf(o.ifName, txRings, rxRings);
    this.extraBufs =
      this.nifp !== 0 && (o.extraBufs ?? 0) > 0 ? extraBufsAlloc(region, this.nifp, o.extraBufs ?? 0) : 0;
    // The adapter registers its own (NIC) rings; host rings belong to the common code, and
    // a port of host rings only leaves the adapter's registration alone.
    this.#nicRx = this.rx.filter((k) => !k.host);
    if (this.#nicTx.length + this.#nicRx.length > 0)
      adapter.register(true, { tx: this.#nicTx, rx: this.#nicRx });
  }

  #allocIf(name: string, txRings: readonly number[], rxRings: readonly number[]): number {
    const isHost = (r: number): boolean => this.host?.isHostRing(r) ?? false;
    const nicTx = txRings.filter((r) => !isHost(r));
    const hostTx = txRings.filter(isHost);
    const nicRx = rxRings.filter((r) => !isHost(r));
    const hostRx = rxRings.filter(isHost);
    const offs = [...nicTx, ...hostTx, ...nicRx, ...hostRx];
    if (!this.region.canAllocIf(offs.length))
      throw new PvnetError(
        "ENOMEM",
        `Cannot open ${name}: no room for a netmap_if in region ${this.region.id}`,
      );
    const counts = {
      txRings: nicTx.length,
      rxRings: nicRx.length,
      hostTxRings: hostTx.length,
      hostRxRings: hostRx.length,
      txSlots: 0,
      rxSlots: 0,
    };
    return this.region.allocIf(name, counts, offs);
  }

  /** NIOCTXSYNC: every TX ring; a ring whose head/cur or buffers fail validation is reset and skipped. */
  txsync(): void {
    for (const k of this.tx) this.#txsyncOne(k);
  }

  #txsyncOne(k: KRing): void {
    if (k.txsyncPrologue() < 0) return;
    const mons = monitorsOf(this.adapter);
    // Monitors copy the slots before the adapter's own check could stop at a bad one.
    if ((k.host || !this.#txChecksBufs || mons.length > 0) && !k.checkBufChanged()) return;
    if (mons.length > 0 && k.hwcur !== k.rhead)
      for (const mon of mons) mon.copy(this.region, k, k.hwcur, k.rhead, true);
    if (k.host) this.host?.txsync(k);
    else this.adapter.txsync(k, NAF_FORCE_RECLAIM);
    k.syncFinalize();
  }

  /**
   * NIOCRXSYNC: every RX ring; a reset ring still syncs from the reset position. Released
   * NS_FORWARD slots on NR_FORWARD rings go to the other side first; ring->ts is written
   * once per sync when NR_TIMESTAMP is set.
   */
  rxsync(): void {
    const m = this.mem;
    for (const k of this.rx) {
      k.rxsyncPrologue();
      const flags = ringFlags(m, k.r);
      const forward = (flags & NR_FORWARD) !== 0 && this.host !== null;
      // Forwarding reads the released slots before the adapter's own check would.
      if (k.host || !this.#rxChecksBufs || forward) k.checkBufChanged();
      if (forward && k.hwcur !== k.rhead) this.#forward(k);
      // New for the user: what lies between the tail it last saw and the new hwtail (VALE
      // fills RX rings between syncs, so hwtail may have moved before this call).
      const before = k.rtail;
      if (k.host) this.host?.rxsync(k);
      else this.adapter.rxsync(k, NAF_FORCE_READ);
      const mons = monitorsOf(this.adapter);
      if (mons.length > 0 && k.hwtail !== before)
        for (const mon of mons) mon.copy(this.region, k, before, k.hwtail, false);
      k.syncFinalize();
      if ((flags & NR_TIMESTAMP) !== 0) ringSetTs(m, k.r, this.#clock.nowMs());
    }
  }

  #forward(k: KRing): void {
    const host = this.host;
    if (host === null) return;
    if (!k.host) {
      this.forwarded.up += host.sendUpRange(k, k.hwcur, k.rhead, true);
      return;
    }
    const r = swToNic(k, this.#nicTx);
    this.forwarded.down += r.moved;
    this.forwarded.dropped += r.dropped;
    for (let t = 0; t < this.#nicTx.length; t++)
      if ((r.touched & (1 << t)) !== 0) this.#txsyncOne(this.#nicTx[t]);
  }

  /**
   * poll(): resolves when a bound RX ring has something past `cur` (POLLIN) or a TX ring
   * has room past `cur` (POLLOUT), after running the syncs as netmap's poll does; or with
   * both false after `timeoutMs`. Event-driven: it sleeps on the ring's wake word.
   */
  async poll(want: { rx?: boolean; tx?: boolean }, timeoutMs = 1000): Promise<{ rx: boolean; tx: boolean }> {
    const deadline = performance.now() + timeoutMs;
    const check = (): { rx: boolean; tx: boolean } => {
      if (want.tx === true) this.txsync();
      if (want.rx === true) this.rxsync();
      const m = this.mem;
      return {
        rx: want.rx === true && this.rx.some((k) => ringCur(m, k.r) !== ringTail(m, k.r)),
        tx: want.tx === true && this.tx.some((k) => ringCur(m, k.r) !== ringTail(m, k.r)),
      };
    };
    const ring = want.rx === true && this.rx.length > 0 ? this.rx[0].r : this.tx[0]?.r;
    for (let woken = false; ; woken = true) {
      const r = check();
      const left = deadline - performance.now();
      if (r.rx || r.tx || left <= 0 || ring === undefined) return r;
      // A wake that brought nothing (spurious, or a wake word another thread keeps bumping:
      // it lives in shared memory) goes through the event loop before the next wait, so a
      // poll never spins in microtasks and starves the rest of its thread.
      if (woken) await new Promise((res) => setImmediate(res));
      await ringWait(
        this.mem,
        ring,
        () => {
          const again = check();
          return again.rx || again.tx;
        },
        left,
      );
    }
  }

  /**
   * Leaves netmap mode; frees exactly the extra-buffer list reachable from ni_bufs_head
   * (returning how many buffers went back) and the netmap_if. A second close does nothing.
   */
  close(): number {
    if (this.#closed) return 0;
    this.#closed = true;
    if (this.#nicTx.length + this.#nicRx.length > 0)
      this.adapter.register(false, { tx: this.#nicTx, rx: this.#nicRx });
    if (this.nifp === 0) return 0;
    const freed = extraBufsFree(this.region, this.nifp);
    this.region.freeIf(this.nifp);
    return freed;
  }
}

function isRateLog(x: PortOptions | RateLog | undefined): x is RateLog {
  return x !== undefined && typeof (x as RateLog).log === "function";
}
