/**
 * A netmap memory region (netmap_mem2.c's role): one SharedArrayBuffer holding the
 * netmap_if objects, the netmap_ring objects and a pool of fixed-size buffers, all found by
 * offset or index. Ports that share a region can hand buffers to each other by swapping
 * `buf_idx` (zero copy). Buffers 0 and 1 are reserved: 0 means "no buffer" and ends the
 * extra-buffer list.
 *
 *   [ header 64 B | if area | ring area | pad to 64 | buffer pool (nBufs x bufSize) ]
 */
import { assert } from "../base/assert.js";
import { type Mem, memOf } from "../wire/mem.js";
import {
  IF_BUFS_HEAD,
  IF_HOST_RX_RINGS,
  IF_HOST_TX_RINGS,
  IF_NAME,
  IF_RING_OFS,
  IF_RX_RINGS,
  IF_TX_RINGS,
  IF_VERSION,
  IFNAMSIZ,
  NETMAP_API,
  NETMAP_BUF_RESERVED,
  NETMAP_SLOT_SIZE,
  RING_BUF_OFS,
  RING_DIR,
  RING_NR_BUF_SIZE,
  RING_NUM_SLOTS,
  RING_RINGID,
  RING_SLOTS,
  ringBytes,
} from "./layout.js";

export const NETMAP_BUF_SIZE = 2048;

export interface RegionSpec {
  /** Bytes reserved for netmap_if objects. */
  ifBytes: number;
  /** Bytes reserved for netmap_ring objects. */
  ringBytes: number;
  nBufs: number;
  bufSize?: number;
}

export interface RingCounts {
  txRings: number;
  rxRings: number;
  hostTxRings: number;
  hostRxRings: number;
  txSlots: number;
  rxSlots: number;
}

/** Region size for `ports` ports of the given shape, with `extraBufs` spare buffers. */
export function regionSpecFor(
  ports: number,
  c: RingCounts,
  extraBufs = 0,
  bufSize = NETMAP_BUF_SIZE,
): RegionSpec {
  const rings = c.txRings + c.hostTxRings + c.rxRings + c.hostRxRings;
  const ringB =
    (c.txRings + c.hostTxRings) * ringBytes(c.txSlots) + (c.rxRings + c.hostRxRings) * ringBytes(c.rxSlots);
  const bufs = (c.txRings + c.hostTxRings) * c.txSlots + (c.rxRings + c.hostRxRings) * c.rxSlots;
  return {
    ifBytes: ports * ((IF_RING_OFS + rings * 8 + 63) & ~63),
    ringBytes: ports * ringB,
    nBufs: NETMAP_BUF_RESERVED + ports * bufs + extraBufs,
    bufSize,
  };
}

export class NetmapRegion {
  readonly id: number;
  readonly mem: Mem;
  readonly bufSize: number;
  readonly nBufs: number;
  /** Byte offset of buffer 0. */
  readonly bufBase: number;
  readonly #ifEnd: number;
  readonly #ringEnd: number;
  #ifNext: number;
  #ringNext: number;
  readonly #free: Uint32Array;
  #nFree: number;
  /** 1 for buffers on the free list: a second free of the same index is refused. */
  readonly #isFree: Uint8Array;
  /** Freed netmap_if objects by size, reused before the area grows (ports come and go). */
  readonly #ifFree = new Map<number, number[]>();
  readonly #ifSize = new Map<number, number>();

  /** `buffer` may be a Mem over a range of other memory (a passthrough vif's: pt-layout.ts). */
  constructor(id: number, spec: RegionSpec, buffer?: SharedArrayBuffer | Mem) {
    const bufSize = spec.bufSize ?? NETMAP_BUF_SIZE;
    assert(bufSize >= 64 && bufSize % 64 === 0, `netmap buffer size ${bufSize} must be a multiple of 64`);
    assert(spec.nBufs > NETMAP_BUF_RESERVED, "a netmap region needs buffers");
    this.id = id;
    this.bufSize = bufSize;
    this.nBufs = spec.nBufs;
    this.#ifNext = 64;
    this.#ifEnd = this.#ifNext + align64(spec.ifBytes);
    this.#ringNext = this.#ifEnd;
    this.#ringEnd = this.#ringNext + align64(spec.ringBytes);
    this.bufBase = this.#ringEnd;
    const total = this.bufBase + spec.nBufs * bufSize;
    this.mem =
      buffer === undefined
        ? memOf(new SharedArrayBuffer(total))
        : buffer instanceof SharedArrayBuffer
          ? memOf(buffer)
          : buffer;
    assert(this.mem.byteLength >= total, "netmap region buffer too small");
    this.#free = new Uint32Array(spec.nBufs);
    this.#nFree = 0;
    this.#isFree = new Uint8Array(spec.nBufs);
    for (let i = spec.nBufs - 1; i >= NETMAP_BUF_RESERVED; i--) {
      this.#free[this.#nFree++] = i;
      this.#isFree[i] = 1;
    }
  }

  get freeBufs(): number {
    return this.#nFree;
  }

  /** Byte offset of buffer `idx`; callers validate `idx` (see `validBuf`). */
  bufOff(idx: number): number {
    return this.bufBase + idx * this.bufSize;
  }

