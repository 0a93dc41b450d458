/**
 * What VALE does for a port that takes no offloads when a frame carries offload state
 * (netmap's bdg_mismatch_datapath: a sender with virtio-net headers, a destination
 * without): a TCP GSO superframe is cut into MSS-sized segments and a blank L4 checksum
 * is filled, so a tap, a VXLAN uplink, a pipe or a netmap user gets frames any wire or
 * kernel accepts. The same frame still goes whole to a port that takes offloads (a vif:
 * netback RX finishes whatever its own guest did not negotiate).
 *
 * The work is done once per forwarded frame, however many such ports it is flooded to:
 * the frame is gathered into a private linear copy (its bytes may lie in a guest's pages,
 * which the guest can rewrite while this runs), then segmented or checksummed from that
 * copy with the same code netback uses (wire/net/gso-segment.ts, wire/net/l4-checksum.ts).
 * A frame that cannot be done (headers a hostile guest made up, an MSS that would give too
 * many segments) is refused and counted, never thrown on; the guest's vif carries on.
 * Buffers are allocated on first use and reused: nothing per frame.
 */
import { Counters } from "../base/counters.js";
import { type Mem, privateMem } from "../wire/mem.js";
import { GSO_MAX_FRAME, gsoSegment } from "../wire/net/gso-segment.js";
import { fillL4Checksum } from "../wire/net/l4-checksum.js";
import { VALE_F_CSUM_BLANK, VALE_F_DATA_VALID, ValeFrags } from "./frags.js";

export const OFFLOAD_COUNTERS = [
  /** GSO superframes cut into segments for ports without offloads. */
  "gsoFrames",
  /** Segments those superframes gave. */
  "gsoSegments",
  /** Frames (not GSO) whose blank L4 checksum was filled. */
  "csumFilled",
  /** Frames with offload state that could not be segmented or checksummed, dropped for those ports. */
  "offloadDrops",
] as const;
export type OffloadCounter = (typeof OFFLOAD_COUNTERS)[number];

/** Most segments one superframe may give (an MSS of 64 for the largest frame). */
export const SOFT_SEG_MAX = 1024;
/** Largest Ethernet + IP + TCP header a segment repeats: 14 + 60 + 60. */
const HDR_MAX = 134;
const SEG_BYTES = GSO_MAX_FRAME + SOFT_SEG_MAX * HDR_MAX;

/** Bytes of shared memory the counters take (a switch's `offloadCounters`). */
export const OFFLOAD_COUNTERS_BYTES = OFFLOAD_COUNTERS.length * 8;

/** The counters in `buffer` (another thread's switch's), by name. */
export function readOffloadCounters(buffer: SharedArrayBuffer): Record<OffloadCounter, number> {
  const f = new Counters(OFFLOAD_COUNTERS, buffer).f64;
  return Object.fromEntries(OFFLOAD_COUNTERS.map((n, i) => [n, f[i]])) as Record<OffloadCounter, number>;
}

const C_GSO_FRAMES = OFFLOAD_COUNTERS.indexOf("gsoFrames");
const C_GSO_SEGMENTS = OFFLOAD_COUNTERS.indexOf("gsoSegments");
const C_CSUM_FILLED = OFFLOAD_COUNTERS.indexOf("csumFilled");
const C_DROPS = OFFLOAD_COUNTERS.indexOf("offloadDrops");

/** Whether `f` carries offload state a port without offloads cannot be given. */
export function needsSoftOffload(f: ValeFrags): boolean {
  return (f.flags & VALE_F_CSUM_BLANK) !== 0 || f.gsoType !== 0;
}

export class SoftOffload {
  readonly counters: Counters<OffloadCounter>;
  #lin: Mem | null = null;
  #out: Mem | null = null;
  readonly #lens = new Uint32Array(SOFT_SEG_MAX);
  readonly #at = new Int32Array(SOFT_SEG_MAX);
  #seg: ValeFrags | null = null;
  /** The frame `#n` was worked out for, and its result: segments ready, or 0 (refused). */
  #frame = -1;
  #n = 0;

  /** `counters`: OFFLOAD_COUNTERS_BYTES of shared memory to count in (another thread reads them). */
  constructor(counters?: SharedArrayBuffer) {
    this.counters = new Counters(OFFLOAD_COUNTERS, counters);
  }

  /**
   * Makes frame number `frame` (the switch's count of frames forwarded: the same frame
   * flooded to several ports is worked out once) ready for a port without offloads.
   * Returns how many frames `segment` then gives (at least 1), or 0 when it was refused.
   */
  prepare(f: ValeFrags, frame: number): number {
    if (frame === this.#frame) return this.#n;
    this.#frame = frame;
    this.#n = this.#work(f);
    if (this.#n === 0) this.counters.f64[C_DROPS]++;
    return this.#n;
  }

  /** Segment `i` of the prepared frame, valid until the next `prepare`. */
  segment(i: number): ValeFrags {
    const s = this.#seg!;
    s.clear();
    // Checksums are complete now: a receiver may trust them as a sender's validated ones.
    s.flags = VALE_F_DATA_VALID;
    if (this.#n === 1 && this.#at[0] < 0) s.push(this.#lin!, 0, this.#lens[0]);
    else s.push(this.#out!, this.#at[i], this.#lens[i]);
    return s;
  }

  #work(f: ValeFrags): number {
    const total = f.total;
    if (total > GSO_MAX_FRAME) return 0;
    const lin = (this.#lin ??= privateMem(GSO_MAX_FRAME));
    this.#seg ??= new ValeFrags(lin);
    // ValeFrags fields are the sender's to fill, but read once here all the same.
    const gsoType = f.gsoType;
    const mss = f.gsoSize;
    if (f.copyOut(0, lin, 0, total) !== total) return 0;
    if (gsoType === 0) {
      if (!fillL4Checksum(lin.u8, 0, total)) return 0;
      this.#at[0] = -1;
      this.#lens[0] = total;
      this.counters.f64[C_CSUM_FILLED]++;
      return 1;
    }
    const out = (this.#out ??= privateMem(SEG_BYTES));
    const n = gsoSegment(lin.u8, 0, total, gsoType, mss, out.u8, 0, this.#lens);
    if (n <= 0) return 0;
    let at = 0;
    for (let i = 0; i < n; i++) {
      this.#at[i] = at;
      at += this.#lens[i];
    }
    const c = this.counters.f64;
    c[C_GSO_FRAMES]++;
    c[C_GSO_SEGMENTS] += n;
    return n;
  }
}
