/**
 * Where the stack builds the frame it is about to send. With a device that lends TX buffers
 * (netfront's zero-copy API) and nothing queued ahead, the frame is built straight in the
 * lent buffer and committed there: the device copies nothing. Otherwise, or when the device
 * has no buffer to lend, it is built in the stack's transmit slot and goes through the
 * TxQueue (copied by the device, or queued while the ring is full), as before.
 *
 * Every `begin` is ended by exactly one `send` or `abort` before anything else builds a
 * frame; builders write at `mem.u8[at..]` through `mem`, never through a Mem of their own.
 */
import { copyBytes } from "../wire/copy.js";
import type { Mem } from "../wire/mem.js";
import { SC } from "./counters.js";
import type { NetDevice } from "./device.js";
import { type FrameSlots, SLOT_TX } from "./slots.js";
import type { TxQueue } from "./txqueue.js";

export class TxFrame {
  /** The memory the frame being built lives in: the device's (lent) or the stack's. */
  mem: Mem;
  /** The frame's first byte in `mem`. */
  at: number;
  readonly #dev: NetDevice;
  readonly #devMem: Mem | null;
  readonly #stackMem: Mem;
  readonly #slotAt: number;
  readonly #txq: TxQueue;
  readonly #c: Float64Array;
  #lent = false;

  constructor(dev: NetDevice, slots: FrameSlots, txq: TxQueue, counters: Float64Array) {
    this.#dev = dev;
    const lends =
      dev.txMem !== undefined &&
      typeof dev.txBuffer === "function" &&
      typeof dev.txCommit === "function" &&
      typeof dev.txAbort === "function";
    this.#devMem = lends ? dev.txMem! : null;
    this.#stackMem = slots.mem;
    this.#slotAt = slots.off(SLOT_TX);
    this.#txq = txq;
    this.#c = counters;
    this.mem = this.#stackMem;
    this.at = this.#slotAt;
  }

  /** The frame being built is in a lent device buffer. */
  get lent(): boolean {
    return this.#lent;
  }

  /**
   * Starts a frame of at most `maxLen` bytes: in a lent buffer when the device lends one and
   * no frame waits in the queue (it must not be overtaken), else in the transmit slot.
   */
  begin(maxLen: number): void {
    const dm = this.#devMem;
    if (dm !== null && this.#txq.queued === 0) {
      const at = this.#dev.txBuffer!(maxLen);
      if (at >= 0 && at + maxLen <= dm.byteLength) {
        this.mem = dm;
        this.at = at;
        this.#lent = true;
        return;
      }
      if (at >= 0) this.#dev.txAbort!();
    }
    this.mem = this.#stackMem;
    this.at = this.#slotAt;
    this.#lent = false;
  }

  /**
   * Sends the `len`-byte frame built since `begin`; false when it was dropped (counted). A
   * lent frame the device will not take after all (its flow's queue is full, or it went
   * down) is moved to the transmit slot and queued like any other.
   */
  send(len: number, flags: number): boolean {
    if (!this.#lent) return this.#txq.send(SLOT_TX, len, flags);
    this.#lent = false;
    if (this.#dev.txCommit!(len, flags)) {
      this.#c[SC.txFrames]++;
      this.#c[SC.txBytes] += len;
      return true;
    }
    copyBytes(this.#stackMem, this.#slotAt, this.mem, this.at, len);
    this.#dev.txAbort!();
    this.mem = this.#stackMem;
    this.at = this.#slotAt;
    return this.#txq.send(SLOT_TX, len, flags);
  }

  /** Drops the frame being built (a lent buffer goes back to the device). */
  abort(): void {
    if (this.#lent) this.#dev.txAbort!();
    this.#lent = false;
    this.mem = this.#stackMem;
    this.at = this.#slotAt;
  }
}
