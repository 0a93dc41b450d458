/**
 * An uplink's counters (VXLAN and tap alike), named as `ip -s -s link` shows a Linux
 * device's (rtnl_link_stats64), so a user reads them the same way on both ends.
 */
import { Counters } from "../base/counters.js";

export const UPLINK_COUNTERS = [
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
export type UplinkCounter = (typeof UPLINK_COUNTERS)[number];

export function uplinkCounters(buffer?: SharedArrayBuffer): Counters<UplinkCounter> {
  return new Counters(UPLINK_COUNTERS, buffer);
}

/** Bytes of shared memory one uplink's counters take. */
export const UPLINK_COUNTERS_BYTES = UPLINK_COUNTERS.length * 8;
