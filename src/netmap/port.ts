/**
 * A bound netmap port: the user's rings plus their kernel twins, and the syscall-like
 * txsync/rxsync that wrap an adapter's sync in netmap's common code (prologue validation of
 * head/cur, the adapter's work, nm_sync_finalize). Sync runs in the caller's thread.
 */
import type { RateLog } from "../base/ratelog.js";
import type { Mem } from "../wire/mem.js";
import { NAF_FORCE_READ, NAF_FORCE_RECLAIM, type NetmapAdapter } from "./adapter.js";
import { ringWait } from "./irq.js";
import { KRing } from "./kring.js";
import { ringCur, ringNumSlots, ringTail } from "./layout.js";
import type { NetmapRegion } from "./mem.js";

export class NetmapPort {
  readonly adapter: NetmapAdapter;
  readonly region: NetmapRegion;
  readonly mem: Mem;
  readonly tx: KRing[];
  readonly rx: KRing[];

  /** Binds `adapter`'s rings (byte offsets in `region`), resets them and enters netmap mode. */
  constructor(
    region: NetmapRegion,
    adapter: NetmapAdapter,
    txRings: readonly number[],
    rxRings: readonly number[],
    log?: RateLog,
  ) {
    this.adapter = adapter;
    this.region = region;
    this.mem = region.mem;
    const kring = (r: number, tx: boolean, i: number): KRing => {
      const k = new KRing({
        m: region.mem,
        r,
        numSlots: ringNumSlots(region.mem, r),
        tx,
        name: `${adapter.name} ${tx ? "TX" : "RX"}${i}`,
        nBufs: region.nBufs,
        bufSize: region.bufSize,
        log,
      });
      k.reset();
      return k;
    };
    this.tx = txRings.map((r, i) => kring(r, true, i));
    this.rx = rxRings.map((r, i) => kring(r, false, i));
    adapter.register(true, { tx: this.tx, rx: this.rx });
  }

  /** NIOCTXSYNC: every TX ring; a ring whose head/cur fail validation is reset and skipped. */
  txsync(): void {
    for (const k of this.tx) {
      if (k.txsyncPrologue() < 0) continue;
      this.adapter.txsync(k, NAF_FORCE_RECLAIM);
      k.syncFinalize();
    }
  }

  /** NIOCRXSYNC: every RX ring; a reset ring still syncs from the reset position. */
  rxsync(): void {
    for (const k of this.rx) {
      k.rxsyncPrologue();
      this.adapter.rxsync(k, NAF_FORCE_READ);
      k.syncFinalize();
    }
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
    for (;;) {
      const r = check();
      const left = deadline - performance.now();
      if (r.rx || r.tx || left <= 0 || ring === undefined) return r;
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

  close(): void {
    this.adapter.register(false, { tx: this.tx, rx: this.rx });
  }
}
