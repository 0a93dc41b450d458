/**
 * The stack's frame memory: one private buffer cut into equal slots, each big enough for
 * one Ethernet frame of the device's MTU. Slot 0 receives, slot 1 is the transmit scratch
 * every reply and send is built in, then come the transmit queue's slots (frames waiting
 * for ARP live in arp-queue.ts).
 * One buffer means frames move between slots with copyWithin, allocating nothing, and the
 * views handed to the device are made once here.
 */
import { assert } from "../base/assert.js";
import { type Mem, privateMem } from "../wire/mem.js";
import { ETH_HLEN } from "../wire/net/ethernet.js";

export const SLOT_RX = 0;
export const SLOT_TX = 1;
export const SLOT_FIRST_FREE = 2;

export class FrameSlots {
  readonly mem: Mem;
  /** Bytes per slot: the largest frame (Ethernet header + MTU), rounded up to 8. */
  readonly slotLen: number;
  /** The largest frame the device carries: ETH_HLEN + MTU. */
  readonly frameMax: number;
  readonly #views: Uint8Array[];

  constructor(mtu: number, nSlots: number) {
    assert(nSlots >= SLOT_FIRST_FREE, `stack: ${nSlots} frame slots is too few`);
    this.frameMax = ETH_HLEN + mtu;
    this.slotLen = (this.frameMax + 7) & ~7;
    this.mem = privateMem(this.slotLen * nSlots);
    this.#views = [];
    for (let i = 0; i < nSlots; i++) {
      this.#views.push(this.mem.u8.subarray(i * this.slotLen, (i + 1) * this.slotLen));
    }
  }

  /** Byte offset of `slot` in `mem`. */
  off(slot: number): number {
    return slot * this.slotLen;
  }

  /** A view of `slot` starting at its first byte, made once. */
  view(slot: number): Uint8Array {
    return this.#views[slot];
  }

  /** Copies the first `len` bytes of slot `from` into slot `to`. */
  copy(to: number, from: number, len: number): void {
    const src = from * this.slotLen;
    this.mem.u8.copyWithin(to * this.slotLen, src, src + len);
  }
}
