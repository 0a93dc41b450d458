/**
 * Transmit with push-back: a frame goes straight to the device when nothing is waiting,
 * else (or when the device's ring is full) into a bounded FIFO of slots that
 * `flush()` drains when the device says it is writable again. Order is kept: once one
 * frame waits, later frames wait behind it. A full FIFO drops and counts; nothing is lost
 * without a count.
 */
import { SC } from "./counters.js";
import type { NetDevice } from "./device.js";
import type { FrameSlots } from "./slots.js";

export class TxQueue {
  readonly #dev: NetDevice;
  readonly #slots: FrameSlots;
  readonly #c: Float64Array;
  readonly #first: number;
  readonly #n: number;
  readonly #len: Int32Array;
  readonly #flags: Int32Array;
  #head = 0;
  #count = 0;

  /** Queue slots are `first` .. `first + n - 1` of `slots`. */
  constructor(dev: NetDevice, slots: FrameSlots, counters: Float64Array, first: number, n: number) {
    this.#dev = dev;
    this.#slots = slots;
    this.#c = counters;
    this.#first = first;
    this.#n = n;
    this.#len = new Int32Array(n);
    this.#flags = new Int32Array(n);
  }

  get queued(): number {
    return this.#count;
  }

  /** Sends or queues the `len`-byte frame in slot `slot`; false when dropped (counted). */
  send(slot: number, len: number, flags: number): boolean {
    if (this.#count === 0 && this.#dev.transmit(this.#slots.view(slot), len, flags)) {
      this.#sent(len);
      return true;
    }
    if (this.#count === this.#n) {
      this.#c[SC.txDropQueueFull]++;
      return false;
    }
    const i = (this.#head + this.#count) % this.#n;
    this.#slots.copy(this.#first + i, slot, len);
    this.#len[i] = len;
    this.#flags[i] = flags;
    this.#count++;
    this.#c[SC.txQueued] = this.#count;
    return true;
  }

  /** Hands queued frames to the device in order until it refuses one; returns how many went. */
  flush(): number {
    let sent = 0;
    while (this.#count > 0) {
      const i = this.#head;
      if (!this.#dev.transmit(this.#slots.view(this.#first + i), this.#len[i], this.#flags[i])) break;
      this.#sent(this.#len[i]);
      this.#head = (i + 1) % this.#n;
      this.#count--;
      sent++;
    }
    this.#c[SC.txQueued] = this.#count;
    return sent;
  }

  /** Discards every queued frame, counted as `reason`; returns how many. */
  clear(reason: number): number {
    const n = this.#count;
    this.#c[reason] += n;
    this.#head = 0;
    this.#count = 0;
    this.#c[SC.txQueued] = 0;
    return n;
  }

  #sent(len: number): void {
    this.#c[SC.txFrames]++;
    this.#c[SC.txBytes] += len;
  }
}
