/**
 * The Toeplitz hash (Microsoft RSS, and netif.h's XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ):
 * for each input bit, most significant first, a set bit XORs the 32-bit window of the key
 * that starts at that bit's position into the result. Key bytes past its length read as
 * zero, so an empty key hashes everything to 0, as netif.h says. One implementation, used
 * by netback to steer frames to RX queues and by netfront to pick TX queues; checked
 * against Microsoft's verification vectors (test/base/toeplitz.test.ts).
 */

/** The longest key netif's backends take (Linux's XEN_NETBK_MAX_HASH_KEY_SIZE). */
export const TOEPLITZ_KEY_MAX = 40;

/**
 * Hash of `len` bytes of `data` from `off` under the first `keyLen` bytes of `key`.
 * Allocates nothing; the caller bounds `off + len` within `data`.
 */
export function toeplitz(
  key: Uint8Array,
  keyLen: number,
  data: Uint8Array,
  off: number,
  len: number,
): number {
  const kl = Math.min(keyLen, key.length);
  let window = 0;
  for (let i = 0; i < 4; i++) window = (window << 8) | (i < kl ? key[i] : 0);
  window >>>= 0;
  let h = 0;
  for (let i = 0; i < len; i++) {
    const byte = data[off + i];
    // The key byte whose bits slide into the window while this input byte is consumed.
    const next = i + 4 < kl ? key[i + 4] : 0;
    for (let b = 7; b >= 0; b--) {
      if ((byte >>> b) & 1) h ^= window;
      window = ((window << 1) | ((next >>> b) & 1)) >>> 0;
    }
  }
  return h >>> 0;
}
