/**
 * The adapter contract every pvnet packet device implements, after netmap's porting guide:
 * a device reports its rings (`config`, netmap_attach's counts), enters and leaves netmap
 * mode (`register`), and moves slots in its txsync/rxsync; its "interrupts" call the
 * port's irq hooks, which wake whoever waits in poll. The common code around it (port.ts)
 * runs the sync prologue (validation of the user's head/cur against the kring) before and
 * nm_sync_finalize after, so an adapter only ever sees validated positions.
 */
import type { KRing } from "./kring.js";

export interface AdapterConfig {
  txRings: number;
  rxRings: number;
  txSlots: number;
  rxSlots: number;
  /** Largest frame one RX buffer receives (nm_config's rx_buf_maxsize). */
  rxBufMaxSize: number;
}

/** The config of a device with one TX and one RX ring of `slots` slots. */
export function ringPairConfig(slots: number, bufSize: number): AdapterConfig {
  return { txRings: 1, rxRings: 1, txSlots: slots, rxSlots: slots, rxBufMaxSize: bufSize };
}

/** Sync flags (netmap_kern.h). */
export const NAF_FORCE_READ = 1;
export const NAF_FORCE_RECLAIM = 2;

/**
 * Which of an adapter's syncs check NS_BUF_CHANGED in their own per-slot loop (see
 * `NetmapAdapter.checksBufChanged`).
 */
export interface BufChangedChecks {
  readonly tx: boolean;
  readonly rx: boolean;
}

export interface NetmapAdapter {
  readonly name: string;
  /**
   * Set when the adapter's txsync and/or rxsync check the slots marked NS_BUF_CHANGED in
   * [hwcur, rhead) inside their own per-slot loop, as netmap's drivers do where they load
   * each slot anyway; the common code then skips its separate pass over those slots
   * (`KRing.checkBufChanged`) for that direction. It still runs it for host krings (they
   * sync through HostRings), when monitors copy the slots before the adapter sees them,
   * and before NR_FORWARD sends released RX slots to the host. An adapter that declares a
   * direction must never use a buffer outside [NETMAP_BUF_RESERVED, nBufs), must never let
   * the flag reach another ring's user, and documents what a bad changed buffer does:
   * stop before that slot (hwcur = its index) and `kring.reinit(...)`, which is what the
   * common check does, or drop it and count it. Absent: the common code checks both
   * directions and clears the flag.
   */
  readonly checksBufChanged?: BufChangedChecks;
  /** nm_config: ring and descriptor counts. */
  config(): AdapterConfig;
  /** nm_register: enter (`on`) or leave netmap mode; the krings are ready before `on`. */
  register(on: boolean, krings: { tx: readonly KRing[]; rx: readonly KRing[] }): void;
  /**
   * nm_txsync: send the slots in [kring.hwcur, kring.rhead) and set hwcur = rhead; reclaim
   * completed slots by moving kring.hwtail (at most to rhead - 1).
   */
  txsync(kring: KRing, flags: number): void;
  /**
   * nm_rxsync: take back the slots the user released, [kring.hwcur, kring.rhead), setting
   * hwcur = rhead; import received slots by moving kring.hwtail (never onto hwcur - 1's
   * successor: one slot stays empty).
   */
  rxsync(kring: KRing, flags: number): void;
}
