/**
 * The groups a netfront device has joined, and the MCAST_ADD/DEL requests still owed to
 * the backend (netif.h's multicast control, which Linux's netfront never sends). A request
 * leaves the queue only once the TX ring took it, so a full ring delays it, never loses
 * it; a reconnect (the backend's list starts empty) queues an ADD for every group again.
 * Not a datapath: joins are rare, so plain arrays do.
 */
import { XEN_NETIF_EXTRA_TYPE_MCAST_ADD, XEN_NETIF_EXTRA_TYPE_MCAST_DEL } from "../wire/xen/netif.js";

/** Linux netback's XEN_NETBK_MCAST_MAX: more would be refused anyway. */
export const FRONT_MCAST_MAX = 64;

export class FrontMcast {
  readonly #joined: number[] = [];
  #owed: { type: number; mac: number }[] = [];

  get groups(): readonly number[] {
    return this.#joined;
  }

  /** False when already joined or when FRONT_MCAST_MAX groups are. */
  join(mac: number): boolean {
    if (this.#joined.includes(mac) || this.#joined.length >= FRONT_MCAST_MAX) return false;
    this.#joined.push(mac);
    this.#owed.push({ type: XEN_NETIF_EXTRA_TYPE_MCAST_ADD, mac });
    return true;
  }

  leave(mac: number): boolean {
    const i = this.#joined.indexOf(mac);
    if (i < 0) return false;
    this.#joined.splice(i, 1);
    // An ADD the backend never saw needs no DEL.
    const owed = this.#owed.findIndex((o) => o.mac === mac && o.type === XEN_NETIF_EXTRA_TYPE_MCAST_ADD);
    if (owed >= 0) this.#owed.splice(owed, 1);
    else this.#owed.push({ type: XEN_NETIF_EXTRA_TYPE_MCAST_DEL, mac });
    return true;
  }

  /** The backend's list is empty again (a new connection): every group is owed an ADD. */
  resend(): void {
    this.#owed = this.#joined.map((mac) => ({ type: XEN_NETIF_EXTRA_TYPE_MCAST_ADD, mac }));
  }

  /** Hands owed requests to `send` in order until it refuses one (ring full). */
  sync(send: (type: number, mac: number) => boolean): void {
    while (this.#owed.length > 0) {
      const o = this.#owed[0];
      if (!send(o.type, o.mac)) return;
      this.#owed.shift();
    }
  }
}
