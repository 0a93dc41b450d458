/**
 * The IPv4 multicast groups the stack has joined (RFC 1112 level 2, without IGMP: pvnet's
 * switch floods multicast, and the vif's own filter is told by the driver). 224.0.0.1,
 * all-hosts, is always joined, as RFC 1112 requires of every host. Fixed storage, looked up
 * per received multicast frame, so nothing is allocated on receive.
 */

/** Linux's IP_MAX_MEMBERSHIPS default: groups one socket may join. */
export const MCAST_GROUPS_MAX = 20;
/** 224.0.0.1 as int32. */
export const ALL_HOSTS_GROUP = 0xe0000001 | 0;

/** Whether `ip` (int32 or u32) is a class D (multicast) address. */
export function isMulticast(ip: number): boolean {
  return ip >>> 28 === 14;
}

/** The group's Ethernet address (RFC 1112 section 6.4): 01:00:5e and the low 23 bits. */
export function groupMac(ip: number): number {
  return 0x01005e000000 + (ip & 0x7fffff);
}

export class McastGroups {
  readonly #ips = new Int32Array(MCAST_GROUPS_MAX);
  #n = 0;

  get count(): number {
    return this.#n;
  }

  /** Joined groups as u32, all-hosts not included. */
  list(): number[] {
    return Array.from(this.#ips.subarray(0, this.#n), (ip) => ip >>> 0);
  }

  /** False when already joined; RangeError when full. */
  join(ip: number): boolean {
    ip |= 0;
    if (this.has(ip)) return false;
    if (this.#n >= MCAST_GROUPS_MAX) throw new RangeError(`at most ${MCAST_GROUPS_MAX} groups`);
    this.#ips[this.#n++] = ip;
    return true;
  }

  leave(ip: number): boolean {
    ip |= 0;
    for (let i = 0; i < this.#n; i++) {
      if (this.#ips[i] !== ip) continue;
      this.#ips.copyWithin(i, i + 1, this.#n);
      this.#n--;
      return true;
    }
    return false;
  }

  /** Joined (int32 or u32); all-hosts always. */
  has(ip: number): boolean {
    ip |= 0;
    if (ip === ALL_HOSTS_GROUP) return true;
    for (let i = 0; i < this.#n; i++) if (this.#ips[i] === ip) return true;
    return false;
  }

  /**
   * Whether the multicast MAC at `u8[at]` belongs to a joined group. The MAC keeps only 23
   * bits of the group, so this passes a frame IPv4 must still check against `has`.
   */
  hasMac(u8: Uint8Array, at: number): boolean {
    if (u8[at] !== 0x01 || u8[at + 1] !== 0x00 || u8[at + 2] !== 0x5e || u8[at + 3] & 0x80) return false;
    const low = (u8[at + 3] << 16) | (u8[at + 4] << 8) | u8[at + 5];
    if (low === (ALL_HOSTS_GROUP & 0x7fffff)) return true;
    for (let i = 0; i < this.#n; i++) if ((this.#ips[i] & 0x7fffff) === low) return true;
    return false;
  }
}
