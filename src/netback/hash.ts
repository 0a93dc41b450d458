/**
 * A vif's hash configuration, as the frontend sets it over the control ring: algorithm,
 * enabled types, key (up to 40 bytes) and the mapping table from hash to queue. With
 * Toeplitz chosen and types enabled, netback steers each frame for the guest to the RX
 * queue `mapping[hash % size]` (or `hash % queues` without a table), as Linux's
 * xenvif_select_queue does; otherwise the vif's own flow hash decides.
 */
import { TOEPLITZ_KEY_MAX } from "../base/toeplitz.js";
import { RssHasher } from "../wire/net/rss.js";
import { XEN_NETIF_CTRL_HASH_ALGORITHM_NONE } from "../wire/xen/netif-ctrl.js";

/** Mapping table entries netback takes (Linux's XEN_NETBK_MAX_HASH_MAPPING_SIZE). */
export const HASH_MAPPING_MAX = 128;

export class VifHash {
  algorithm = XEN_NETIF_CTRL_HASH_ALGORITHM_NONE;
  readonly hasher = new RssHasher(TOEPLITZ_KEY_MAX);
  /** Entries in use (0: modular arithmetic over the queues). */
  size = 0;
  readonly mapping = new Uint32Array(HASH_MAPPING_MAX);

  /** Whether frames are steered by this configuration (else the vif's own choice). */
  get active(): boolean {
    return this.algorithm !== XEN_NETIF_CTRL_HASH_ALGORITHM_NONE && this.hasher.flags !== 0;
  }

  /** The queue for the frame, or -1 when it has no hash (the caller's fallback). */
  queueFor(u8: Uint8Array, off: number, len: number, queues: number): number {
    if (!this.active || !this.hasher.hash(u8, off, len)) return -1;
    const h = this.hasher.value;
    return this.size === 0 ? h % queues : this.mapping[h % this.size];
  }

  reset(): void {
    this.algorithm = XEN_NETIF_CTRL_HASH_ALGORITHM_NONE;
    this.hasher.flags = 0;
    this.hasher.keyLen = 0;
    this.hasher.key.fill(0);
    this.size = 0;
    this.mapping.fill(0);
  }
}
