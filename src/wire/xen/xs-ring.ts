/**
 * The xenstore shared ring page (Xen public/io/xs_wire.h, docs/misc/xenstore-ring.txt):
 * two 1 KiB byte rings (guest requests, daemon replies and watch events) and their
 * free-running u32 byte indexes; buffer index = MASK_XENSTORE_IDX(idx). The page is grant
 * ref 1 (GNTTAB_RESERVED_XENSTORE) of the guest. Accessors only: the byte-ring logic sits
 * in ring/byte-ring.ts.
 *
 * Writers: req_prod and rsp_cons (guest), req_cons and rsp_prod (daemon),
 * server_features (daemon, before the guest starts), connection (guest asks RECONNECT,
 * daemon answers CONNECTED), error (daemon, XENSTORE_ERROR_*). Index and control words go
 * through Atomics, which orders the plain byte copies around them.
 */

import { checkLayout, type ParseError, parseError } from "../layout.js";
import type { Mem } from "../mem.js";

export const XENSTORE_RING_SIZE = 1024;

/** Buffer offset of a free-running ring index. */
export function MASK_XENSTORE_IDX(idx: number): number {
  return idx & (XENSTORE_RING_SIZE - 1);
}

export const XENSTORE_SERVER_FEATURE_RECONNECTION = 1;
export const XENSTORE_SERVER_FEATURE_ERROR = 2;
export const XENSTORE_CONNECTED = 0;
export const XENSTORE_RECONNECT = 1;
export const XENSTORE_ERROR_NONE = 0;
export const XENSTORE_ERROR_COMM = 1;
export const XENSTORE_ERROR_RINGIDX = 2;
/** Protocol violation, e.g. a header declaring more than XENSTORE_PAYLOAD_MAX. */
export const XENSTORE_ERROR_PROTO = 3;

/*
 *   struct xenstore_domain_interface {
 *       char req[XENSTORE_RING_SIZE];          // @0    guest -> daemon
 *       char rsp[XENSTORE_RING_SIZE];          // @1024 daemon -> guest
 *       XENSTORE_RING_IDX req_cons, req_prod;  // @2048, @2052 (uint32_t)
 *       XENSTORE_RING_IDX rsp_cons, rsp_prod;  // @2056, @2060
 *       uint32_t server_features;              // @2064 XENSTORE_SERVER_FEATURE_*
 *       uint32_t connection;                   // @2068 XENSTORE_CONNECTED / _RECONNECT
 *       uint32_t error;                        // @2072 XENSTORE_ERROR_*
 *   };                                         // 2076 in 4.17 (master adds evtchn_port)
 */
export const XENSTORE_DOMAIN_INTERFACE_SIZE = 2076;
/** C member -> [offset, width]. */
export const XENSTORE_DOMAIN_INTERFACE_FIELDS = {
  req: [0, 1024],
  rsp: [1024, 1024],
  req_cons: [2048, 4],
  req_prod: [2052, 4],
  rsp_cons: [2056, 4],
  rsp_prod: [2060, 4],
  server_features: [2064, 4],
  connection: [2068, 4],
  error: [2072, 4],
} as const;
checkLayout("xenstore_domain_interface", XENSTORE_DOMAIN_INTERFACE_SIZE, XENSTORE_DOMAIN_INTERFACE_FIELDS);

export const XS_RING_REQ_OFF = 0;
export const XS_RING_RSP_OFF = 1024;

// `at` is the page's byte offset (4-byte aligned).
export function xsReqCons(m: Mem, at: number): number {
  return Atomics.load(m.u32, (at + 2048) >>> 2);
}
export function xsReqProd(m: Mem, at: number): number {
  return Atomics.load(m.u32, (at + 2052) >>> 2);
}
export function xsRspCons(m: Mem, at: number): number {
  return Atomics.load(m.u32, (at + 2056) >>> 2);
}
export function xsRspProd(m: Mem, at: number): number {
  return Atomics.load(m.u32, (at + 2060) >>> 2);
}
export function xsServerFeatures(m: Mem, at: number): number {
  return Atomics.load(m.u32, (at + 2064) >>> 2);
}
export function xsConnection(m: Mem, at: number): number {
  return Atomics.load(m.u32, (at + 2068) >>> 2);
}
export function xsError(m: Mem, at: number): number {
  return Atomics.load(m.u32, (at + 2072) >>> 2);
}
export function xsSetReqCons(m: Mem, at: number, v: number): void {
  Atomics.store(m.u32, (at + 2048) >>> 2, v);
}
export function xsSetReqProd(m: Mem, at: number, v: number): void {
  Atomics.store(m.u32, (at + 2052) >>> 2, v);
}
export function xsSetRspCons(m: Mem, at: number, v: number): void {
  Atomics.store(m.u32, (at + 2056) >>> 2, v);
}
export function xsSetRspProd(m: Mem, at: number, v: number): void {
  Atomics.store(m.u32, (at + 2060) >>> 2, v);
}
export function xsSetServerFeatures(m: Mem, at: number, v: number): void {
  Atomics.store(m.u32, (at + 2064) >>> 2, v);
}
export function xsSetConnection(m: Mem, at: number, v: number): void {
  Atomics.store(m.u32, (at + 2068) >>> 2, v);
}
export function xsSetError(m: Mem, at: number, v: number): void {
  Atomics.store(m.u32, (at + 2072) >>> 2, v);
}

/** The control words after the two byte rings. */
export interface XsRingHeaderRepr {
  reqCons: number;
  reqProd: number;
  rspCons: number;
  rspProd: number;
  serverFeatures: number;
  connection: number;
  error: number;
}

const WORDS = ["reqCons", "reqProd", "rspCons", "rspProd", "serverFeatures", "connection", "error"] as const;

/** Reads the control words of a page image starting at `at`. */
export function parseXsRingHeader(b: Uint8Array, at = 0): XsRingHeaderRepr | ParseError {
  if (!Number.isInteger(at) || at < 0 || at + XENSTORE_DOMAIN_INTERFACE_SIZE > b.length) {
    return parseError("xenstore_domain_interface: buffer too short");
  }
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const r = {} as XsRingHeaderRepr;
  WORDS.forEach((k, i) => {
    r[k] = dv.getUint32(at + 2048 + 4 * i, true);
  });
  return r;
}

/** Writes the control words of a page image starting at `at`; the byte rings are untouched. */
export function emitXsRingHeader(r: XsRingHeaderRepr, b: Uint8Array, at = 0): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  WORDS.forEach((k, i) => {
    dv.setUint32(at + 2048 + 4 * i, r[k] >>> 0, true);
  });
}
