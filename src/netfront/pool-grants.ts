/**
 * Ending a queue's buffer pool: each page granted to the backend is freed once its grant
 * ends. A grant the backend still uses (mapped, or a copy running) cannot end, and its page
 * must not be reused, or the backend would write into memory given to something else
 * (XSA-396). Such grants go on the guest's deferred list, as gnttab_end_foreign_access
 * puts them on Linux's: retried on a timer, each page freed when the backend lets go, so a
 * reset loses no page for good and never ends a grant while it is mapped.
 */
import type { Domain } from "../hv/domain.js";
import type { TimerId } from "../hv/timer.js";

type GrantOwner = Pick<Domain, "grants" | "pages" | "timers">;

/** First retry of a deferred grant; the interval doubles while grants stay held. */
export const DEFERRED_FIRST_RETRY_MS = 50;
/** The longest interval between retries (Linux retries its deferred list every second). */
export const DEFERRED_MAX_RETRY_MS = 1000;

/** A domain's grants ended while the backend held them, retried until it lets go. */
export class DeferredGrants {
  static readonly #byTable = new WeakMap<object, DeferredGrants>();
  readonly #dom: GrantOwner;
  readonly #refs: number[] = [];
  readonly #pages: number[] = [];
  #timer: TimerId | null = null;
  #delayMs = DEFERRED_FIRST_RETRY_MS;
  #reclaimed = 0;

  private constructor(dom: GrantOwner) {
    this.#dom = dom;
  }

  /** The domain's one list (Linux keeps one per kernel, not per device). */
  static of(dom: GrantOwner): DeferredGrants {
    let d = DeferredGrants.#byTable.get(dom.grants);
    if (d === undefined) {
      d = new DeferredGrants(dom);
      DeferredGrants.#byTable.set(dom.grants, d);
    }
    return d;
  }

  /** Grants waiting for the backend to let go. */
  get pending(): number {
    return this.#refs.length;
  }

  /** Grants ended (and pages freed) from this list since the domain started. */
  get reclaimed(): number {
    return this.#reclaimed;
  }

  /** Ends `ref` and frees `page` now if the backend lets go, else defers both. */
  end(ref: number, page: number): void {
    if (this.#dom.grants.endAccess(ref)) {
      this.#dom.pages.free(page);
      return;
    }
    this.#refs.push(ref);
    this.#pages.push(page);
    if (this.#timer === null) this.#arm(DEFERRED_FIRST_RETRY_MS);
  }

  /** Retries every deferred grant now (also on a timer); returns how many stay held. */
  retry(): number {
    const refs = this.#refs;
    const pages = this.#pages;
    let kept = 0;
    for (let i = 0; i < refs.length; i++) {
      if (this.#dom.grants.endAccess(refs[i])) {
        this.#dom.pages.free(pages[i]);
        this.#reclaimed++;
      } else {
        refs[kept] = refs[i];
        pages[kept] = pages[i];
        kept++;
      }
    }
    refs.length = kept;
    pages.length = kept;
    if (kept === 0 && this.#timer !== null) {
      this.#dom.timers.cancel(this.#timer);
      this.#timer = null;
    }
    return kept;
  }

  #arm(ms: number): void {
    this.#delayMs = ms;
    this.#timer = this.#dom.timers.after(ms, () => {
      this.#timer = null;
      if (this.retry() > 0) this.#arm(Math.min(DEFERRED_MAX_RETRY_MS, this.#delayMs * 2));
    });
  }
}

/**
 * Ends the grants `refs[i]` of `pages[i]` (-1: already ended) and frees the pages whose
 * grant ended; those the backend still holds go on the domain's deferred list. Marks every
 * ref -1; returns how many were deferred.
 */
export function endPoolGrants(dom: GrantOwner, refs: Int32Array, pages: readonly number[]): number {
  const deferred = DeferredGrants.of(dom);
  const before = deferred.pending;
  for (let i = 0; i < refs.length; i++) {
    const ref = refs[i];
    if (ref < 0) continue;
    refs[i] = -1;
    deferred.end(ref, pages[i]);
  }
  return deferred.pending - before;
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
