/**
 * netback's flipping receive path (frontend `request-rx-copy=0`): each data slot of a
 * frame is received into a page of Domain-0's own and that page is given to the guest
 * with GNTTABOP_transfer into the accept-transfer entry the RX request names, then
 * Domain-0 repopulates the slot (hv/grant-transfer.ts says what that does physically).
 * One page serves every slot in turn: a transfer scrubs it and populate takes it back, so
 * nothing of one guest's frame can reach the next.
 */
import { PAGE_SHIFT, PAGE_SIZE } from "../hv/memory.js";
import type { ValeFrags } from "../vale/frags.js";
import { GNTST_okay } from "../wire/xen/grant.js";
import type { VifDomain } from "./vif-domain.js";

type FlipDomain = VifDomain & Partial<Pick<import("../hv/domain.js").Domain, "xfer">>;

export class RxFlip {
  readonly #dom: FlipDomain;
  readonly #page: number;

  private constructor(dom: FlipDomain, page: number) {
    this.#dom = dom;
    this.#page = page;
  }

  /** The flip path for `dom`, or null when it cannot transfer pages or has none to spare. */
  static create(dom: FlipDomain): RxFlip | null {
    if (dom.xfer === undefined) return null;
    const page = dom.pages.alloc();
    return page < 0 ? null : new RxFlip(dom, page);
  }

  /**
   * Puts `len` bytes of `f` from `from` at `head` of a Domain-0 page and transfers it to
   * entry `ref` of guest `front`: the GNTST_* status (GNTST_okay: the guest has them).
   */
  transfer(f: ValeFrags, from: number, len: number, head: number, front: number, ref: number): number {
    const xfer = this.#dom.xfer!;
    const page = this.#page;
    const at = page << PAGE_SHIFT;
    if (!xfer.owns(page)) xfer.populate(page);
    f.copyOut(from, this.#dom.memory.mem, at + head, len);
    const st = xfer.transfer(page, front, ref);
    if (st !== GNTST_okay) {
      this.#dom.memory.mem.u8.fill(0, at, at + PAGE_SIZE);
      return st;
    }
    xfer.populate(page);
    return st;
  }

  close(): void {
    const xfer = this.#dom.xfer!;
    if (!xfer.owns(this.#page)) xfer.populate(this.#page);
    this.#dom.pages.free(this.#page);
  }
}
