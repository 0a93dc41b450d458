/**
 * The memory of a netmap passthrough vif (pvnet's, after netmap's ptnet and ClickOS): one
 * VALE port's netmap_if, TX and RX rings and buffers, laid out by the guest in pages of its
 * own and granted to Domain-0, plus a status block (ptnet's CSB) where each side says
 * whether it wants an event from the other.
 *
 *   page 0          status block (below)
 *   pages 1..       a netmap region (mem.ts) holding one netmap_if, the TX ring, the RX
 *                   ring and 2 x slots + PT_EXTRA_BUFS buffers of NETMAP_BUF_SIZE bytes
 *
 * Both ends compute every offset from the slot count alone, so Domain-0 never reads an
 * offset, a count or a ring's const field from guest memory: the guest owns only what a
 * netmap user owns (head, cur, the slots' buf_idx/len/flags) and its status words.
 *
 * Status block (one 64-byte line per ring, TX first, RX at PT_CSB_RX):
 *
 *   uint32_t guest_need_kick;  // (g) the guest sleeps on this ring: notify when tail moves
 *   uint32_t host_need_kick;   // (h) Domain-0 sleeps on this ring: notify when head moves
 *
 * The ring's own head/cur (guest) and tail (Domain-0) carry the positions ptnet's CSB copies.
 * Each side sets its flag, then looks at the ring once more before sleeping, so a move
 * between its last look and the flag is never lost; the other side clears the flag when it
 * sends the event.
 */
import { PAGE_SIZE } from "../hv/memory.js";
import type { Mem } from "../wire/mem.js";
import { IF_RING_OFS, NETMAP_BUF_RESERVED, ringBytes } from "./layout.js";
import { NETMAP_BUF_SIZE, type RegionSpec } from "./mem.js";

/** Status block word offsets (Int32 indices) of the TX and RX lines. */
export const PT_CSB_TX = 0;
export const PT_CSB_RX = 16;
export const CSB_GUEST_NEED_KICK = 0;
export const CSB_HOST_NEED_KICK = 1;

/**
 * Slots per ring Domain-0 accepts: a power of two, so ring arithmetic stays simple; at most
 * 4096, netmap's own bound on a VALE port's rings (`vale-ctl -C`): its area is 4131 pages,
 * named by 5 directory pages, 16 MiB of the guest's memory and as many of its grants.
 */
export const PT_MIN_SLOTS = 64;
export const PT_MAX_SLOTS = 4096;
/**
 * The default, by measurement (docs/passthrough.md): every ring cycle costs wake-ups, so
 * bigger rings take bigger batches per wake-up; 2048 gets about what 4096 does at 64 B
 * (Domain-0's CPU per frame a third below 512's) for half the guest memory (8 MiB a vif).
 */
export const PT_DEFAULT_SLOTS = 2048;
/** Every slot count both ends accept, smallest first (the host YAML's `passthrough-slots`). */
export const PT_SLOT_CHOICES: readonly number[] = [64, 128, 256, 512, 1024, 2048, 4096];
/** Buffers beyond the rings' own (netmap's extra buffers; none are used yet). */
export const PT_EXTRA_BUFS = 0;

export interface PtLayout {
  readonly slots: number;
  /** Pages the whole area takes (status block included). */
  readonly pages: number;
  /** The region's spec (its first byte is at page 1 of the area). */
  readonly spec: RegionSpec;
  /** Byte offsets, within the region, of the netmap_if and the two rings. */
  readonly ifOff: number;
  readonly txRing: number;
  readonly rxRing: number;
}

/** Whether `slots` is a slot count both ends accept. */
export function validPtSlots(slots: number): boolean {
  return (
    Number.isInteger(slots) && slots >= PT_MIN_SLOTS && slots <= PT_MAX_SLOTS && (slots & (slots - 1)) === 0
  );
}

/**
 * The layout for `slots` slots per ring. The offsets are those NetmapRegion's allocators
 * give when the guest lays out the netmap_if first and then TX and RX (a test holds them to it).
 */
export function ptLayout(slots: number): PtLayout {
  const ifBytes = (IF_RING_OFS + 2 * 8 + 63) & ~63;
  const rb = ringBytes(slots);
  const spec: RegionSpec = {
    ifBytes,
    ringBytes: 2 * rb,
    nBufs: NETMAP_BUF_RESERVED + 2 * slots + PT_EXTRA_BUFS,
    bufSize: NETMAP_BUF_SIZE,
  };
  const ifOff = 64;
  const txRing = ifOff + ifBytes;
  const rxRing = txRing + rb;
  const regionBytes = rxRing + rb + spec.nBufs * NETMAP_BUF_SIZE;
  return {
    slots,
    pages: 1 + Math.ceil(regionBytes / PAGE_SIZE),
    spec,
    ifOff,
    txRing,
    rxRing,
  };
}

/**
 * Views over `len` bytes of `buffer` from `off` (8-byte aligned): a Mem whose offset 0 is
 * `off`, so code written for a region of its own (NetmapRegion, VALE) runs over a range of a
 * domain's memory. Indices past `len` read undefined, as past any Mem's end.
 */
export function memRange(buffer: ArrayBufferLike, off: number, len: number): Mem {
  if (off % 8 !== 0 || len % 8 !== 0 || off < 0 || off + len > buffer.byteLength)
    throw new RangeError(`Cannot view ${len} bytes at ${off} of a ${buffer.byteLength}-byte buffer`);
  return {
    buffer,
    byteLength: len,
    u8: new Uint8Array(buffer, off, len),
    u16: new Uint16Array(buffer, off, len >>> 1),
    i16: new Int16Array(buffer, off, len >>> 1),
    u32: new Uint32Array(buffer, off, len >>> 2),
    i32: new Int32Array(buffer, off, len >>> 2),
    f64: new Float64Array(buffer, off, len >>> 3),
    dv: new DataView(buffer, off, len),
    spans: null,
  };
}

/**
 * xenstore keys of a passthrough vif (pvnet's own, not Xen's). Domain-0 writes the feature
 * in the backend dir; the guest writes the others in its frontend dir beside the usual
 * netif keys, whose event channel carries the passthrough kicks.
 */
export const FEATURE_NETMAP_PASSTHROUGH = "feature-netmap-passthrough";
/**
 * Grant of the first read-only page of the page directory: uint32 grant refs, one per page
 * of the area, in order, PT_DIR_MAX to a directory page. Further directory pages' grants
 * are `netmap-passthrough-ref1`, `-ref2`, ... (ptDirKey); how many there are follows from
 * the page count alone (ptDirPages), as the ring-ref keys of a multi-page ring follow from
 * ring-page-order.
 */
export const KEY_PT_DIR_REF = "netmap-passthrough-ref";
export const KEY_PT_PAGES = "netmap-passthrough-pages";
export const KEY_PT_SLOTS = "netmap-passthrough-slots";
/** A page directory page holds this many refs (one page of uint32). */
export const PT_DIR_MAX = PAGE_SIZE / 4;

/** Directory pages an area of `pages` pages takes. */
export function ptDirPages(pages: number): number {
  return Math.ceil(pages / PT_DIR_MAX);
}

/** Guest pages a vif of `slots` slots per ring takes: its area and its directory. */
export function ptAreaPages(slots: number): number {
  const pages = ptLayout(slots).pages;
  return pages + ptDirPages(pages);
}

/** The xenstore key of directory page `i`'s grant ref. */
export function ptDirKey(i: number): string {
  return i === 0 ? KEY_PT_DIR_REF : `${KEY_PT_DIR_REF}${i}`;
}
