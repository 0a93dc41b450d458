/**
 * Grant tables, v1 (Xen public/grant_table.h) and the reserved domain ids of public/xen.h.
 *
 * A granting domain fills `grant_entry_v1` slots in its table frames (512 per 4 KiB frame);
 * the hypervisor side reads them when another domain maps or copies through a grant ref.
 * The gnttab_copy / map / unmap argument structs are given in their x86-64 layout.
 * 64-bit fields are accessed as two u32 halves (Lo, Hi): no BigInt on the hot path.
 * (Longer than most wire files: grant_table.h's constant set and its three argument
 * structs are one header and are kept together.)
 */

import { assert } from "../../base/assert.js";
import { checkLayout, type ParseError, parseError } from "../layout.js";
import type { Mem } from "../mem.js";

// Reserved domain ids (public/xen.h); domid_t is uint16_t.
export const DOMID_FIRST_RESERVED = 0x7ff0;
export const DOMID_SELF = 0x7ff0;
export const DOMID_IO = 0x7ff1;
export const DOMID_XEN = 0x7ff2;
export const DOMID_COW = 0x7ff3;
export const DOMID_INVALID = 0x7ff4;
export const DOMID_IDLE = 0x7fff;
export const DOMID_MASK = 0x7fff;

/*
 *   struct grant_entry_v1 {
 *       uint16_t flags;   // GTF_*; written last by the granter, bits 3-4 by the hypervisor
 *       domid_t  domid;   // the domain allowed to use the grant
 *       uint32_t frame;   // the granted frame (GFN)
 *   };                    // 8 bytes
 */
export const GRANT_ENTRY_V1_SIZE = 8;
/** C member -> [offset, width]. */
export const GRANT_ENTRY_V1_FIELDS = { flags: [0, 2], domid: [2, 2], frame: [4, 4] } as const;
export const GRANT_ENTRIES_PER_FRAME = 4096 / GRANT_ENTRY_V1_SIZE;
checkLayout("grant_entry_v1", GRANT_ENTRY_V1_SIZE, GRANT_ENTRY_V1_FIELDS);

export const GNTTAB_NR_RESERVED_ENTRIES = 8;
export const GNTTAB_RESERVED_CONSOLE = 0;
export const GNTTAB_RESERVED_XENSTORE = 1;

// Entry type (flags & GTF_type_mask).
export const GTF_invalid = 0;
export const GTF_permit_access = 1;
export const GTF_accept_transfer = 2;
export const GTF_transitive = 3;
export const GTF_type_mask = 3;
// permit_access / transitive entries.
export const GTF_readonly = 1 << 2;
export const GTF_reading = 1 << 3;
export const GTF_writing = 1 << 4;
export const GTF_PWT = 1 << 5;
export const GTF_PCD = 1 << 6;
export const GTF_PAT = 1 << 7;
export const GTF_sub_page = 1 << 8;
// accept_transfer entries (same bits as readonly/reading, other meaning).
export const GTF_transfer_committed = 1 << 2;
export const GTF_transfer_completed = 1 << 3;

export function gntFlags(m: Mem, at: number): number {
  return m.u16[at >>> 1];
}
export function gntDomid(m: Mem, at: number): number {
  return m.u16[(at + 2) >>> 1];
}
export function gntFrame(m: Mem, at: number): number {
  return m.u32[(at + 4) >>> 2];
}
export function gntSetFlags(m: Mem, at: number, flags: number): void {
  m.u16[at >>> 1] = flags;
}
export function gntSetDomid(m: Mem, at: number, domid: number): void {
  m.u16[(at + 2) >>> 1] = domid;
}
export function gntSetFrame(m: Mem, at: number, frame: number): void {
  m.u32[(at + 4) >>> 2] = frame;
}

/** The flags|domid word at the start of an entry, as Xen compares-and-swaps it (LE u32). */
export function gntWordOf(flags: number, domid: number): number {
  return ((flags & 0xffff) | ((domid & 0xffff) << 16)) >>> 0;
}
/** Atomic load of the flags|domid word; `at` is the entry's byte offset. */
export function gntWord(m: Mem, at: number): number {
  return Atomics.load(m.u32, at >>> 2);
}
/** Atomic compare-and-swap of the flags|domid word; returns the word found. */
export function gntCasWord(m: Mem, at: number, expected: number, replacement: number): number {
  return Atomics.compareExchange(m.u32, at >>> 2, expected, replacement) >>> 0;
}

export interface GrantEntryRepr {
  flags: number;
  domid: number;
  frame: number;
}

