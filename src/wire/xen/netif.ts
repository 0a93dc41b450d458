/**
 * The netif data rings (Xen public/io/netif.h). TX and RX are named from the frontend's
 * point of view: the frontend posts tx requests (packets it sends) and rx requests (empty
 * pages it offers); the backend answers each slot with a response in place.
 *
 * TX ring slots are 12 bytes (request 12, response 4, extra_info 8); RX slots are 8.
 * Accessors take the absolute byte offset of a slot; slots of a one-page ring sit at
 * 64 + k * entry size, so every field is naturally aligned. (Longer than most wire
 * files: five structs of one header, each with accessors and a Repr.)
 */

import { assert } from "../../base/assert.js";
import { checkLayout, type ParseError, parseError } from "../layout.js";
import { type Mem, privateMem } from "../mem.js";
import { ringEntries } from "./sring.js";

// netif_tx_request.flags
export const NETTXF_csum_blank = 1 << 0;
export const NETTXF_data_validated = 1 << 1;
export const NETTXF_more_data = 1 << 2;
export const NETTXF_extra_info = 1 << 3;
// netif_rx_response.flags: bits 0 and 1 are swapped with respect to TX.
export const NETRXF_data_validated = 1 << 0;
export const NETRXF_csum_blank = 1 << 1;
export const NETRXF_more_data = 1 << 2;
export const NETRXF_extra_info = 1 << 3;
/** Deprecated: GSO prefix slot, not used by current backends. */
export const NETRXF_gso_prefix = 1 << 4;

// netif_extra_info.type
export const XEN_NETIF_EXTRA_TYPE_NONE = 0;
export const XEN_NETIF_EXTRA_TYPE_GSO = 1;
export const XEN_NETIF_EXTRA_TYPE_MCAST_ADD = 2;
export const XEN_NETIF_EXTRA_TYPE_MCAST_DEL = 3;
export const XEN_NETIF_EXTRA_TYPE_HASH = 4;
/** Xen's bound (4.17). Linux's copy of netif.h adds XDP = 5 and moves MAX to 6. */
export const XEN_NETIF_EXTRA_TYPE_MAX = 5;
/** Linux-only (absent from Xen's header): RX headroom extra, `u.xdp.headroom`. */
export const XEN_NETIF_EXTRA_TYPE_XDP = 5;
export const XEN_NETIF_EXTRA_FLAG_MORE = 1 << 0;
export const XEN_NETIF_GSO_TYPE_NONE = 0;
export const XEN_NETIF_GSO_TYPE_TCPV4 = 1;
export const XEN_NETIF_GSO_TYPE_TCPV6 = 2;

// Response status (int16_t). NULL answers a slot that carried an extra_info.
export const NETIF_RSP_DROPPED = -2;
export const NETIF_RSP_ERROR = -1;
export const NETIF_RSP_OKAY = 0;
export const NETIF_RSP_NULL = 1;

/** Slots per packet a backend must accept without negotiation. */
export const XEN_NETIF_NR_SLOTS_MIN = 18;
/** netif_tx_request.size is a u16: the largest packet a frontend can express. */
export const XEN_NETIF_MAX_TX_SIZE = 0xffff;

/*
 *   struct netif_tx_request {
 *       grant_ref_t gref;     // @0
 *       uint16_t offset;      // @4  into the granted page
 *       uint16_t flags;       // @6  NETTXF_*
 *       uint16_t id;          // @8  echoed in the response
 *       uint16_t size;        // @10 whole packet in the first slot, fragment after
 *   };                        // 12
 *   struct netif_tx_response { uint16_t id; int16_t status; };   // 4, NETIF_RSP_*
 *
 *   struct netif_rx_request {
 *       uint16_t id;          // @0 echoed in the response
 *       uint16_t pad;         // @2
 *       grant_ref_t gref;     // @4 a writable page
 *   };                        // 8
 *   struct netif_rx_response {
 *       uint16_t id;          // @0
 *       uint16_t offset;      // @2 of the data in the page
 *       uint16_t flags;       // @4 NETRXF_*
 *       int16_t  status;      // @6 < 0: NETIF_RSP_*, else bytes in this slot
 *   };                        // 8
 *
 *   struct netif_extra_info {
 *       uint8_t type;         // @0 XEN_NETIF_EXTRA_TYPE_*
 *       uint8_t flags;        // @1 XEN_NETIF_EXTRA_FLAG_*
 *       union {               // @2, 6 bytes
 *           struct { uint16_t size; uint8_t type; uint8_t pad; uint16_t features; } gso;
 *           struct { uint8_t addr[6]; } mcast;
 *           struct { uint8_t type; uint8_t algorithm; uint8_t value[4]; } hash;
 *           struct { uint16_t headroom; uint16_t pad[2]; } xdp;   // Linux only
 *           uint16_t pad[3];
 *       } u;
 *   };                        // 8; fits in a TX request slot and an RX response slot
 *
 * Field tables: C member designator -> [offset, width]. One table per union member.
 */
