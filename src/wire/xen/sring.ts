/**
 * The shared ring header of Xen's io/ring.h (DEFINE_RING_TYPES), at the start of the
 * ring's first page, followed by the entry array from byte 64.
 *
 *   struct __name##_sring {
 *       RING_IDX req_prod, req_event;     // RING_IDX is uint32_t
 *       RING_IDX rsp_prod, rsp_event;
 *       union { struct { uint8_t smartpoll_active; } netif;
 *               struct { uint8_t msg; } tapif_user;
 *               uint8_t pvt_pad[4]; } pvt;
 *       uint8_t __pad[44];
 *       union __name##_sring_entry ring[1]; // variable-length
 *   };
 *
 * Writers: req_prod (frontend), req_event (backend), rsp_prod (backend), rsp_event (frontend).
 */

import { checkLayout, type ParseError, parseError } from "../layout.js";
import type { Mem } from "../mem.js";

export const SRING_REQ_PROD = 0;
export const SRING_REQ_EVENT = 4;
export const SRING_RSP_PROD = 8;
export const SRING_RSP_EVENT = 12;
export const SRING_PVT = 16;
export const SRING_PAD = 20;
/** Offset of ring[0]. */
export const SRING_HDR_SIZE = 64;

checkLayout("sring", SRING_HDR_SIZE, {
  req_prod: [SRING_REQ_PROD, 4],
  req_event: [SRING_REQ_EVENT, 4],
  rsp_prod: [SRING_RSP_PROD, 4],
  rsp_event: [SRING_RSP_EVENT, 4],
  pvt: [SRING_PVT, 4],
  __pad: [SRING_PAD, 44],
});

/**
 * Number of entries of a ring whose area (header included) is `areaBytes`: the largest
 * power of two of `entrySize` entries that fits after the header (ring.h's __RD32).
 */
export function ringEntries(areaBytes: number, entrySize: number): number {
  const fit = Math.floor((areaBytes - SRING_HDR_SIZE) / entrySize);
  if (fit < 1) return 0;
  return 2 ** Math.floor(Math.log2(fit));
}

/** SHARED_RING_INIT: indices 0, events 1, private and pad bytes zeroed. Frontend only. */
export function sringInit(m: Mem, at: number): void {
  m.u8.fill(0, at, at + SRING_HDR_SIZE);
  Atomics.store(m.u32, (at + SRING_REQ_EVENT) >>> 2, 1);
  Atomics.store(m.u32, (at + SRING_RSP_EVENT) >>> 2, 1);
}

export interface SringHeaderRepr {
  reqProd: number;
  reqEvent: number;
  rspProd: number;
  rspEvent: number;
}

export function parseSringHeader(b: Uint8Array, at = 0): SringHeaderRepr | ParseError {
  if (at < 0 || at + SRING_HDR_SIZE > b.length) return parseError("sring header: buffer too short");
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return {
    reqProd: dv.getUint32(at + SRING_REQ_PROD, true),
    reqEvent: dv.getUint32(at + SRING_REQ_EVENT, true),
    rspProd: dv.getUint32(at + SRING_RSP_PROD, true),
    rspEvent: dv.getUint32(at + SRING_RSP_EVENT, true),
  };
}

export function emitSringHeader(r: SringHeaderRepr, b: Uint8Array, at = 0): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  dv.setUint32(at + SRING_REQ_PROD, r.reqProd >>> 0, true);
  dv.setUint32(at + SRING_REQ_EVENT, r.reqEvent >>> 0, true);
  dv.setUint32(at + SRING_RSP_PROD, r.rspProd >>> 0, true);
  dv.setUint32(at + SRING_RSP_EVENT, r.rspEvent >>> 0, true);
  b.fill(0, at + SRING_PVT, at + SRING_HDR_SIZE);
}