export function parseGrantEntry(b: Uint8Array, at = 0): GrantEntryRepr | ParseError {
  if (at < 0 || at + GRANT_ENTRY_V1_SIZE > b.length) return parseError("grant_entry_v1: buffer too short");
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    flags: dv.getUint16(at, true),
    domid: dv.getUint16(at + 2, true),
    frame: dv.getUint32(at + 4, true),
  };
}

export function emitGrantEntry(r: GrantEntryRepr, b: Uint8Array, at = 0): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  dv.setUint16(at, r.flags, true);
  dv.setUint16(at + 2, r.domid, true);
  dv.setUint32(at + 4, r.frame >>> 0, true);
}

// GNTTABOP_* (the set_version..cache_flush ops need __XEN_INTERFACE_VERSION__ >= 0x0003020a).
export const GNTTABOP_map_grant_ref = 0;
export const GNTTABOP_unmap_grant_ref = 1;
export const GNTTABOP_setup_table = 2;
export const GNTTABOP_dump_table = 3;
export const GNTTABOP_transfer = 4;
export const GNTTABOP_copy = 5;
export const GNTTABOP_query_size = 6;
export const GNTTABOP_unmap_and_replace = 7;
export const GNTTABOP_set_version = 8;
export const GNTTABOP_get_status_frames = 9;
export const GNTTABOP_get_version = 10;
export const GNTTABOP_swap_grant_ref = 11;
export const GNTTABOP_cache_flush = 12;

// gnttab_map_grant_ref.flags
export const GNTMAP_device_map = 1 << 0;
export const GNTMAP_host_map = 1 << 1;
export const GNTMAP_readonly = 1 << 2;
export const GNTMAP_application_map = 1 << 3;
export const GNTMAP_contains_pte = 1 << 4;
export const _GNTMAP_guest_avail0 = 16;
export const GNTMAP_guest_avail_mask = 0xffff0000;

// gnttab_copy.flags
export const GNTCOPY_source_gref = 1 << 0;
export const GNTCOPY_dest_gref = 1 << 1;

// Status codes (int16_t status fields).
export const GNTST_okay = 0;
export const GNTST_general_error = -1;
export const GNTST_bad_domain = -2;
export const GNTST_bad_gntref = -3;
export const GNTST_bad_handle = -4;
export const GNTST_bad_virt_addr = -5;
export const GNTST_bad_dev_addr = -6;
export const GNTST_no_device_space = -7;
export const GNTST_permission_denied = -8;
export const GNTST_bad_page = -9;
export const GNTST_bad_copy_arg = -10;
export const GNTST_address_too_big = -11;
export const GNTST_eagain = -12;
export const GNTST_no_space = -13;

/** One message per status, indexed by -status (GNTTABOP_error_msgs; our own wording). */
export const GNTTABOP_error_msgs: readonly string[] = Object.freeze([
  "okay",
  "undefined error",
  "unknown domain",
  "invalid grant reference",
  "invalid map handle",
  "invalid virtual address",
  "invalid device address",
  "no space left in the device (I/O MMU)",
  "permission denied",
  "invalid page",
  "copy arguments cross a page boundary",
  "page address too large",
  "operation not done, try again",
  "out of space",
]);

/** The message for a GNTST_* status, or "unknown grant status N". */
export function gntstMessage(status: number): string {
  return status <= 0 && -status < GNTTABOP_error_msgs.length
    ? GNTTABOP_error_msgs[-status]
    : `unknown grant status ${status}`;
}

/*
 *   struct gnttab_copy {                    // x86-64: xen_pfn_t is 64-bit
 *       struct {
 *           union { grant_ref_t ref; xen_pfn_t gmfn; } u;   // @0, 8 bytes
 *           domid_t  domid;                                  // @8
 *           uint16_t offset;                                 // @10
 *       } source, dest;                                      // @0, @16 (16 bytes each)
 *       uint16_t len;                                        // @32
 *       uint16_t flags;                                      // @34, GNTCOPY_*
 *       int16_t  status;                                     // @36, out: GNTST_*
 *   };                                                       // 40 bytes
 */
export const GNTTAB_COPY_SIZE = 40;
export const GNTTAB_COPY_FIELDS = {
  "source.u": [0, 8],
  "source.domid": [8, 2],
  "source.offset": [10, 2],
  "dest.u": [16, 8],
  "dest.domid": [24, 2],
  "dest.offset": [26, 2],
  len: [32, 2],
  flags: [34, 2],
  status: [36, 2],
} as const;
checkLayout("gnttab_copy", GNTTAB_COPY_SIZE, GNTTAB_COPY_FIELDS);

