/**
 * netmap's shared structures (sys/net/netmap.h, API 14), laid out as on x86-64 inside a
 * pvnet netmap memory region (a SharedArrayBuffer). As in netmap every reference is an
 * offset or an index, never a pointer, so any thread holding the region computes the same
 * addresses. Owners: (u) the user writes it, (k) the kernel side (the port's sync code).
 *
 *   struct netmap_slot {          // 16 bytes
 *       uint32_t buf_idx;         // (u/k) buffer index
 *       uint16_t len;             // (u/k) bytes in this fragment
 *       uint16_t flags;           // (u/k) NS_*; high byte: fragment count on VALE RX
 *       uint64_t ptr;             // (u) NS_INDIRECT address or data offset
 *   };
 *
 *   struct netmap_ring {
 *       const int64_t  buf_ofs;   // (k) buffer pool offset from this ring
 *       const uint32_t num_slots; // (k) not necessarily a power of two
 *       const uint32_t nr_buf_size;
 *       const uint16_t ringid, dir;   // dir: 0 TX, 1 RX
 *       uint32_t head, cur;       // (u)
 *       uint32_t tail;            // (k)
 *       uint32_t flags;           // (u) NR_TIMESTAMP, NR_FORWARD
 *       struct timeval ts;        // (k) time of the last rxsync
 *       const uint64_t offset_mask, buf_align;
 *       uint8_t sem[128] __aligned(128);
 *       struct netmap_slot slot[];
 *   };
 *
 *   struct netmap_if {
 *       char ni_name[16]; const uint32_t ni_version, ni_flags;
 *       const uint32_t ni_tx_rings, ni_rx_rings;
 *       uint32_t ni_bufs_head;    // (u/k) extra-buffer list
 *       const uint32_t ni_host_tx_rings, ni_host_rx_rings, ni_spare1[3];
 *       const ssize_t ring_ofs[]; // NIC TX, host TX, NIC RX, host RX; 0 = not bound here
 *   };
 */

import { checkLayout } from "../wire/layout.js";
import type { Mem } from "../wire/mem.js";

export const NETMAP_API = 14;

export const SLOT_BUF_IDX = 0;
export const SLOT_LEN = 4;
export const SLOT_FLAGS = 6;
export const SLOT_PTR = 8;
export const NETMAP_SLOT_SIZE = 16;
checkLayout("netmap_slot", NETMAP_SLOT_SIZE, {
  buf_idx: [SLOT_BUF_IDX, 4],
  len: [SLOT_LEN, 2],
  flags: [SLOT_FLAGS, 2],
  ptr: [SLOT_PTR, 8],
});

export const RING_BUF_OFS = 0;
export const RING_NUM_SLOTS = 8;
export const RING_NR_BUF_SIZE = 12;
export const RING_RINGID = 16;
export const RING_DIR = 18;
export const RING_HEAD = 20;
export const RING_CUR = 24;
export const RING_TAIL = 28;
export const RING_FLAGS = 32;
export const RING_TS = 40;
export const RING_OFFSET_MASK = 56;
export const RING_BUF_ALIGN = 64;
export const RING_SEM = 128;
/**
 * pvnet's use of a ring's `sem` area (kernel-side words that other threads must see), as
 * Int32 indices relative to the ring: slots delivered into an RX ring by a sender and
 * released by its owner (pipes), and the wake word and sleeping flag of whoever polls it.
 */
export const SEM_DELIVERED = RING_SEM >>> 2;
export const SEM_RELEASED = SEM_DELIVERED + 1;
export const SEM_WAKE = SEM_DELIVERED + 2;
export const SEM_SLEEPING = SEM_DELIVERED + 3;
export const RING_SLOTS = 256;
checkLayout("netmap_ring", RING_SLOTS, {
  buf_ofs: [RING_BUF_OFS, 8],
  num_slots: [RING_NUM_SLOTS, 4],
  nr_buf_size: [RING_NR_BUF_SIZE, 4],
  ringid: [RING_RINGID, 2],
  dir: [RING_DIR, 2],
  head: [RING_HEAD, 4],
  cur: [RING_CUR, 4],
  tail: [RING_TAIL, 4],
  flags: [RING_FLAGS, 4],
  ts: [RING_TS, 16],
  offset_mask: [RING_OFFSET_MASK, 8],
  buf_align: [RING_BUF_ALIGN, 8],
  sem: [RING_SEM, 128],
});

export const IF_NAME = 0;
export const IFNAMSIZ = 16;
export const IF_VERSION = 16;
export const IF_FLAGS = 20;
export const IF_TX_RINGS = 24;
export const IF_RX_RINGS = 28;
export const IF_BUFS_HEAD = 32;
export const IF_HOST_TX_RINGS = 36;
export const IF_HOST_RX_RINGS = 40;
export const IF_RING_OFS = 56;
checkLayout("netmap_if", IF_RING_OFS, {
  ni_name: [IF_NAME, IFNAMSIZ],
  ni_version: [IF_VERSION, 4],
  ni_flags: [IF_FLAGS, 4],
  ni_tx_rings: [IF_TX_RINGS, 4],
  ni_rx_rings: [IF_RX_RINGS, 4],
  ni_bufs_head: [IF_BUFS_HEAD, 4],
  ni_host_tx_rings: [IF_HOST_TX_RINGS, 4],
  ni_host_rx_rings: [IF_HOST_RX_RINGS, 4],
  ni_spare1: [44, 12],
});

