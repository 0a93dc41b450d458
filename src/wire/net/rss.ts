/**
 * What the RSS hash of a frame covers, as netif.h's hash types say: IPv4 source and
 * destination (8 bytes), with the TCP ports (12); IPv6 source and destination (32), with
 * the TCP ports (36). The most specific type the flags allow is used (netif.h: "the
 * 'maximal' type of hash should always be chosen"); a fragment is hashed without ports;
 * anything else has no hash. {@link RssHasher} holds a key, the enabled types and the
 * result of the last frame, so the per-frame call allocates nothing.
 */
import { toeplitz } from "../../base/toeplitz.js";

/** Hash type bit numbers, as _XEN_NETIF_CTRL_HASH_TYPE_* (repeated: wire/net stays free of xen/). */
export const RSS_TYPE_IPV4 = 0;
export const RSS_TYPE_IPV4_TCP = 1;
export const RSS_TYPE_IPV6 = 2;
export const RSS_TYPE_IPV6_TCP = 3;

const ETH_HLEN = 14;
const IPPROTO_TCP = 6;

export class RssHasher {
  /** Key bytes (up to its length) and how many of them count. */
  readonly key: Uint8Array;
  keyLen = 0;
  /** Enabled types, as a mask of 1 << RSS_TYPE_*. */
  flags = 0;
  /** The last frame's hash and type bit number (valid when hash() returned true). */
  value = 0;
  type = 0;
  readonly #in = new Uint8Array(36);

  constructor(keyMax = 40) {
    this.key = new Uint8Array(keyMax);
  }

  /** Sets the key (bytes past `len` are zero). */
  setKey(key: Uint8Array, len = key.length): void {
    const n = Math.min(len, this.key.length, key.length);
    this.key.fill(0);
    this.key.set(key.subarray(0, n));
    this.keyLen = n;
  }

  /**
   * Hashes the Ethernet frame of `len` bytes at `off` in `u8`: true with `value` and
   * `type` set, false when no enabled type covers it. Reads only within the frame.
   */
  hash(u8: Uint8Array, off: number, len: number): boolean {
    const fl = this.flags;
    if (fl === 0 || len < ETH_HLEN + 20) return false;
    let l3 = off + ETH_HLEN;
    let et = (u8[off + 12] << 8) | u8[off + 13];
    if (et === 0x8100) {
      l3 += 4;
      et = (u8[off + 16] << 8) | u8[off + 17];
    }
    const end = off + len;
    const inp = this.#in;
    if (et === 0x0800) {
      if (end < l3 + 20 || u8[l3] >>> 4 !== 4) return false;
      const ihl = (u8[l3] & 15) << 2;
      if (ihl < 20 || end < l3 + ihl) return false;
      for (let i = 0; i < 8; i++) inp[i] = u8[l3 + 12 + i];
      const frag = ((u8[l3 + 6] & 0x3f) | u8[l3 + 7]) !== 0;
      const l4 = l3 + ihl;
      if (fl & (1 << RSS_TYPE_IPV4_TCP) && u8[l3 + 9] === IPPROTO_TCP && !frag && end >= l4 + 4) {
        for (let i = 0; i < 4; i++) inp[8 + i] = u8[l4 + i];
        return this.#done(12, RSS_TYPE_IPV4_TCP);
      }
      return fl & (1 << RSS_TYPE_IPV4) ? this.#done(8, RSS_TYPE_IPV4) : false;
    }
    if (et === 0x86dd) {
      if (end < l3 + 40 || u8[l3] >>> 4 !== 6) return false;
      for (let i = 0; i < 32; i++) inp[i] = u8[l3 + 8 + i];
      const l4 = l3 + 40;
      // Extension headers are not walked: only a TCP header right after the fixed one counts.
      if (fl & (1 << RSS_TYPE_IPV6_TCP) && u8[l3 + 6] === IPPROTO_TCP && end >= l4 + 4) {
        for (let i = 0; i < 4; i++) inp[32 + i] = u8[l4 + i];
        return this.#done(36, RSS_TYPE_IPV6_TCP);
      }
      return fl & (1 << RSS_TYPE_IPV6) ? this.#done(32, RSS_TYPE_IPV6) : false;
    }
    return false;
  }

  #done(n: number, type: number): boolean {
    this.value = toeplitz(this.key, this.keyLen, this.#in, 0, n);
    this.type = type;
    return true;
  }
}

/**
 * A key under which the hash is the same both ways of a flow (source and destination
 * swapped): a 16-bit pattern repeated (Woo and Park, "Scalable TCP session monitoring
 * with symmetric receive-side scaling").
 */
export function symmetricRssKey(len = 40): Uint8Array {
  const k = new Uint8Array(len);
  for (let i = 0; i < len; i += 2) {
    k[i] = 0x6d;
    if (i + 1 < len) k[i + 1] = 0x5a;
  }
  return k;
}
