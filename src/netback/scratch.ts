/**
 * Domain-0 memory netback's RX path works in when a frame cannot go from its source to
 * the guest in one grant copy: a linear copy of the frame (software GSO's input, checksum
 * completion, or a frame whose bytes are not Domain-0's own pages: a netmap port's buffer,
 * the backlog) and the segments software GSO cuts from it. Both lie in pages of the
 * domain's own memory, so grant copies can take them as local frames (GNTCOPY source by
 * gmfn). Every vif queue of a Domain-0 thread runs in that thread, one at a time, so one
 * set serves them all.
 */

import { PAGE_SIZE } from "../hv/memory.js";
import { GSO_MAX_FRAME } from "../wire/net/gso-segment.js";
import type { VifDomain as Domain } from "./vif-domain.js";

/** Largest frame the linear area holds: a GSO superframe (Ethernet + IPv6 + 64 KiB). */
export const LIN_BYTES = GSO_MAX_FRAME;
/** Software GSO output: room for SEG_MAX segments of a superframe. */
export const SEG_BYTES = 32 * PAGE_SIZE;
export const SEG_MAX = 512;

export interface RxScratch {
  /** Byte offsets in the domain's memory of the two areas (each contiguous). */
  readonly lin: number;
  readonly seg: number;
  readonly segLens: Uint32Array;
}

const scratches = new WeakMap<Domain, RxScratch>();

/** The domain's scratch, allocated on first use; null when its memory is too short. */
export function rxScratch(dom: Domain): RxScratch | null {
  const have = scratches.get(dom);
  if (have !== undefined) return have;
  const linPages = Math.ceil(LIN_BYTES / PAGE_SIZE);
  const lin = dom.pages.allocRun(linPages);
  if (lin < 0) return null;
  const seg = dom.pages.allocRun(SEG_BYTES / PAGE_SIZE);
  if (seg < 0) {
    for (let i = 0; i < linPages; i++) dom.pages.free(lin + i);
    return null;
  }
  const s: RxScratch = { lin: lin * PAGE_SIZE, seg: seg * PAGE_SIZE, segLens: new Uint32Array(SEG_MAX) };
  scratches.set(dom, s);
  return s;
}
