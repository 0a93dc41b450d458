/**
 * netfront's side of flipping receive (`rx-mode: flip`, request-rx-copy=0): every RX
 * buffer is offered to the backend as a GTF_accept_transfer entry instead of a writable
 * grant. A response's buffer holds data only if the backend transferred a page into its
 * entry, and the page arrives in the slot the guest offered (hv/grant-transfer.ts), so
 * the frame is read where the copy path would read it. An entry the backend did not use
 * (an extra-info slot, a failed transfer) is revoked and offered again; one committed but
 * not yet complete stays out of the pool (the backend broke the order of the protocol).
 */
import type { Domain } from "../hv/domain.js";
import { TRANSFER_PENDING } from "../hv/grant-table.js";

type Owner = Pick<Domain, "grants" | "pages">;

/** What a buffer's entry says when its response is read. */
export const FLIP_EMPTY = 0;
export const FLIP_FILLED = 1;
export const FLIP_PARKED = 2;

/**
 * Ends the offer `refs[buf]` of `pages[buf]`: FLIP_FILLED when a transfer completed into
 * that page, FLIP_EMPTY when none did (or it named another frame), FLIP_PARKED while one
 * is committed and not complete. The ref is spent unless parked (refs[buf] = -1).
 */
export function settleOffer(dom: Owner, refs: Int32Array, pages: readonly number[], buf: number): number {
  const ref = refs[buf];
  if (ref < 0) return FLIP_EMPTY;
  const r = dom.grants.endTransfer(ref);
  if (r === TRANSFER_PENDING) return FLIP_PARKED;
  refs[buf] = -1;
  return r === pages[buf] ? FLIP_FILLED : FLIP_EMPTY;
}

/** Offers `pages[buf]` again; false when the grant table is full (the buffer sits out). */
export function reoffer(
  dom: Owner,
  back: number,
  refs: Int32Array,
  pages: readonly number[],
  buf: number,
): boolean {
  if (refs[buf] >= 0) return true;
  const ref = dom.grants.offerTransfer(back, pages[buf]);
  refs[buf] = ref;
  return ref >= 0;
}

/** Ends every offer at close; returns how many the backend still holds mid-transfer (their pages stay out). */
export function endOffers(dom: Owner, refs: Int32Array, pages: readonly number[]): number {
  let held = 0;
  for (let i = 0; i < refs.length; i++) {
    if (refs[i] >= 0 && dom.grants.endTransfer(refs[i]) === TRANSFER_PENDING) {
      held++;
      continue;
    }
    refs[i] = -1;
    dom.pages.free(pages[i]);
  }
  return held;
}
