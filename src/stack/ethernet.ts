/**
 * Ethernet II in and out. In: accept frames to our MAC, broadcast or a joined group, hand ARP and IPv4
 * on, count everything else. Out: our MAC and the EtherType go in front of every frame.
 * MACs stay bytes here (6-byte arrays copied byte by byte): as 48-bit numbers they would
 * be boxed each time they cross a call, and the reply paths must not allocate.
 */
import { ETH_ALEN, ETH_DST, ETH_HLEN, ETH_P_ARP, ETH_P_IP, ETH_SRC, ETH_TYPE } from "../wire/net/ethernet.js";
import { SC } from "./counters.js";
import type { McastGroups } from "./mcast-groups.js";

export interface L3Receiver {
  /** The L3 packet at `at` (absolute offset in the stack's memory), `len` bytes to the frame's end. */
  receive(at: number, len: number, flags: number): void;
}

/** The six bytes of a 48-bit MAC number. */
export function macBytes(mac: number): Uint8Array {
  const b = new Uint8Array(ETH_ALEN);
  let v = mac;
  for (let i = ETH_ALEN - 1; i >= 0; i--) {
    b[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return b;
}

export function putMac(u8: Uint8Array, at: number, mac: Uint8Array, macOff = 0): void {
  for (let i = 0; i < ETH_ALEN; i++) u8[at + i] = mac[macOff + i];
}

export function macEquals(u8: Uint8Array, at: number, mac: Uint8Array, macOff = 0): boolean {
  for (let i = 0; i < ETH_ALEN; i++) if (u8[at + i] !== mac[macOff + i]) return false;
  return true;
}

export function macIsBroadcast(u8: Uint8Array, at: number): boolean {
  for (let i = 0; i < ETH_ALEN; i++) if (u8[at + i] !== 0xff) return false;
  return true;
}

/** Writes our source MAC and `ethertype` at `at`; the destination is the caller's. */
export function putEthSrcType(u8: Uint8Array, at: number, ourMac: Uint8Array, ethertype: number): void {
  putMac(u8, at + ETH_SRC, ourMac);
  u8[at + ETH_TYPE] = ethertype >>> 8;
  u8[at + ETH_TYPE + 1] = ethertype & 0xff;
}

export class EthernetIn {
  readonly #u8: Uint8Array;
  readonly #mac: Uint8Array;
  readonly #c: Float64Array;
  readonly #arp: L3Receiver;
  readonly #ipv4: L3Receiver;
  readonly #groups: McastGroups | null;

  constructor(
    u8: Uint8Array,
    mac: Uint8Array,
    counters: Float64Array,
    arp: L3Receiver,
    ipv4: L3Receiver,
    groups: McastGroups | null = null,
  ) {
    this.#u8 = u8;
    this.#groups = groups;
    this.#mac = mac;
    this.#c = counters;
    this.#arp = arp;
    this.#ipv4 = ipv4;
  }

  /** The frame at `at`, `len` bytes, already copied into the stack's memory. */
  receive(at: number, len: number, flags: number): void {
    const u8 = this.#u8;
    if (len < ETH_HLEN) {
      this.#c[SC.rxDropMalformed]++;
      return;
    }
    if (
      !macEquals(u8, at + ETH_DST, this.#mac) &&
      !macIsBroadcast(u8, at + ETH_DST) &&
      !(this.#groups?.hasMac(u8, at + ETH_DST) ?? false)
    ) {
      this.#c[SC.rxDropNotForUs]++;
      return;
    }
    const ethertype = (u8[at + ETH_TYPE] << 8) | u8[at + ETH_TYPE + 1];
    if (ethertype === ETH_P_IP) this.#ipv4.receive(at + ETH_HLEN, len - ETH_HLEN, flags);
    else if (ethertype === ETH_P_ARP) this.#arp.receive(at + ETH_HLEN, len - ETH_HLEN, flags);
    else this.#c[SC.rxDropUnknownProto]++;
  }
}
