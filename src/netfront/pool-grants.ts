/**
 * Ending a queue's buffer pool: each page granted to the backend is freed once its grant
 * ends; a grant the backend still uses (mapped, or a copy running) stays, and its page
 * with it, so the backend never writes into memory reused for something else.
 */
import type { Domain } from "../hv/domain.js";

/**
 * Ends the grants `refs[i]` of `pages[i]` (-1: already ended), frees the pages whose grant
 * ended and marks them -1; returns how many the backend still holds.
 */
export function endPoolGrants(
  dom: Pick<Domain, "grants" | "pages">,
  refs: Int32Array,
  pages: readonly number[],
): number {
  let held = 0;
  for (let i = 0; i < refs.length; i++) {
    const ref = refs[i];
    if (ref < 0) continue;
    if (dom.grants.endAccess(ref)) {
      refs[i] = -1;
      dom.pages.free(pages[i]);
    } else held++;
  }
  return held;
}

/** The smallest pool a queue settles for when memory is short. */
export const POOL_MIN = 64;

/**
 * Pages for a pool of up to `want` buffers. Each pool takes at most an eighth of the pages
 * still free, so the queues attached after it, and the guest's stack, keep room (Linux
 * allocates skbs as it goes; a pvnet pool is granted up front), but never fewer than
 * min(want, POOL_MIN): a guest that small is out of memory.
 */
export function allocPoolPages(dom: Pick<Domain, "domid" | "pages">, want: number, what: string): number[] {
  const n = Math.max(Math.min(want, POOL_MIN), Math.min(want, Math.floor(dom.pages.freePages / 8)));
  const got = dom.pages.allocMany(n);
  if (got === null) throw new RangeError(`Domain ${dom.domid} is out of memory: ${n} ${what} pages wanted`);
  return got;
}
