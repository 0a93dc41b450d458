/**
 * The netif control ring (Xen public/io/netif.h, "Control ring"): the frontend sends
 * requests (hash configuration, grant mappings) and the backend answers each one with a
 * response carrying the same id; responses may come back in any order. One page holds
 * 128 entries of 16 bytes after the 64-byte ring header. Linux netfront does not use it;
 * Linux netback implements the hash types and answers NOT_SUPPORTED to the GREF ones.
 */

import { assert } from "../../base/assert.js";
import { checkLayout, type ParseError, parseError } from "../layout.js";
import type { Mem } from "../mem.js";
import { ringEntries } from "./sring.js";

export const XEN_NETIF_CTRL_TYPE_INVALID = 0;
export const XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS = 1;
export const XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS = 2;
/** data[0] = gref of the key, data[1] = key length. */
export const XEN_NETIF_CTRL_TYPE_SET_HASH_KEY = 3;
export const XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE = 4;
export const XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE = 5;
/** data[0] = gref, data[1] = number of entries, data[2] = first entry's index. */
export const XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING = 6;
export const XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM = 7;
export const XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE = 8;
export const XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING = 9;
export const XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING = 10;

export const XEN_NETIF_CTRL_STATUS_SUCCESS = 0;
export const XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED = 1;
export const XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER = 2;
export const XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW = 3;

export const XEN_NETIF_CTRL_HASH_ALGORITHM_NONE = 0;
export const XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ = 1;

// Hash types: bit numbers (as carried in a HASH extra's u.hash.type) and masks (as in
// GET/SET_HASH_FLAGS). Hashed input: IPv4 src+dst (8 bytes), + TCP ports (12); IPv6
// src+dst (32), + TCP ports (36).
export const _XEN_NETIF_CTRL_HASH_TYPE_IPV4 = 0;
export const _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP = 1;
export const _XEN_NETIF_CTRL_HASH_TYPE_IPV6 = 2;
export const _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP = 3;
export const XEN_NETIF_CTRL_HASH_TYPE_IPV4 = 1 << _XEN_NETIF_CTRL_HASH_TYPE_IPV4;
export const XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP = 1 << _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP;
export const XEN_NETIF_CTRL_HASH_TYPE_IPV6 = 1 << _XEN_NETIF_CTRL_HASH_TYPE_IPV6;
export const XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP = 1 << _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP;

/** xen_netif_gref.flags */
export const _XEN_NETIF_CTRLF_GREF_readonly = 0;
export const XEN_NETIF_CTRLF_GREF_readonly = 1 << _XEN_NETIF_CTRLF_GREF_readonly;

/*
 *   struct xen_netif_ctrl_request {
 *       uint16_t id;          // @0 echoed in the response
 *       uint16_t type;        // @2 XEN_NETIF_CTRL_TYPE_*
 *       uint32_t data[3];     // @4, @8, @12
 *   };                        // 16
 *   struct xen_netif_ctrl_response {
 *       uint16_t id;          // @0
 *       uint16_t type;        // @2
 *       uint32_t status;      // @4 XEN_NETIF_CTRL_STATUS_*
 *       uint32_t data;        // @8
 *   };                        // 12
 *   struct xen_netif_gref {   // entry of the ADD/DEL_GREF_MAPPING table
 *       grant_ref_t ref;      // @0 in
 *       uint16_t flags;       // @4 in, XEN_NETIF_CTRLF_GREF_*
 *       uint16_t status;      // @6 out, XEN_NETIF_CTRL_STATUS_*
 *   };                        // 8
 *
 * Field tables: C member designator -> [offset, width].
 */
export const XEN_NETIF_CTRL_REQUEST_SIZE = 16;
export const XEN_NETIF_CTRL_REQUEST_FIELDS = {
  id: [0, 2],
  type: [2, 2],
  "data[0]": [4, 4],
  "data[1]": [8, 4],
  "data[2]": [12, 4],
} as const;
export const XEN_NETIF_CTRL_RESPONSE_SIZE = 12;
export const XEN_NETIF_CTRL_RESPONSE_FIELDS = {
  id: [0, 2],
  type: [2, 2],
  status: [4, 4],
  data: [8, 4],
} as const;
export const XEN_NETIF_GREF_SIZE = 8;
export const XEN_NETIF_GREF_FIELDS = { ref: [0, 4], flags: [4, 2], status: [6, 2] } as const;

/** Ring slot size (the request is the larger) and entries in a one-page ring. */
export const XEN_NETIF_CTRL_ENTRY_SIZE = 16;
export const XEN_NETIF_CTRL_RING_SIZE = ringEntries(4096, XEN_NETIF_CTRL_ENTRY_SIZE);

checkLayout("xen_netif_ctrl_request", XEN_NETIF_CTRL_REQUEST_SIZE, XEN_NETIF_CTRL_REQUEST_FIELDS);
checkLayout("xen_netif_ctrl_response", XEN_NETIF_CTRL_RESPONSE_SIZE, XEN_NETIF_CTRL_RESPONSE_FIELDS);
checkLayout("xen_netif_gref", XEN_NETIF_GREF_SIZE, XEN_NETIF_GREF_FIELDS);
assert(
  XEN_NETIF_CTRL_ENTRY_SIZE === Math.max(XEN_NETIF_CTRL_REQUEST_SIZE, XEN_NETIF_CTRL_RESPONSE_SIZE),
  "netif ctrl entry",
);