  validBuf(idx: number): boolean {
    return idx >= NETMAP_BUF_RESERVED && idx < this.nBufs;
  }

  /** A free buffer index, or 0 when the pool is empty. */
  allocBuf(): number {
    if (this.#nFree === 0) return 0;
    const idx = this.#free[--this.#nFree];
    this.#isFree[idx] = 0;
    return idx;
  }

  /**
   * Returns a buffer to the pool. An index already free is left alone and answers false:
   * lists a user builds (the extra-buffer list) may name a buffer twice.
   */
  freeBuf(idx: number): boolean {
    if (!this.validBuf(idx)) assert(false, `freeing bad netmap buffer ${idx}`);
    if (this.#isFree[idx] === 1) return false;
    this.#isFree[idx] = 1;
    this.#free[this.#nFree++] = idx;
    return true;
  }

  /** Lays out a netmap_ring of `numSlots` slots; returns its byte offset. */
  allocRing(numSlots: number, dir: number, ringid: number): number {
    const size = ringBytes(numSlots);
    assert(this.#ringNext + size <= this.#ringEnd, "netmap region: ring area exhausted");
    const r = this.#ringNext;
    this.#ringNext += size;
    const m = this.mem;
    // buf_ofs is an int64 relative to the ring: buffers follow the rings, so it is positive.
    m.u32[(r + RING_BUF_OFS) >>> 2] = this.bufBase - r;
    m.u32[(r + RING_BUF_OFS + 4) >>> 2] = 0;
    m.u32[(r + RING_NUM_SLOTS) >>> 2] = numSlots;
    m.u32[(r + RING_NR_BUF_SIZE) >>> 2] = this.bufSize;
    m.u16[(r + RING_RINGID) >>> 1] = ringid;
    m.u16[(r + RING_DIR) >>> 1] = dir;
    return r;
  }

  /**
   * Lays out a ring and gives every slot a buffer of its own (what a port, a pipe or a host
   * ring needs before netmap mode); throws RangeError naming `what` when buffers run out.
   */
  allocRingWithBufs(numSlots: number, dir: number, ringid: number, what: string): number {
    const r = this.allocRing(numSlots, dir, ringid);
    for (let i = 0; i < numSlots; i++) {
      const b = this.allocBuf();
      if (b === 0) throw new RangeError(`netmap region ${this.id}: no buffers left for ${what}`);
      this.mem.u32[(r + RING_SLOTS + i * NETMAP_SLOT_SIZE) >>> 2] = b;
    }
    return r;
  }

  /**
   * Lays out a netmap_if naming `name` with the given ring offsets (absolute; stored
   * relative to the netmap_if, 0 for a ring not bound), in netmap's order: NIC TX, host TX,
   * NIC RX, host RX. Returns its byte offset.
   */
  allocIf(name: string, c: RingCounts, ringOffs: readonly number[]): number {
    const n = c.txRings + c.hostTxRings + c.rxRings + c.hostRxRings;
    assert(ringOffs.length === n, "netmap_if: one ring offset per ring");
    const size = align64(IF_RING_OFS + n * 8);
    const at = this.#ifFree.get(size)?.pop() ?? this.#growIf(size);
    this.#ifSize.set(at, size);
    const m = this.mem;
    const bytes = new TextEncoder().encode(name).subarray(0, IFNAMSIZ - 1);
    m.u8.fill(0, at, at + size);
    m.u8.set(bytes, at + IF_NAME);
    m.u32[(at + IF_VERSION) >>> 2] = NETMAP_API;
    m.u32[(at + IF_TX_RINGS) >>> 2] = c.txRings;
    m.u32[(at + IF_RX_RINGS) >>> 2] = c.rxRings;
    m.u32[(at + IF_HOST_TX_RINGS) >>> 2] = c.hostTxRings;
    m.u32[(at + IF_HOST_RX_RINGS) >>> 2] = c.hostRxRings;
    m.u32[(at + IF_BUFS_HEAD) >>> 2] = 0;
    ringOffs.forEach((off, i) => {
      const rel = off === 0 ? 0 : off - at;
      m.u32[(at + IF_RING_OFS + i * 8) >>> 2] = rel >>> 0;
      m.u32[(at + IF_RING_OFS + i * 8 + 4) >>> 2] = rel < 0 ? 0xffffffff : 0;
    });
    return at;
  }

  #growIf(size: number): number {
    assert(this.#ifNext + size <= this.#ifEnd, "netmap region: if area exhausted");
    const at = this.#ifNext;
    this.#ifNext += size;
    return at;
  }

  /** Whether a netmap_if for `nRings` rings still fits (a freed one or the unused area). */
  canAllocIf(nRings: number): boolean {
    const size = align64(IF_RING_OFS + nRings * 8);
    return (this.#ifFree.get(size)?.length ?? 0) > 0 || this.#ifNext + size <= this.#ifEnd;
  }

  /** Gives back a netmap_if from allocIf (its port closed). */
  freeIf(at: number): void {
    const size = this.#ifSize.get(at);
    assert(size !== undefined, `netmap_if at ${at} was not allocated`);
    this.#ifSize.delete(at);
    const list = this.#ifFree.get(size) ?? [];
    list.push(at);
    this.#ifFree.set(size, list);
  }
}

function align64(n: number): number {
  return (n + 63) & ~63;
}