export const NETIF_TX_REQUEST_SIZE = 12;
export const NETIF_TX_REQUEST_FIELDS = {
  gref: [0, 4],
  offset: [4, 2],
  flags: [6, 2],
  id: [8, 2],
  size: [10, 2],
} as const;
export const NETIF_TX_RESPONSE_SIZE = 4;
export const NETIF_TX_RESPONSE_FIELDS = { id: [0, 2], status: [2, 2] } as const;
export const NETIF_RX_REQUEST_SIZE = 8;
export const NETIF_RX_REQUEST_FIELDS = { id: [0, 2], pad: [2, 2], gref: [4, 4] } as const;
export const NETIF_RX_RESPONSE_SIZE = 8;
export const NETIF_RX_RESPONSE_FIELDS = {
  id: [0, 2],
  offset: [2, 2],
  flags: [4, 2],
  status: [6, 2],
} as const;
export const NETIF_EXTRA_INFO_SIZE = 8;
export const NETIF_EXTRA_GSO_FIELDS = {
  type: [0, 1],
  flags: [1, 1],
  "u.gso.size": [2, 2],
  "u.gso.type": [4, 1],
  "u.gso.pad": [5, 1],
  "u.gso.features": [6, 2],
} as const;
export const NETIF_EXTRA_MCAST_FIELDS = { type: [0, 1], flags: [1, 1], "u.mcast.addr": [2, 6] } as const;
export const NETIF_EXTRA_HASH_FIELDS = {
  type: [0, 1],
  flags: [1, 1],
  "u.hash.type": [2, 1],
  "u.hash.algorithm": [3, 1],
  "u.hash.value": [4, 4],
} as const;
/** Linux only: not in Xen's header. */
export const NETIF_EXTRA_XDP_FIELDS = {
  type: [0, 1],
  flags: [1, 1],
  "u.xdp.headroom": [2, 2],
  "u.xdp.pad": [4, 4],
} as const;

/** Ring slot sizes: the larger of request and response. */
export const NETIF_TX_ENTRY_SIZE = 12;
export const NETIF_RX_ENTRY_SIZE = 8;
/** Entries of a one-page ring (Linux's NET_TX_RING_SIZE / NET_RX_RING_SIZE). */
export const NET_TX_RING_SIZE = ringEntries(4096, NETIF_TX_ENTRY_SIZE);
export const NET_RX_RING_SIZE = ringEntries(4096, NETIF_RX_ENTRY_SIZE);

checkLayout("netif_tx_request", NETIF_TX_REQUEST_SIZE, NETIF_TX_REQUEST_FIELDS);
checkLayout("netif_tx_response", NETIF_TX_RESPONSE_SIZE, NETIF_TX_RESPONSE_FIELDS);
checkLayout("netif_rx_request", NETIF_RX_REQUEST_SIZE, NETIF_RX_REQUEST_FIELDS);
checkLayout("netif_rx_response", NETIF_RX_RESPONSE_SIZE, NETIF_RX_RESPONSE_FIELDS);
checkLayout("netif_extra_info.u.gso", NETIF_EXTRA_INFO_SIZE, NETIF_EXTRA_GSO_FIELDS);
checkLayout("netif_extra_info.u.mcast", NETIF_EXTRA_INFO_SIZE, NETIF_EXTRA_MCAST_FIELDS);
checkLayout("netif_extra_info.u.hash", NETIF_EXTRA_INFO_SIZE, NETIF_EXTRA_HASH_FIELDS);
checkLayout("netif_extra_info.u.xdp", NETIF_EXTRA_INFO_SIZE, NETIF_EXTRA_XDP_FIELDS);
assert(NETIF_TX_ENTRY_SIZE === Math.max(NETIF_TX_REQUEST_SIZE, NETIF_TX_RESPONSE_SIZE), "netif tx entry");
assert(NETIF_RX_ENTRY_SIZE === Math.max(NETIF_RX_REQUEST_SIZE, NETIF_RX_RESPONSE_SIZE), "netif rx entry");
assert(NETIF_EXTRA_INFO_SIZE <= NETIF_RX_ENTRY_SIZE, "extra_info must fit an rx slot");

// --- TX request / response -------------------------------------------------------------