export function ctrlReqId(m: Mem, at: number): number {
  return m.u16[at >>> 1];
}
export function ctrlReqType(m: Mem, at: number): number {
  return m.u16[(at + 2) >>> 1];
}
/** data[i], i in 0..2 (not checked). */
export function ctrlReqData(m: Mem, at: number, i: number): number {
  return m.u32[(at + 4 + 4 * i) >>> 2];
}
export function ctrlReqWrite(
  m: Mem,
  at: number,
  id: number,
  type: number,
  d0: number,
  d1: number,
  d2: number,
): void {
  const w = at >>> 2;
  m.u16[at >>> 1] = id;
  m.u16[(at + 2) >>> 1] = type;
  m.u32[w + 1] = d0;
  m.u32[w + 2] = d1;
  m.u32[w + 3] = d2;
}

export function ctrlRspId(m: Mem, at: number): number {
  return m.u16[at >>> 1];
}
export function ctrlRspType(m: Mem, at: number): number {
  return m.u16[(at + 2) >>> 1];
}
export function ctrlRspStatus(m: Mem, at: number): number {
  return m.u32[(at + 4) >>> 2];
}
export function ctrlRspData(m: Mem, at: number): number {
  return m.u32[(at + 8) >>> 2];
}
export function ctrlRspWrite(
  m: Mem,
  at: number,
  id: number,
  type: number,
  status: number,
  data: number,
): void {
  m.u16[at >>> 1] = id;
  m.u16[(at + 2) >>> 1] = type;
  m.u32[(at + 4) >>> 2] = status;
  m.u32[(at + 8) >>> 2] = data;
}

export function netifGrefRef(m: Mem, at: number): number {
  return m.u32[at >>> 2];
}
export function netifGrefFlags(m: Mem, at: number): number {
  return m.u16[(at + 4) >>> 1];
}
export function netifGrefStatus(m: Mem, at: number): number {
  return m.u16[(at + 6) >>> 1];
}
export function netifGrefSetStatus(m: Mem, at: number, status: number): void {
  m.u16[(at + 6) >>> 1] = status;
}

export interface CtrlRequestRepr {
  id: number;
  type: number;
  data: [number, number, number];
}
export interface CtrlResponseRepr {
  id: number;
  type: number;
  status: number;
  data: number;
}
export interface NetifGrefRepr {
  ref: number;
  flags: number;
  status: number;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}
function fits(b: Uint8Array, at: number, size: number): boolean {
  return Number.isInteger(at) && at >= 0 && at + size <= b.length;
}

export function parseCtrlRequest(b: Uint8Array, at = 0): CtrlRequestRepr | ParseError {
  if (!fits(b, at, XEN_NETIF_CTRL_REQUEST_SIZE))
    return parseError("xen_netif_ctrl_request: buffer too short");
  const dv = view(b);
  return {
    id: dv.getUint16(at, true),
    type: dv.getUint16(at + 2, true),
    data: [dv.getUint32(at + 4, true), dv.getUint32(at + 8, true), dv.getUint32(at + 12, true)],
  };
}
export function emitCtrlRequest(r: CtrlRequestRepr, b: Uint8Array, at = 0): void {
  const dv = view(b);
  dv.setUint16(at, r.id, true);
  dv.setUint16(at + 2, r.type, true);
  for (let i = 0; i < 3; i++) dv.setUint32(at + 4 + 4 * i, r.data[i] >>> 0, true);
}

export function parseCtrlResponse(b: Uint8Array, at = 0): CtrlResponseRepr | ParseError {
  if (!fits(b, at, XEN_NETIF_CTRL_RESPONSE_SIZE))
    return parseError("xen_netif_ctrl_response: buffer too short");
  const dv = view(b);
  return {
    id: dv.getUint16(at, true),
    type: dv.getUint16(at + 2, true),
    status: dv.getUint32(at + 4, true),
    data: dv.getUint32(at + 8, true),
  };
}
export function emitCtrlResponse(r: CtrlResponseRepr, b: Uint8Array, at = 0): void {
  const dv = view(b);
  dv.setUint16(at, r.id, true);
  dv.setUint16(at + 2, r.type, true);
  dv.setUint32(at + 4, r.status >>> 0, true);
  dv.setUint32(at + 8, r.data >>> 0, true);
}

export function parseNetifGref(b: Uint8Array, at = 0): NetifGrefRepr | ParseError {
  if (!fits(b, at, XEN_NETIF_GREF_SIZE)) return parseError("xen_netif_gref: buffer too short");
  const dv = view(b);
  return {
    ref: dv.getUint32(at, true),
    flags: dv.getUint16(at + 4, true),
    status: dv.getUint16(at + 6, true),
  };
}
export function emitNetifGref(r: NetifGrefRepr, b: Uint8Array, at = 0): void {
  const dv = view(b);
  dv.setUint32(at, r.ref >>> 0, true);
  dv.setUint16(at + 4, r.flags, true);
  dv.setUint16(at + 6, r.status, true);
}
