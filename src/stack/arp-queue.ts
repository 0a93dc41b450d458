/**
 * Frames waiting for ARP to resolve their next hop, held by bytes as Linux's neighbour
 * queue is (unres_qlen_bytes), not by a small count: a burst to a host being resolved
 * waits rather than drops. One private pool for all neighbours, each bounded on its own.
 *
 * Records sit back to back in arrival order: a 12-byte header (owner, length, flags as
 * int32) and the frame padded to 4 bytes. Taking or dropping one neighbour's frames
 * compacts the rest down with copyWithin; that happens once per resolution, not per frame,
 * and parking a frame is a copy at the end. Nothing here allocates after construction.
 */
import { assert } from "../base/assert.js";

const HDR = 12;
const H_OWNER = 0;
const H_LEN = 1;
const H_FLAGS = 2;

/** Receives a parked frame: `len` bytes at `pool[at]`, valid only during the call. */
export type ParkedSink = (pool: Uint8Array, at: number, len: number, flags: number) => void;

export class ArpQueue {
  /** Bytes of frames one neighbour may have waiting. */
  readonly perOwnerBytes: number;
  readonly #u8: Uint8Array;
  readonly #i32: Int32Array;
  readonly #bytes: Int32Array;
  readonly #frames: Int32Array;
  #used = 0;

  constructor(poolBytes: number, owners: number, perOwnerBytes: number) {
    assert(Number.isInteger(poolBytes) && poolBytes >= 0, `arp queue: pool of ${poolBytes} bytes`);
    const buf = new ArrayBuffer((poolBytes + 3) & ~3);
    this.#u8 = new Uint8Array(buf);
    this.#i32 = new Int32Array(buf);
    this.#bytes = new Int32Array(owners);
    this.#frames = new Int32Array(owners);
    this.perOwnerBytes = perOwnerBytes;
  }

  /** Frames waiting, all neighbours. */
  get frames(): number {
    let n = 0;
    for (let o = 0; o < this.#frames.length; o++) n += this.#frames[o];
    return n;
  }

  /** Bytes of frames waiting for `owner`. */
  bytesOf(owner: number): number {
    return this.#bytes[owner];
  }

  framesOf(owner: number): number {
    return this.#frames[owner];
  }

  /**
   * Copies the `len`-byte frame at `src[at]` to the end of the pool for `owner`; false
   * when `owner`'s bound or the pool has no room for it.
   */
  park(owner: number, src: Uint8Array, at: number, len: number, flags: number): boolean {
    const size = HDR + ((len + 3) & ~3);
    if (this.#bytes[owner] + len > this.perOwnerBytes || this.#used + size > this.#u8.length) return false;
    const h = this.#used >> 2;
    this.#i32[h + H_OWNER] = owner;
    this.#i32[h + H_LEN] = len;
    this.#i32[h + H_FLAGS] = flags;
    // A byte loop rather than set(subarray): no view is made per frame.
    const u8 = this.#u8;
    const to = this.#used + HDR;
    for (let i = 0; i < len; i++) u8[to + i] = src[at + i];
    this.#used += size;
    this.#bytes[owner] += len;
    this.#frames[owner]++;
    return true;
  }

  /** Hands `owner`'s frames to `out`, oldest first, and forgets them; returns how many. */
  take(owner: number, out: ParkedSink): number {
    return this.#remove(owner, out);
  }

  /** Forgets `owner`'s frames; returns how many there were. */
  drop(owner: number): number {
    return this.#remove(owner, null);
  }

  #remove(owner: number, out: ParkedSink | null): number {
    if (this.#frames[owner] === 0) return 0;
    const u8 = this.#u8;
    const i32 = this.#i32;
    let n = 0;
    let w = 0;
    // Bounded by our own fill mark, and every record advances it by at least HDR.
    for (let r = 0; r < this.#used; ) {
      const h = r >> 2;
      const len = i32[h + H_LEN];
      const size = HDR + ((len + 3) & ~3);
      if (i32[h + H_OWNER] === owner) {
        out?.(u8, r + HDR, len, i32[h + H_FLAGS]);
        n++;
      } else {
        if (w !== r) u8.copyWithin(w, r, r + size);
        w += size;
      }
      r += size;
    }
    this.#used = w;
    this.#bytes[owner] = 0;
    this.#frames[owner] = 0;
    return n;
  }
}
