/**
 * A frame the switch forwards by reference: a list of fragments in memory the switch does
 * not own, netmap's NS_INDIRECT slots in spirit (a slot whose `ptr` names the sender's
 * memory instead of a switch buffer). netback's TX builds one per guest frame: the first
 * bytes in Domain-0's private memory, the rest in the guest's pages mapped read-only.
 *
 * A fragment may also name its origin as a grant (`domid`, `gref`): a destination that
 * moves data with grant copies (netback's RX) then copies straight from the sender's page
 * into the receiver's, and the payload crosses the switch with one copy. Offload state
 * travels beside the data, as VALE carries a virtio-net header for its ports.
 *
 * The holder fills it and keeps every fragment valid until `forwardFrags` returns;
 * destinations only read it, and copy what they keep. Reused frame after frame: filling
 * it allocates nothing.
 */
import { NETMAP_MAX_FRAGS } from "../netmap/layout.js";
import { copyBytes } from "../wire/copy.js";
import type { Mem } from "../wire/mem.js";

/** The sender asks for the L4 checksum to be filled in (NETTXF_csum_blank, CHECKSUM_PARTIAL). */
export const VALE_F_CSUM_BLANK = 1;
/** The sender vouches for the frame's checksums (NETTXF_data_validated). */
export const VALE_F_DATA_VALID = 2;

/** No grant behind a fragment: its memory is the forwarding thread's. */
export const NO_GRANT = -1;

export class ValeFrags {
  /** Fragments in use. */
  n = 0;
  /** Sum of the fragments' lengths. */
  total = 0;
  /** VALE_F_*. */
  flags = 0;
  /** XEN_NETIF_GSO_TYPE_* (0: none) and the segment size, for a TCP superframe. */
  gsoType = 0;
  gsoSize = 0;
  readonly mem: Mem[];
  readonly off = new Int32Array(NETMAP_MAX_FRAGS);
  readonly len = new Int32Array(NETMAP_MAX_FRAGS);
  /** The granting domain of the page the fragment lies in, or NO_GRANT. */
  readonly domid = new Int32Array(NETMAP_MAX_FRAGS);
  readonly gref = new Int32Array(NETMAP_MAX_FRAGS);

  constructor(filler: Mem) {
    this.mem = new Array<Mem>(NETMAP_MAX_FRAGS).fill(filler);
  }

  clear(): void {
    this.n = 0;
    this.total = 0;
    this.flags = 0;
    this.gsoType = 0;
    this.gsoSize = 0;
  }

  /** Appends a fragment; false (nothing added) when all NETMAP_MAX_FRAGS are used. */
  push(mem: Mem, off: number, len: number, domid = NO_GRANT, gref = 0): boolean {
    const i = this.n;
    if (i === NETMAP_MAX_FRAGS) return false;
    this.mem[i] = mem;
    this.off[i] = off;
    this.len[i] = len;
    this.domid[i] = domid;
    this.gref[i] = gref;
    this.n = i + 1;
    this.total += len;
    return true;
  }

  /** Copies bytes [from, from + n) of the frame into `dst` at `at`; returns bytes copied. */
  copyOut(from: number, dst: Mem, at: number, n: number): number {
    let skip = from;
    let done = 0;
    for (let f = 0; f < this.n && done < n; f++) {
      const len = this.len[f];
      if (skip >= len) {
        skip -= len;
        continue;
      }
      const take = Math.min(len - skip, n - done);
      copyBytes(dst, at + done, this.mem[f], this.off[f] + skip, take);
      done += take;
      skip = 0;
    }
    return done;
  }
}
