/** Shared words of the four-hop wake-up baseline (bench/wake-hops.ts and its worker). */

export type HopPrimitive = "wait" | "waitAsync" | "spin";

export const HOP_A = 0;
export const HOP_B = 1;
export const HOP_C = 2;
/** Int32 index of the stop flag; then an inbox and a sleeping flag per thread. */
export const HOP_STOP = 0;
export const HOP_WORDS = 16;
// Each thread's words on their own 64-byte line, so the counters do not share a cache line.
export const hopInbox = (t: number): number => 16 * (t + 1);
export const hopSleeping = (t: number): number => 16 * (t + 1) + 1;
export const HOP_BYTES = 4 * 16 * 4;

export interface HopArgs {
  words: SharedArrayBuffer;
  rtts: SharedArrayBuffer;
  role: number;
  prim: HopPrimitive;
  pings: number;
  warm: number;
}