// Accessors for op i at `base + GNTTAB_COPY_SIZE * i`; `at` must be 4-byte aligned.
export function gcopySrcRef(m: Mem, at: number): number {
  return m.u32[at >>> 2];
}
export function gcopySrcGmfnLo(m: Mem, at: number): number {
  return m.u32[at >>> 2];
}
export function gcopySrcGmfnHi(m: Mem, at: number): number {
  return m.u32[(at + 4) >>> 2];
}
export function gcopySrcDomid(m: Mem, at: number): number {
  return m.u16[(at + 8) >>> 1];
}
export function gcopySrcOffset(m: Mem, at: number): number {
  return m.u16[(at + 10) >>> 1];
}
export function gcopyDestRef(m: Mem, at: number): number {
  return m.u32[(at + 16) >>> 2];
}
export function gcopyDestGmfnLo(m: Mem, at: number): number {
  return m.u32[(at + 16) >>> 2];
}
export function gcopyDestGmfnHi(m: Mem, at: number): number {
  return m.u32[(at + 20) >>> 2];
}
export function gcopyDestDomid(m: Mem, at: number): number {
  return m.u16[(at + 24) >>> 1];
}
export function gcopyDestOffset(m: Mem, at: number): number {
  return m.u16[(at + 26) >>> 1];
}
export function gcopyLen(m: Mem, at: number): number {
  return m.u16[(at + 32) >>> 1];
}
export function gcopyFlags(m: Mem, at: number): number {
  return m.u16[(at + 34) >>> 1];
}
export function gcopyStatus(m: Mem, at: number): number {
  return m.i16[(at + 36) >>> 1];
}

/** Sets source.u.ref and clears the upper half of the union. */
export function gcopySetSrcRef(m: Mem, at: number, ref: number): void {
  m.u32[at >>> 2] = ref;
  m.u32[(at + 4) >>> 2] = 0;
}
export function gcopySetSrcGmfn(m: Mem, at: number, lo: number, hi: number): void {
  m.u32[at >>> 2] = lo;
  m.u32[(at + 4) >>> 2] = hi;
}
export function gcopySetSrcDomid(m: Mem, at: number, domid: number): void {
  m.u16[(at + 8) >>> 1] = domid;
}
export function gcopySetSrcOffset(m: Mem, at: number, offset: number): void {
  m.u16[(at + 10) >>> 1] = offset;
}
/** Sets dest.u.ref and clears the upper half of the union. */
export function gcopySetDestRef(m: Mem, at: number, ref: number): void {
  m.u32[(at + 16) >>> 2] = ref;
  m.u32[(at + 20) >>> 2] = 0;
}
export function gcopySetDestGmfn(m: Mem, at: number, lo: number, hi: number): void {
  m.u32[(at + 16) >>> 2] = lo;
  m.u32[(at + 20) >>> 2] = hi;
}
export function gcopySetDestDomid(m: Mem, at: number, domid: number): void {
  m.u16[(at + 24) >>> 1] = domid;
}
export function gcopySetDestOffset(m: Mem, at: number, offset: number): void {
  m.u16[(at + 26) >>> 1] = offset;
}
export function gcopySetLen(m: Mem, at: number, len: number): void {
  m.u16[(at + 32) >>> 1] = len;
}
export function gcopySetFlags(m: Mem, at: number, flags: number): void {
  m.u16[(at + 34) >>> 1] = flags;
}
export function gcopySetStatus(m: Mem, at: number, status: number): void {
  m.i16[(at + 36) >>> 1] = status;
}

/**
 * Fills one op's inputs. `src`/`dest` are a gref (flag bit set) or a frame number's low
 * half; the high halves are written as 0 (frames past 2^32 need gcopySet…Gmfn). The
 * status and padding are left alone.
 */
export function gcopyWrite(
  m: Mem,
  at: number,
  src: number,
  srcDomid: number,
  srcOffset: number,
  dest: number,
  destDomid: number,
  destOffset: number,
  len: number,
  flags: number,
): void {
  const u32 = m.u32;
  const u16 = m.u16;
  const w = at >>> 2;
  const h = at >>> 1;
  u32[w] = src;
  u32[w + 1] = 0;
  u16[h + 4] = srcDomid;
  u16[h + 5] = srcOffset;
  u32[w + 4] = dest;
  u32[w + 5] = 0;
  u16[h + 12] = destDomid;
  u16[h + 13] = destOffset;
  u16[h + 16] = len;
  u16[h + 17] = flags;
}

