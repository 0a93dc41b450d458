/**
 * Per-queue netback counters, in shared memory so `pvnet top` and the web view can read them
 * from another thread while the queue runs. The first five are the names Linux's
 * xen-netback gives `ethtool -S vifX.Y` (summed over queues, as its ethtool handler does);
 * the rest are the interface statistics and the drops and errors by reason that pvnet counts
 * besides. The interface statistics are Domain-0's view of vifN.M, as Linux counts them
 * (`ip -s link`): `tx_*` is what went to the guest, `rx_*` what came from it. The others
 * name the guest's TX ring as Linux's tx_zerocopy_* do: `tx_fatal`, `tx_credit_waits` and
 * `tx_pending_full` are about what the guest sent. (netfront's own counters and the guest
 * stack's keep the guest's view.)
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
  /** Frames sent to the guest (its RX ring). */
  "tx_packets",
  "tx_bytes",
  /** Frames received from the guest (its TX ring). */
  "rx_packets",
  "rx_bytes",
  /** Frames for the guest dropped: its RX queue over its byte bound, or no buffer posted. */
  "tx_dropped",
  /** Guest frames answered NETIF_RSP_ERROR and dropped, the vif living on. */
  "rx_dropped",
  /** Protocol violations Linux calls fatal (each disables the vif). */
  "tx_fatal",
  /** Grant operations that failed (copy or map status other than GNTST_okay). */
  "grant_errors",
  /** Times the credit limiter held the ring back. */
  "tx_credit_waits",
  /** Times the pending pool was empty and the ring was left unread. */
  "tx_pending_full",
  /** Events the guest sent on this queue's channel(s) that netback handled. */
  "evt_received",
  /** Notifications netback sent the guest (responses pushed and the guest asked for one). */
  "evt_sent",
  /** Grant copy operations netback issued (one per contiguous piece of a frame). */
  "gnt_copy_ops",
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
