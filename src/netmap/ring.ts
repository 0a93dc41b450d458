/**
 * The user's view of a netmap ring (netmap_user.h): the user owns the slots in
 * [head, tail), one slot always stays empty, `cur` is the wake-up point. These helpers read
 * the shared fields once each.
 */
import type { Mem } from "../wire/mem.js";
import { ringHead, ringNumSlots, ringSetCur, ringSetHead, ringTail } from "./layout.js";

/** nm_ring_next: i + 1, wrapping at num_slots (which need not be a power of two). */
export function nmRingNext(numSlots: number, i: number): number {
  return i + 1 === numSlots ? 0 : i + 1;
}

/** nm_ring_space: slots the user may fill (TX) or read (RX): tail - head, wrapped. */
export function nmRingSpace(m: Mem, r: number): number {
  const n = ringTail(m, r) - ringHead(m, r);
  return n < 0 ? n + ringNumSlots(m, r) : n;
}

/** nm_ring_empty: no slot for the user. */
export function nmRingEmpty(m: Mem, r: number): boolean {
  return ringHead(m, r) === ringTail(m, r);
}

/** nm_tx_pending: slots handed to the kernel side and not yet reclaimed. */
export function nmTxPending(m: Mem, r: number): boolean {
  return nmRingNext(ringNumSlots(m, r), ringTail(m, r)) !== ringHead(m, r);
}

/** Moves head and cur together to `i`: hands the slots before it over (the usual advance). */
export function nmRingAdvance(m: Mem, r: number, i: number): void {
  ringSetHead(m, r, i);
  ringSetCur(m, r, i);
}
