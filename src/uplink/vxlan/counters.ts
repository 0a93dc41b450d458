/** A VXLAN uplink's counters: every uplink's (../counters.ts). */
import type { Counters } from "../../base/counters.js";
import { UPLINK_COUNTERS, type UplinkCounter, uplinkCounters } from "../counters.js";

export const VXLAN_COUNTERS = UPLINK_COUNTERS;
export type VxlanCounter = UplinkCounter;

export function vxlanCounters(buffer?: SharedArrayBuffer): Counters<VxlanCounter> {
  return uplinkCounters(buffer);
}

/** Bytes of shared memory one uplink's counters take. */
export const VXLAN_COUNTERS_BYTES = VXLAN_COUNTERS.length * 8;