export type GnttabCopyPtrRepr =
  | { ref: number; domid: number; offset: number }
  | { gmfn: bigint; domid: number; offset: number };

/** A whole gnttab_copy; each side is a `ref` or a `gmfn` as `flags` says. */
export interface GnttabCopyRepr {
  source: GnttabCopyPtrRepr;
  dest: GnttabCopyPtrRepr;
  len: number;
  flags: number;
  status: number;
}

function parsePtr(dv: DataView, at: number, isRef: boolean): GnttabCopyPtrRepr {
  const domid = dv.getUint16(at + 8, true);
  const offset = dv.getUint16(at + 10, true);
  return isRef
    ? { ref: dv.getUint32(at, true), domid, offset }
    : { gmfn: dv.getBigUint64(at, true), domid, offset };
}

function emitPtr(p: GnttabCopyPtrRepr, dv: DataView, at: number): void {
  dv.setBigUint64(at, "ref" in p ? BigInt(p.ref >>> 0) : BigInt.asUintN(64, p.gmfn), true);
  dv.setUint16(at + 8, p.domid, true);
  dv.setUint16(at + 10, p.offset, true);
  dv.setUint32(at + 12, 0, true);
}

export function parseGnttabCopy(b: Uint8Array, at = 0): GnttabCopyRepr | ParseError {
  if (at < 0 || at + GNTTAB_COPY_SIZE > b.length) return parseError("gnttab_copy: buffer too short");
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const flags = dv.getUint16(at + 34, true);
  return {
    source: parsePtr(dv, at, (flags & GNTCOPY_source_gref) !== 0),
    dest: parsePtr(dv, at + 16, (flags & GNTCOPY_dest_gref) !== 0),
    len: dv.getUint16(at + 32, true),
    flags,
    status: dv.getInt16(at + 36, true),
  };
}

/** Writes all 40 bytes (padding zeroed). A `ref` side must come with its GNTCOPY_ flag. */
export function emitGnttabCopy(r: GnttabCopyRepr, b: Uint8Array, at = 0): void {
  assert("ref" in r.source === ((r.flags & GNTCOPY_source_gref) !== 0), "gnttab_copy: source kind vs flags");
  assert("ref" in r.dest === ((r.flags & GNTCOPY_dest_gref) !== 0), "gnttab_copy: dest kind vs flags");
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  emitPtr(r.source, dv, at);
  emitPtr(r.dest, dv, at + 16);
  dv.setUint16(at + 32, r.len, true);
  dv.setUint16(at + 34, r.flags, true);
  dv.setInt16(at + 36, r.status, true);
  dv.setUint16(at + 38, 0, true);
}

/*
 *   struct gnttab_map_grant_ref {
 *       uint64_t host_addr;      // @0  in
 *       uint32_t flags;          // @8  in, GNTMAP_*
 *       grant_ref_t ref;         // @12 in
 *       domid_t  dom;            // @16 in
 *       int16_t  status;         // @18 out, GNTST_*
 *       grant_handle_t handle;   // @20 out (uint32_t)
 *       uint64_t dev_bus_addr;   // @24 out
 *   };                           // 32 bytes
 *   struct gnttab_unmap_grant_ref {
 *       uint64_t host_addr;      // @0  in
 *       uint64_t dev_bus_addr;   // @8  in
 *       grant_handle_t handle;   // @16 in
 *       int16_t  status;         // @20 out
 *   };                           // 24 bytes
 */
export const GNTTAB_MAP_GRANT_REF_SIZE = 32;
export const GNTTAB_MAP_GRANT_REF_FIELDS = {
  host_addr: [0, 8],
  flags: [8, 4],
  ref: [12, 4],
  dom: [16, 2],
  status: [18, 2],
  handle: [20, 4],
  dev_bus_addr: [24, 8],
} as const;
export const GNTTAB_UNMAP_GRANT_REF_SIZE = 24;
export const GNTTAB_UNMAP_GRANT_REF_FIELDS = {
  host_addr: [0, 8],
  dev_bus_addr: [8, 8],
  handle: [16, 4],
  status: [20, 2],
} as const;
checkLayout("gnttab_map_grant_ref", GNTTAB_MAP_GRANT_REF_SIZE, GNTTAB_MAP_GRANT_REF_FIELDS);
checkLayout("gnttab_unmap_grant_ref", GNTTAB_UNMAP_GRANT_REF_SIZE, GNTTAB_UNMAP_GRANT_REF_FIELDS);
