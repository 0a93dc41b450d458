/**
 * Extra buffers (nr_extra_bufs, §1.10 of the reference): spare buffers a port asks for at
 * open, handed to the user as a list rooted at the netmap_if's ni_bufs_head; the first four
 * bytes of each buffer hold the next index and 0 ends the list. The user may move buffers
 * between the list and ring slots at will; on close the port frees exactly the list then
 * reachable from ni_bufs_head, as netmap does, so a user who wants no leak rebuilds it.
 */
import { IF_BUFS_HEAD } from "./layout.js";
import type { NetmapRegion } from "./mem.js";

/** Allocates up to `n` buffers onto `nifp`'s list; returns how many were granted. */
export function extraBufsAlloc(region: NetmapRegion, nifp: number, n: number): number {
  const u32 = region.mem.u32;
  let head = u32[(nifp + IF_BUFS_HEAD) >>> 2];
  let granted = 0;
  for (; granted < n; granted++) {
    const idx = region.allocBuf();
    if (idx === 0) break; // netmap may grant fewer than asked
    u32[region.bufOff(idx) >>> 2] = head;
    head = idx;
  }
  u32[(nifp + IF_BUFS_HEAD) >>> 2] = head;
  return granted;
}

/**
 * Frees the list reachable from `nifp`'s ni_bufs_head and empties it; returns how many
 * buffers went back. The list is user-written, so the walk stops at an invalid index and
 * visits at most every buffer once (a loop or a repeated index cannot double-free).
 */
export function extraBufsFree(region: NetmapRegion, nifp: number): number {
  const u32 = region.mem.u32;
  const seen = new Uint8Array(region.nBufs);
  let idx = u32[(nifp + IF_BUFS_HEAD) >>> 2];
  let freed = 0;
  while (region.validBuf(idx) && seen[idx] === 0) {
    seen[idx] = 1;
    const next = u32[region.bufOff(idx) >>> 2];
    if (region.freeBuf(idx)) freed++;
    idx = next;
  }
  u32[(nifp + IF_BUFS_HEAD) >>> 2] = 0;
  return freed;
}