export const NI_PRIV_MEM = 0x1;

export const NS_BUF_CHANGED = 0x0001;
export const NS_REPORT = 0x0002;
export const NS_FORWARD = 0x0004;
export const NS_NO_LEARN = 0x0008;
export const NS_INDIRECT = 0x0010;
export const NS_MOREFRAG = 0x0020;
export const NS_TXMON = 0x0040;
export const NS_PORT_SHIFT = 8;
export const NS_PORT_MASK = 0xff << NS_PORT_SHIFT;
export const NETMAP_MAX_FRAGS = 64;
/** VALE RX: the packet's total fragment count, kept in every slot's high flag byte. */
export const nsRfrags = (flags: number): number => (flags >>> 8) & 0xff;

export const NR_TIMESTAMP = 0x0002;
export const NR_FORWARD = 0x0004;

export const NR_TX = 0;
export const NR_RX = 1;

/** Buffer indices 0 and 1 are reserved: 0 is "no buffer" and ends the extra-buffer list. */
export const NETMAP_BUF_RESERVED = 2;

// Slot accessors, `at` = byte offset of the slot.
export const slotBufIdx = (m: Mem, at: number): number => m.u32[at >>> 2];
export const slotLen = (m: Mem, at: number): number => m.u16[(at + SLOT_LEN) >>> 1];
export const slotFlags = (m: Mem, at: number): number => m.u16[(at + SLOT_FLAGS) >>> 1];
export function slotSetBufIdx(m: Mem, at: number, idx: number): void {
  m.u32[at >>> 2] = idx;
}
export function slotSetLen(m: Mem, at: number, len: number): void {
  m.u16[(at + SLOT_LEN) >>> 1] = len;
}
export function slotSetFlags(m: Mem, at: number, flags: number): void {
  m.u16[(at + SLOT_FLAGS) >>> 1] = flags;
}

// Ring accessors, `r` = byte offset of the netmap_ring. head/cur/tail cross threads, so
// they go through Atomics; the slots they guard are plain memory ordered by them.
export const ringNumSlots = (m: Mem, r: number): number => m.u32[(r + RING_NUM_SLOTS) >>> 2];
export const ringBufSize = (m: Mem, r: number): number => m.u32[(r + RING_NR_BUF_SIZE) >>> 2];
export const ringHead = (m: Mem, r: number): number => Atomics.load(m.u32, (r + RING_HEAD) >>> 2);
export const ringCur = (m: Mem, r: number): number => Atomics.load(m.u32, (r + RING_CUR) >>> 2);
export const ringTail = (m: Mem, r: number): number => Atomics.load(m.u32, (r + RING_TAIL) >>> 2);
export const ringFlags = (m: Mem, r: number): number => m.u32[(r + RING_FLAGS) >>> 2];
export function ringSetHead(m: Mem, r: number, v: number): void {
  Atomics.store(m.u32, (r + RING_HEAD) >>> 2, v);
}
export function ringSetCur(m: Mem, r: number, v: number): void {
  Atomics.store(m.u32, (r + RING_CUR) >>> 2, v);
}
export function ringSetTail(m: Mem, r: number, v: number): void {
  Atomics.store(m.u32, (r + RING_TAIL) >>> 2, v);
}
/** Byte offset of slot `i` of the ring at `r`. */
export const ringSlot = (r: number, i: number): number => r + RING_SLOTS + i * NETMAP_SLOT_SIZE;
/** Bytes a ring of `numSlots` slots takes, rounded to netmap's 64-byte object alignment. */
export const ringBytes = (numSlots: number): number => (RING_SLOTS + numSlots * NETMAP_SLOT_SIZE + 63) & ~63;

/**
 * ring->ts, a struct timeval (two int64s: seconds, microseconds), written by RX syncs
 * (NR_TIMESTAMP). Both halves fit in 32 bits until 2106, so the high words are zero.
 */
export function ringSetTs(m: Mem, r: number, ms: number): void {
  const sec = Math.floor(ms / 1000);
  const w = (r + RING_TS) >>> 2;
  m.u32[w] = sec >>> 0;
  m.u32[w + 1] = 0;
  m.u32[w + 2] = Math.floor((ms - sec * 1000) * 1000) >>> 0;
  m.u32[w + 3] = 0;
}
/** ring->ts in milliseconds (microsecond resolution). */
export const ringTsMs = (m: Mem, r: number): number =>
  m.u32[(r + RING_TS) >>> 2] * 1000 + m.u32[(r + RING_TS + 8) >>> 2] / 1000;
export function ringSetFlags(m: Mem, r: number, flags: number): void {
  m.u32[(r + RING_FLAGS) >>> 2] = flags;
}
