/**
 * The Internet checksum (RFC 1071): the 16-bit one's complement of the one's complement
 * sum of the data taken as big-endian 16-bit words, an odd last byte padded with zero.
 * RFC 1624 updates it incrementally when one field changes (NAT, TTL, VNI rewrites).
 *
 * Everything here is allocation-free and reads bytes from a Uint8Array (pass `m.u8` for a
 * Mem). Sums are kept "folded" (0..0xffff) between calls so they stay small integers and
 * can be chained: `onesSum(b, 20, 40, onesSum(b, 0, 10))`. Every chained range except the
 * last must have even length, or the bytes after it land in the wrong half of a word.
 */

/** Folds carries of a non-negative sum below 2**31 back into 16 bits. */
export function onesFold(sum: number): number {
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum & 0xffff) + (sum >>> 16);
}

/** One's complement addition of two 16-bit values. */
export function onesAdd(a: number, b: number): number {
  return onesFold(a + b);
}

/**
 * One's complement sum of bytes [start, end) of `b`, added to `sum` (a folded sum from a
 * previous range, or 0). Returns a folded sum.
 */
export function onesSum(b: Uint8Array, start: number, end: number, sum = 0): number {
  const even = end - ((end - start) & 1);
  let i = start;
  while (i < even) {
    // 32768 words of at most 0xffff, plus a folded sum, stay below 2**31: fold per chunk
    // so the accumulator never leaves V8's small-integer range.
    const stop = Math.min(even, i + 0x10000);
    for (; i < stop; i += 2) sum += (b[i] << 8) | b[i + 1];
    sum = onesFold(sum);
  }
  if (i < end) sum = onesFold(sum + (b[i] << 8));
  return sum;
}

/** The checksum field value for bytes [start, end) (the field itself taken as 0). */
export function internetChecksum(b: Uint8Array, start: number, end: number, sum = 0): number {
  return ~onesSum(b, start, end, sum) & 0xffff;
}

/**
 * RFC 1624 eqn. 3, HC' = ~(~HC + ~m + m'): the checksum after a 16-bit word changes from
 * `oldWord` to `newWord`. Eqn. 3 (not eqn. 2) so that a result of 0 stays 0x0000 as a
 * full recomputation would give.
 */
export function checksumUpdate16(hc: number, oldWord: number, newWord: number): number {
  return ~onesFold((~hc & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff)) & 0xffff;
}

/** RFC 1624 update for a changed 32-bit field (an IPv4 address): two word updates. */
export function checksumUpdate32(hc: number, oldValue: number, newValue: number): number {
  const sum =
    (~hc & 0xffff) +
    (~(oldValue >>> 16) & 0xffff) +
    (~oldValue & 0xffff) +
    (newValue >>> 16) +
    (newValue & 0xffff);
  return ~onesFold(sum) & 0xffff;
}

/**
 * Folded sum of the IPv4 pseudo-header that UDP and TCP checksums cover (RFC 768):
 *
 *    0      7 8     15 16    23 24    31
 *   +--------+--------+--------+--------+
 *   |          source address           |
 *   +--------+--------+--------+--------+
 *   |        destination address        |
 *   +--------+--------+--------+--------+
 *   |  zero  |protocol|   UDP length    |
 *   +--------+--------+--------+--------+
 *
 * Addresses are u32 numbers; `length` is the transport header plus payload in bytes.
 */
export function ipv4PseudoHeaderSum(saddr: number, daddr: number, protocol: number, length: number): number {
  return onesFold(
    (saddr >>> 16) +
      (saddr & 0xffff) +
      (daddr >>> 16) +
      (daddr & 0xffff) +
      (protocol & 0xff) +
      (length & 0xffff),
  );
}
