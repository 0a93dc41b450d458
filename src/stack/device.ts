/**
 * The device the guest stack sits on: netfront implements it, tests join two stacks with
 * an in-memory wire. Flag words are netif.h's own bits, so netfront passes them through:
 * `receive` takes an rx response's NETRXF_* flags, `transmit` gives a tx request's NETTXF_*.
 */
import type { Mem } from "../wire/mem.js";
import {
  NETRXF_csum_blank,
  NETRXF_data_validated,
  NETTXF_csum_blank,
  NETTXF_data_validated,
} from "../wire/xen/netif.js";

/** Received: the L4 checksum field is not filled (the sender offloaded it); don't verify. */
export const RX_CSUM_BLANK = NETRXF_csum_blank;
/** Received: the L4 checksum was already checked on the way; skip verification. */
export const RX_DATA_VALIDATED = NETRXF_data_validated;
/**
 * Sent: the UDP checksum field holds only the pseudo-header sum (Linux's CHECKSUM_PARTIAL);
 * whoever offloads it completes it over the UDP header and data. Always sent together
 * with TX_DATA_VALIDATED, as netfront does.
 */
export const TX_CSUM_BLANK = NETTXF_csum_blank;
export const TX_DATA_VALIDATED = NETTXF_data_validated;

export interface NetDevice {
  /** Our MAC as a 48-bit number (first octet in the top byte). */
  readonly mac: number;
  /** Largest IPv4 packet (Ethernet payload) in bytes, 68..65521; 1500 for a vif. */
  readonly mtu: number;
  /** The backend completes blank checksums (xenstore feature-no-csum-offload=0). */
  readonly offloadsChecksum: boolean;
  /**
   * Sends the `len`-byte Ethernet frame at `frame[0]` (no FCS) with NETTXF_* `flags`.
   * The device copies the bytes before returning: the stack reuses `frame` at once.
   * Returns false, taking nothing, when the ring is full; the stack then waits for
   * `NetStack.onWritable()`.
   */
  transmit(frame: Uint8Array, len: number, flags: number): boolean;
  /**
   * Zero-copy transmit, optional (netfront has it): the memory lent buffers live in, and
   * `txBuffer(maxLen)` lending one (its byte offset in `txMem`; -1 when none) for the stack
   * to build a frame of at most `maxLen` bytes in, then `txCommit(len, flags)` sending it
   * (false: not sent, the stack falls back to `transmit` and `txAbort`s) or `txAbort()`.
   * A device without them gets every frame through `transmit`.
   */
  readonly txMem?: Mem;
  txBuffer?(maxLen: number): number;
  txCommit?(len: number, flags: number): boolean;
  txAbort?(): void;
  /**
   * The stack joined (left) the group whose MAC is `mac`: a device whose backend filters
   * multicast passes it on (netfront: MCAST_ADD/DEL). Absent: the device filters nothing.
   */
  joinMulticast?(mac: number): void;
  leaveMulticast?(mac: number): void;
}
