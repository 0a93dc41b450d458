/**
 * A VALE port as a netmap adapter (netmap_vp_adapter): one TX and one RX ring in a memory
 * region of its own (pipes on the port may share it), each slot with a buffer of its own. txsync forwards through the switch
 * and completes at once (VALE TX is synchronous); rxsync hands released slots back to the
 * switch, which fills them from other ports' txsyncs.
 *
 * NS_BUF_CHANGED: the switch's forward checks every TX slot's buffer and length anyway, so
 * txsync declares that check its own (checksBufChanged.tx): a bad changed buffer is dropped
 * with its packet and counted in txErrors, as an unflagged bad one always was (netmap's
 * VALE likewise drops and carries on), and the flag stays on the user's slot (VALE caches
 * nothing per buffer, and receivers get flags of the switch's making). RX keeps the common
 * check: a released slot naming no real buffer would sit at hwtail where every delivery
 * drops on it, beyond the user's reach, so the ring is reset instead and the user gets
 * the slot back.
 */
import type { Counters } from "../base/counters.js";
import {
  type AdapterConfig,
  type BufChangedChecks,
  type NetmapAdapter,
  ringPairConfig,
} from "../netmap/adapter.js";
import { ringIrq } from "../netmap/irq.js";
import type { KRing } from "../netmap/kring.js";
import { NETMAP_BUF_RESERVED, NR_RX, NR_TX, ringBytes } from "../netmap/layout.js";
import { NetmapRegion } from "../netmap/mem.js";
import { NetmapPort } from "../netmap/port.js";
import { type PortCounter, portCounters, type ValeAttachment, type ValeSwitch } from "./switch.js";

let nextRegionId = 2;
const CHECKS: BufChangedChecks = { tx: true, rx: false };

export class ValePort implements NetmapAdapter, ValeAttachment {
  readonly name: string;
  readonly counters: Counters<PortCounter>;
  readonly index: number;
  readonly region: NetmapRegion;
  readonly txRing: number;
  readonly rxRing: number;
  readonly checksBufChanged = CHECKS;
  readonly #sw: ValeSwitch;
  readonly #slots: number;
  #rx: KRing | null = null;
  /** Called when frames arrive (the netmap_rx_irq hook): poll() waiters hang here. */
  onRx: (() => void) | null = null;

  constructor(sw: ValeSwitch, name: string, slots = 1024, extraBufs = 0) {
    this.name = name;
    this.#sw = sw;
    this.#slots = slots;
    this.counters = portCounters();
    const region = new NetmapRegion(nextRegionId++, {
      ifBytes: 1024, // a netmap_if per open (128 B each), reused after close
      ringBytes: 2 * ringBytes(slots),
      nBufs: NETMAP_BUF_RESERVED + 2 * slots + extraBufs,
    });
    this.region = region;
    this.txRing = region.allocRingWithBufs(slots, NR_TX, 0, `${sw.name} port ${name}`);
    this.rxRing = region.allocRingWithBufs(slots, NR_RX, 0, `${sw.name} port ${name}`);
    this.index = sw.attach(this);
    if (this.index < 0) throw new RangeError(`${sw.name}: no free port for ${name}`);
  }

  /**
   * Binds the port's rings for netmap I/O (what opening `valeX:name` does), with a
   * netmap_if and up to `extraBufs` extra buffers from the port's region.
   */
  open(extraBufs = 0): NetmapPort {
    return new NetmapPort(this.region, this, [this.txRing], [this.rxRing], {
      ifName: this.name,
      extraBufs,
    });
  }

  config(): AdapterConfig {
    return ringPairConfig(this.#slots, this.region.bufSize);
  }

  register(on: boolean, krings: { rx: readonly KRing[] }): void {
    this.#rx = on ? krings.rx[0] : null;
  }

  txsync(k: KRing): void {
    this.#sw.forward(this.index, k, k.hwcur, k.rhead);
    k.hwcur = k.rhead;
    k.hwtail = k.rhead === 0 ? k.numSlots - 1 : k.rhead - 1;
  }

  rxsync(k: KRing): void {
    // Released slots go back to the switch; new ones were added by senders (hwtail).
    k.hwcur = k.rhead;
  }

  rxKring(): KRing | null {
    return this.#rx;
  }

  rxIrq(): void {
    ringIrq(this.region.mem, this.rxRing);
    this.onRx?.();
  }

  detach(): void {
    this.#sw.detach(this.index);
  }
}
