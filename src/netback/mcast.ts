/**
 * The frontend's multicast list, as Linux netback keeps it per vif (xenvif_mcast_add/del):
 * MCAST_ADD appends an address (no duplicate check) and is answered ERROR once the list
 * holds XEN_NETBK_MCAST_MAX addresses; MCAST_DEL removes the first equal entry and is
 * always answered OKAY. Linux keeps the list whether or not multicast control was
 * negotiated and filters RX by it only when it was; pvnet's netback does not advertise
 * feature-multicast-control, so the list bounds and answers the requests and filters
 * nothing. Fixed storage: a request allocates nothing.
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
