/**
 * The TX queue of a frame: a hash over its IPv4 addresses and, unless it is a fragment, its
 * TCP or UDP ports (as Linux's skb_get_hash leaves ports out of fragments, so every
 * fragment of a datagram takes one queue). Anything else hashes to 0. Reads only within
 * `len` bytes of `frame` from `at`; allocates nothing.
 */
const ETH_HLEN = 14;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_VLAN = 0x8100;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

export function flowHash(frame: Uint8Array, len: number, at = 0): number {
  let l3 = ETH_HLEN;
  if (len < l3 + 20) return 0;
  let type = (frame[at + 12] << 8) | frame[at + 13];
  if (type === ETHERTYPE_VLAN) {
    l3 += 4;
    if (len < l3 + 20) return 0;
    type = (frame[at + 16] << 8) | frame[at + 17];
  }
  if (type !== ETHERTYPE_IPV4 || frame[at + l3] >>> 4 !== 4) return 0;
  const ihl = (frame[at + l3] & 15) << 2;
  if (ihl < 20 || len < l3 + ihl) return 0;
  const src =
    (frame[at + l3 + 12] << 24) |
    (frame[at + l3 + 13] << 16) |
    (frame[at + l3 + 14] << 8) |
    frame[at + l3 + 15];
  const dst =
    (frame[at + l3 + 16] << 24) |
    (frame[at + l3 + 17] << 16) |
    (frame[at + l3 + 18] << 8) |
    frame[at + l3 + 19];
  const proto = frame[at + l3 + 9];
  let h = mix(src ^ 0x9e3779b9, dst);
  h = mix(h, proto);
  const fragment = ((frame[at + l3 + 6] & 0x3f) | frame[at + l3 + 7]) !== 0;
  const l4 = l3 + ihl;
  if ((proto === IPPROTO_TCP || proto === IPPROTO_UDP) && !fragment && len >= l4 + 4) {
    h = mix(
      h,
      (frame[at + l4] << 24) | (frame[at + l4 + 1] << 16) | (frame[at + l4 + 2] << 8) | frame[at + l4 + 3],
    );
  }
  return fmix(h) >>> 0;
}

function mix(h: number, k: number): number {
  let x = Math.imul(k, 0xcc9e2d51);
  x = (x << 15) | (x >>> 17);
  x = Math.imul(x, 0x1b873593);
  h ^= x;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
