/**
 * What a received datagram is, checked before anything in it is used: a VXLAN header with
 * the I flag, the uplink's VNI, and an inner Ethernet frame from 14 bytes (no padding is
 * required: the kernel sends a 42-byte ARP as it is) up to the MTU plus its header. Each
 * reason maps to the counter a Linux user would look at.
 */
import { ETH_HLEN } from "../../wire/net/ethernet.js";
import { VXLAN_FLAG_I, VXLAN_FLAGS, VXLAN_HLEN, VXLAN_VNI } from "../../wire/net/vxlan.js";

export const DECAP_OK = 0;
/** Shorter than a VXLAN header. */
export const DECAP_SHORT = 1;
/** The I flag is clear. */
export const DECAP_FLAGS = 2;
/** A VNI other than the uplink's. */
export const DECAP_VNI = 3;
/** The inner frame is shorter than an Ethernet header. */
export const DECAP_RUNT = 4;
/** The inner frame is longer than `maxFrame`. */
export const DECAP_OVERSIZE = 5;

export type DecapResult =
  | typeof DECAP_OK
  | typeof DECAP_SHORT
  | typeof DECAP_FLAGS
  | typeof DECAP_VNI
  | typeof DECAP_RUNT
  | typeof DECAP_OVERSIZE;

/** Classifies datagram `b` (all of it) for an uplink of `vni` taking frames up to `maxFrame`. */
export function classifyDatagram(b: Uint8Array, vni: number, maxFrame: number): DecapResult {
  return classifyAt(b, 0, b.length, vni, maxFrame);
}

/**
 * Classifies the datagram of `len` bytes at `b[off]` (a slot of a batch receive; the caller
 * has held `off + len` within `b`).
 */
export function classifyAt(
  b: Uint8Array,
  off: number,
  len: number,
  vni: number,
  maxFrame: number,
): DecapResult {
  if (len < VXLAN_HLEN) return DECAP_SHORT;
  if ((b[off + VXLAN_FLAGS] & VXLAN_FLAG_I) === 0) return DECAP_FLAGS;
  const v = off + VXLAN_VNI;
  const got = (b[v] << 16) | (b[v + 1] << 8) | b[v + 2];
  if (got !== vni) return DECAP_VNI;
  const inner = len - VXLAN_HLEN;
  if (inner < ETH_HLEN) return DECAP_RUNT;
  if (inner > maxFrame) return DECAP_OVERSIZE;
  return DECAP_OK;
}
