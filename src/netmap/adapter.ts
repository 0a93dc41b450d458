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

export interface NetmapAdapter {
  readonly name: string;
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