export function txReqGref(m: Mem, at: number): number {
  return m.u32[at >>> 2];
}
export function txReqOffset(m: Mem, at: number): number {
  return m.u16[(at + 4) >>> 1];
}
export function txReqFlags(m: Mem, at: number): number {
  return m.u16[(at + 6) >>> 1];
}
export function txReqId(m: Mem, at: number): number {
  return m.u16[(at + 8) >>> 1];
}
export function txReqSize(m: Mem, at: number): number {
  return m.u16[(at + 10) >>> 1];
}
export function txReqSetFlags(m: Mem, at: number, flags: number): void {
  m.u16[(at + 6) >>> 1] = flags;
}
export function txReqSetSize(m: Mem, at: number, size: number): void {
  m.u16[(at + 10) >>> 1] = size;
}
export function txReqWrite(
  m: Mem,
  at: number,
  gref: number,
  offset: number,
  flags: number,
  id: number,
  size: number,
): void {
  const h = at >>> 1;
  m.u32[at >>> 2] = gref;
  m.u16[h + 2] = offset;
  m.u16[h + 3] = flags;
  m.u16[h + 4] = id;
  m.u16[h + 5] = size;
}

export function txRspId(m: Mem, at: number): number {
  return m.u16[at >>> 1];
}
export function txRspStatus(m: Mem, at: number): number {
  return m.i16[(at + 2) >>> 1];
}
export function txRspSetStatus(m: Mem, at: number, status: number): void {
  m.i16[(at + 2) >>> 1] = status;
}
/** Writes the 4 response bytes; bytes 4-11 of the slot are left as they are. */
export function txRspWrite(m: Mem, at: number, id: number, status: number): void {
  m.u16[at >>> 1] = id;
  m.i16[(at + 2) >>> 1] = status;
}

// --- RX request / response -------------------------------------------------------------

export function rxReqId(m: Mem, at: number): number {
  return m.u16[at >>> 1];
}
export function rxReqGref(m: Mem, at: number): number {
  return m.u32[(at + 4) >>> 2];
}
/** Writes id, gref and a zero pad. */
export function rxReqWrite(m: Mem, at: number, id: number, gref: number): void {
  m.u16[at >>> 1] = id;
  m.u16[(at + 2) >>> 1] = 0;
  m.u32[(at + 4) >>> 2] = gref;
}

export function rxRspId(m: Mem, at: number): number {
  return m.u16[at >>> 1];
}
export function rxRspOffset(m: Mem, at: number): number {
  return m.u16[(at + 2) >>> 1];
}
export function rxRspFlags(m: Mem, at: number): number {
  return m.u16[(at + 4) >>> 1];
}
export function rxRspStatus(m: Mem, at: number): number {
  return m.i16[(at + 6) >>> 1];
}
export function rxRspSetOffset(m: Mem, at: number, offset: number): void {
  m.u16[(at + 2) >>> 1] = offset;
}
export function rxRspSetFlags(m: Mem, at: number, flags: number): void {
  m.u16[(at + 4) >>> 1] = flags;
}
export function rxRspSetStatus(m: Mem, at: number, status: number): void {
  m.i16[(at + 6) >>> 1] = status;
}
export function rxRspWrite(
  m: Mem,
  at: number,
  id: number,
  offset: number,
  flags: number,
  status: number,
): void {
  const h = at >>> 1;
  m.u16[h] = id;
  m.u16[h + 1] = offset;
  m.u16[h + 2] = flags;
  m.i16[h + 3] = status;
}

// --- extra_info (in a TX request slot or an RX response slot) -----------------------------

export function extraType(m: Mem, at: number): number {
  return m.u8[at];
}
export function extraFlags(m: Mem, at: number): number {
  return m.u8[at + 1];
}
export function extraGsoSize(m: Mem, at: number): number {
  return m.u16[(at + 2) >>> 1];
}
export function extraGsoType(m: Mem, at: number): number {
  return m.u8[at + 4];
}
export function extraGsoFeatures(m: Mem, at: number): number {
  return m.u16[(at + 6) >>> 1];
}
/** The multicast MAC as a 48-bit number, addr[0] most significant. */
export function extraMcastAddr(m: Mem, at: number): number {
  const u8 = m.u8;
  const hi = (u8[at + 2] << 8) | u8[at + 3];
  const lo = ((u8[at + 4] << 24) | (u8[at + 5] << 16) | (u8[at + 6] << 8) | u8[at + 7]) >>> 0;
  return hi * 0x100000000 + lo;
}
export function extraHashType(m: Mem, at: number): number {
  return m.u8[at + 2];
}
export function extraHashAlgorithm(m: Mem, at: number): number {
  return m.u8[at + 3];
}
/** value[4], least significant byte first. */
export function extraHashValue(m: Mem, at: number): number {
  return m.u32[(at + 4) >>> 2];
}
export function extraXdpHeadroom(m: Mem, at: number): number {
  return m.u16[(at + 2) >>> 1];
}
export function extraSetFlags(m: Mem, at: number, flags: number): void {
  m.u8[at + 1] = flags;
}

