/**
 * A VXLAN uplink's counters, named as `ip -s -s link` shows a Linux device's
 * (rtnl_link_stats64), so a user reads them the same way on both ends of the tunnel.
 */
import { Counters } from "../../base/counters.js";

export const VXLAN_COUNTERS = [
  /** Inner frames received and passed to the switch, and their bytes. */
  "rx_packets",
  "rx_bytes",
  /** rx_length_errors + rx_frame_errors. */
  "rx_errors",
  /** Datagrams for another VNI, or received while the uplink had no rings. */
  "rx_dropped",
  /** Datagrams shorter than a VXLAN header, runt inner frames, inner frames above the MTU. */
  "rx_length_errors",
  /** Datagrams whose VXLAN I flag is clear. */
  "rx_frame_errors",
  /** Frames dropped because the RX ring toward the switch was full. */
  "rx_missed_errors",
  /** Broadcast and multicast inner frames received. */
  "multicast",
  /** Datagrams sent (a flooded frame counts once per remote), and their inner bytes. */
  "tx_packets",
  "tx_bytes",
  /** Sends the socket failed, and malformed slots from the switch. */
  "tx_errors",
  /** Frames above the MTU, and frames with no remote to go to. */
  "tx_dropped",
] as const;
export type VxlanCounter = (typeof VXLAN_COUNTERS)[number];

export function vxlanCounters(buffer?: SharedArrayBuffer): Counters<VxlanCounter> {
  return new Counters(VXLAN_COUNTERS, buffer);
}

/** Bytes of shared memory one uplink's counters take. */
export const VXLAN_COUNTERS_BYTES = VXLAN_COUNTERS.length * 8;
