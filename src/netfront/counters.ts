/**
 * Per-queue netfront counters in shared memory, so a live view in another thread reads them
 * while the queue runs. TX and RX are the guest's view: `tx_*` is what the guest sent.
 */
import { Counters } from "../base/counters.js";

export const NETFRONT_QUEUE_COUNTERS = [
  "tx_packets",
  "tx_bytes",
  /** Frames refused as unsendable (too big, no sg, GSO type not offered): taken and counted. */
  "tx_dropped",
  /** Slots the backend answered NETIF_RSP_ERROR or NETIF_RSP_DROPPED. */
  "tx_errors",
  /**
   * Times the ring or the buffer pool filled up and pushed back: a run of refused transmits
   * and lends counts once (until one is accepted), so a refused lend followed by the copying
   * transmit of the same frame, or a sender retrying, does not count the same full ring twice.
   */
  "tx_ring_full",
  /**
   * Slots still in flight when the queue closed (the backend went away, or the vif reset,
   * before answering them): their frames may not have gone out.
   */
  "tx_unanswered",
  "rx_packets",
  "rx_bytes",
  /**
   * Frames copied out of their granted pages before delivery because the backend is not
   * trusted (XSA-403); 0 with a trusted backend, whose single-slot frames go up in place.
   */
  "rx_bounced",
  /** Empty frames: buffers recycled. */
  "rx_dropped",
  /** Frames the backend reported failed (a negative status: its copy failed): buffers recycled. */
  "rx_errors",
  /** Protocol violations by the backend (each stops the queue and resets the vif). */
  "fatal",
] as const;

export type NetfrontQueueCounter = (typeof NETFRONT_QUEUE_COUNTERS)[number];

/** One queue's counters; pass `buffer` to read another thread's slots. */
export function netfrontQueueCounters(buffer?: SharedArrayBuffer): Counters<NetfrontQueueCounter> {
  return new Counters(NETFRONT_QUEUE_COUNTERS, buffer);
}