/** A whole GSO extra (pad and features written as 0). */
export function extraGsoWrite(m: Mem, at: number, flags: number, size: number, gsoType: number): void {
  const h = at >>> 1;
  m.u8[at] = XEN_NETIF_EXTRA_TYPE_GSO;
  m.u8[at + 1] = flags;
  m.u16[h + 1] = size;
  m.u8[at + 4] = gsoType;
  m.u8[at + 5] = 0;
  m.u16[h + 3] = 0;
}
/** A whole MCAST_ADD or MCAST_DEL extra; `mac` is a 48-bit number, addr[0] most significant. */
export function extraMcastWrite(m: Mem, at: number, type: number, flags: number, mac: number): void {
  const u8 = m.u8;
  const hi = Math.floor(mac / 0x100000000);
  const lo = mac >>> 0;
  u8[at] = type;
  u8[at + 1] = flags;
  u8[at + 2] = hi >>> 8;
  u8[at + 3] = hi;
  u8[at + 4] = lo >>> 24;
  u8[at + 5] = lo >>> 16;
  u8[at + 6] = lo >>> 8;
  u8[at + 7] = lo;
}
export function extraHashWrite(
  m: Mem,
  at: number,
  flags: number,
  hashType: number,
  algorithm: number,
  value: number,
): void {
  m.u8[at] = XEN_NETIF_EXTRA_TYPE_HASH;
  m.u8[at + 1] = flags;
  m.u8[at + 2] = hashType;
  m.u8[at + 3] = algorithm;
  m.u32[(at + 4) >>> 2] = value;
}
/** A whole Linux XDP extra (pad written as 0). */
export function extraXdpWrite(m: Mem, at: number, flags: number, headroom: number): void {
  m.u8[at] = XEN_NETIF_EXTRA_TYPE_XDP;
  m.u8[at + 1] = flags;
  m.u16[(at + 2) >>> 1] = headroom;
  m.u32[(at + 4) >>> 2] = 0;
}

// --- Reprs --------------------------------------------------------------------------------
// parse… reads through a small private Mem so the Reprs and the accessors share one reading.

const scratch = privateMem(16);

function load(b: Uint8Array, at: number, size: number): boolean {
  if (!Number.isInteger(at) || at < 0 || at + size > b.length) return false;
  for (let i = 0; i < size; i++) scratch.u8[i] = b[at + i];
  return true;
}
function store(b: Uint8Array, at: number, size: number): void {
  assert(Number.isInteger(at) && at >= 0 && at + size <= b.length, "netif emit: buffer too short");
  b.set(scratch.u8.subarray(0, size), at);
}

export interface TxRequestRepr {
  gref: number;
  offset: number;
  flags: number;
  id: number;
  size: number;
}
export function parseTxRequest(b: Uint8Array, at = 0): TxRequestRepr | ParseError {
  if (!load(b, at, NETIF_TX_REQUEST_SIZE)) return parseError("netif_tx_request: buffer too short");
  const s = scratch;
  return {
    gref: txReqGref(s, 0),
    offset: txReqOffset(s, 0),
    flags: txReqFlags(s, 0),
    id: txReqId(s, 0),
    size: txReqSize(s, 0),
  };
}
export function emitTxRequest(r: TxRequestRepr, b: Uint8Array, at = 0): void {
  txReqWrite(scratch, 0, r.gref, r.offset, r.flags, r.id, r.size);
  store(b, at, NETIF_TX_REQUEST_SIZE);
}

export interface TxResponseRepr {
  id: number;
  status: number;
}
export function parseTxResponse(b: Uint8Array, at = 0): TxResponseRepr | ParseError {
  if (!load(b, at, NETIF_TX_RESPONSE_SIZE)) return parseError("netif_tx_response: buffer too short");
  return { id: txRspId(scratch, 0), status: txRspStatus(scratch, 0) };
}
/** Writes the 4 response bytes only. */
export function emitTxResponse(r: TxResponseRepr, b: Uint8Array, at = 0): void {
  txRspWrite(scratch, 0, r.id, r.status);
  store(b, at, NETIF_TX_RESPONSE_SIZE);
}

