/**
 * The frontend's multicast list, as Linux netback keeps it per vif (xenvif_mcast_add/del):
 * MCAST_ADD appends an address (no duplicate check) and is answered ERROR once the list
 * holds XEN_NETBK_MCAST_MAX addresses; MCAST_DEL removes the first equal entry and is
 * always answered OKAY. Linux keeps the list whether or not multicast control was
 * negotiated and filters RX by it only when it was (request-multicast-control, which the
 * frontend may change while connected). Fixed storage: a request allocates nothing.
 */

/** Linux's XEN_NETBK_MCAST_MAX. */
export const MCAST_MAX = 64;

export class McastList {
  /** 48-bit MACs, addr[0] most significant; the first `count` are live, in order added. */
  readonly #addrs = new Float64Array(MCAST_MAX);
  #count = 0;

  get count(): number {
    return this.#count;
  }

  /** False (the request's answer is ERROR) when the list is full. */
  add(mac: number): boolean {
    if (this.#count >= MCAST_MAX) return false;
    this.#addrs[this.#count++] = mac;
    return true;
  }

  del(mac: number): void {
    const a = this.#addrs;
    for (let i = 0; i < this.#count; i++) {
      if (a[i] !== mac) continue;
      a.copyWithin(i, i + 1, this.#count);
      this.#count--;
      return;
    }
  }

  clear(): void {
    this.#count = 0;
  }

  has(mac: number): boolean {
    for (let i = 0; i < this.#count; i++) if (this.#addrs[i] === mac) return true;
    return false;
  }
}

/** 01:00:5e:00:00:01, the all-hosts group 224.0.0.1: every IPv4 host is a member. */
export const MAC_ALL_HOSTS = 0x01005e000001;

/**
 * Whether a frame whose destination MAC is at `u8[off]` goes to a vif that filters
 * multicast by `list`: unicast and broadcast always (Linux filters PACKET_MULTICAST only),
 * the all-hosts group always (a guest kernel joins it without asking), any other group
 * only when listed. A runt without a whole destination goes on: the guest drops it.
 */
export function mcastWanted(list: McastList, u8: Uint8Array, off: number, len: number): boolean {
  if (len < 6 || (u8[off] & 1) === 0) return true;
  const hi = (u8[off] << 8) | u8[off + 1];
  const lo = ((u8[off + 2] << 24) | (u8[off + 3] << 16) | (u8[off + 4] << 8) | u8[off + 5]) >>> 0;
  if (hi === 0xffff && lo === 0xffffffff) return true;
  const mac = hi * 0x100000000 + lo;
  return mac === MAC_ALL_HOSTS || list.has(mac);
}
