/**
 * Per-queue netback counters, in shared memory so `pvnet top` and the web view can read them
 * from another thread while the queue runs. The first five are the names Linux's
 * xen-netback gives `ethtool -S vifX.Y` (summed over queues, as its ethtool handler does);
 * the rest are the interface statistics and the drops and errors by reason that pvnet counts
 * besides. TX and RX are the frontend's view, as everywhere in the drivers: `tx_*` is what
 * the guest sent.
 */
import { Counters } from "../base/counters.js";

/** xen-netback's ethtool statistics, in its order. */
export const VIF_ETHTOOL_STATS = [
  "rx_gso_checksum_fixup",
  "tx_zerocopy_sent",
  "tx_zerocopy_success",
  "tx_zerocopy_fail",
  "tx_frag_overflow",
] as const;

export const VIF_QUEUE_COUNTERS = [
  ...VIF_ETHTOOL_STATS,
  "tx_packets",
  "tx_bytes",
  "rx_packets",
  "rx_bytes",
  /** Guest frames answered NETIF_RSP_ERROR and dropped, the vif living on. */
  "tx_dropped",
  /** Frames for the guest dropped: its RX queue over its byte bound, or no buffer posted. */
  "rx_dropped",
  /** Protocol violations Linux calls fatal (each disables the vif). */
  "tx_fatal",
  /** Grant operations that failed (copy or map status other than GNTST_okay). */
  "grant_errors",
  /** Times the credit limiter held the ring back. */
  "tx_credit_waits",
  /** Times the pending pool was empty and the ring was left unread. */
  "tx_pending_full",
] as const;

export type VifQueueCounter = (typeof VIF_QUEUE_COUNTERS)[number];

/** One queue's counters; `buffer` lets another thread map the same slots. */
export function vifQueueCounters(buffer?: SharedArrayBuffer): Counters<VifQueueCounter> {
  return new Counters(VIF_QUEUE_COUNTERS, buffer);
}

/**
 * What `ethtool -S vifX.Y` prints for the vif: each statistic summed over its queues, in
 * xen-netback's order and with its names.
 */
export function vifEthtoolStats(queues: readonly Counters<VifQueueCounter>[]): [string, number][] {
  return VIF_ETHTOOL_STATS.map((name) => [name, queues.reduce((s, q) => s + q.get(name), 0)]);
}