export interface RxRequestRepr {
  id: number;
  gref: number;
}
export function parseRxRequest(b: Uint8Array, at = 0): RxRequestRepr | ParseError {
  if (!load(b, at, NETIF_RX_REQUEST_SIZE)) return parseError("netif_rx_request: buffer too short");
  return { id: rxReqId(scratch, 0), gref: rxReqGref(scratch, 0) };
}
export function emitRxRequest(r: RxRequestRepr, b: Uint8Array, at = 0): void {
  rxReqWrite(scratch, 0, r.id, r.gref);
  store(b, at, NETIF_RX_REQUEST_SIZE);
}

export interface RxResponseRepr {
  id: number;
  offset: number;
  flags: number;
  status: number;
}
export function parseRxResponse(b: Uint8Array, at = 0): RxResponseRepr | ParseError {
  if (!load(b, at, NETIF_RX_RESPONSE_SIZE)) return parseError("netif_rx_response: buffer too short");
  const s = scratch;
  return { id: rxRspId(s, 0), offset: rxRspOffset(s, 0), flags: rxRspFlags(s, 0), status: rxRspStatus(s, 0) };
}
export function emitRxResponse(r: RxResponseRepr, b: Uint8Array, at = 0): void {
  rxRspWrite(scratch, 0, r.id, r.offset, r.flags, r.status);
  store(b, at, NETIF_RX_RESPONSE_SIZE);
}

/** One extra_info by type; an unknown type (0, or > 5) keeps its 6 union bytes. */
export type ExtraInfoRepr =
  | { kind: "gso"; flags: number; size: number; gsoType: number; features: number }
  | { kind: "mcastAdd" | "mcastDel"; flags: number; addr: number }
  | { kind: "hash"; flags: number; hashType: number; algorithm: number; value: number }
  | { kind: "xdp"; flags: number; headroom: number }
  | { kind: "unknown"; type: number; flags: number; u: Uint8Array };

export function parseExtraInfo(b: Uint8Array, at = 0): ExtraInfoRepr | ParseError {
  if (!load(b, at, NETIF_EXTRA_INFO_SIZE)) return parseError("netif_extra_info: buffer too short");
  const s = scratch;
  const flags = extraFlags(s, 0);
  switch (extraType(s, 0)) {
    case XEN_NETIF_EXTRA_TYPE_GSO:
      return {
        kind: "gso",
        flags,
        size: extraGsoSize(s, 0),
        gsoType: extraGsoType(s, 0),
        features: extraGsoFeatures(s, 0),
      };
    case XEN_NETIF_EXTRA_TYPE_MCAST_ADD:
      return { kind: "mcastAdd", flags, addr: extraMcastAddr(s, 0) };
    case XEN_NETIF_EXTRA_TYPE_MCAST_DEL:
      return { kind: "mcastDel", flags, addr: extraMcastAddr(s, 0) };
    case XEN_NETIF_EXTRA_TYPE_HASH:
      return {
        kind: "hash",
        flags,
        hashType: extraHashType(s, 0),
        algorithm: extraHashAlgorithm(s, 0),
        value: extraHashValue(s, 0),
      };
    case XEN_NETIF_EXTRA_TYPE_XDP:
      return { kind: "xdp", flags, headroom: extraXdpHeadroom(s, 0) };
    default:
      return { kind: "unknown", type: extraType(s, 0), flags, u: s.u8.slice(2, 8) };
  }
}

/** Writes all 8 bytes (GSO features and XDP pad as given / 0). */
export function emitExtraInfo(r: ExtraInfoRepr, b: Uint8Array, at = 0): void {
  const s = scratch;
  switch (r.kind) {
    case "gso":
      extraGsoWrite(s, 0, r.flags, r.size, r.gsoType);
      s.u16[3] = r.features;
      break;
    case "mcastAdd":
    case "mcastDel": {
      const type = r.kind === "mcastAdd" ? XEN_NETIF_EXTRA_TYPE_MCAST_ADD : XEN_NETIF_EXTRA_TYPE_MCAST_DEL;
      extraMcastWrite(s, 0, type, r.flags, r.addr);
      break;
    }
    case "hash":
      extraHashWrite(s, 0, r.flags, r.hashType, r.algorithm, r.value);
      break;
    case "xdp":
      extraXdpWrite(s, 0, r.flags, r.headroom);
      break;
    case "unknown":
      assert(r.u.length === 6, "netif_extra_info: unknown union must be 6 bytes");
      s.u8[0] = r.type;
      s.u8[1] = r.flags;
      s.u8.set(r.u, 2);
      break;
  }
  store(b, at, NETIF_EXTRA_INFO_SIZE);
}
