/**
 * Copy monitors (netmap_monitor.c): `netmap:IF/t`, `/r` and `/rt` open a port whose RX ring
 * receives a copy of every packet the monitored port transmits (marked NS_TXMON) and/or
 * receives, as its syncs see them. The monitored port is not slowed by a slow monitor: a
 * full monitor ring drops and counts. Monitors hang on the monitored adapter, so every
 * port bound to it is watched. (Zero-copy monitors, `/z`, are not supported.)
 */
import { Counters } from "../base/counters.js";
import { copyBytes } from "../wire/copy.js";
import type { AdapterConfig, NetmapAdapter } from "./adapter.js";
import { ringIrq } from "./irq.js";
import type { KRing } from "./kring.js";
import {
  NETMAP_BUF_RESERVED,
  NR_RX,
  NS_TXMON,
  ringBytes,
  ringSlot,
  slotBufIdx,
  slotLen,
  slotSetFlags,
  slotSetLen,
} from "./layout.js";
import { NetmapRegion } from "./mem.js";

export const MONITOR_COUNTERS = ["copied", "drops"] as const;

const monitors = new WeakMap<NetmapAdapter, MonitorAdapter[]>();

/** The monitors watching `adapter` (empty when none): the hot path checks `.length`. */
export function monitorsOf(adapter: NetmapAdapter): readonly MonitorAdapter[] {
  return monitors.get(adapter) ?? NONE;
}
const NONE: readonly MonitorAdapter[] = [];

let nextRegionId = 9000;

export class MonitorAdapter implements NetmapAdapter {
  readonly name: string;
  readonly region: NetmapRegion;
  readonly rxRing: number;
  readonly watchTx: boolean;
  readonly watchRx: boolean;
  readonly counters = new Counters(MONITOR_COUNTERS);
  readonly #target: NetmapAdapter;
  readonly #slots: number;
  #rx: KRing | null = null;

  constructor(target: NetmapAdapter, o: { tx: boolean; rx: boolean; slots?: number; bufSize?: number }) {
    this.#target = target;
    this.watchTx = o.tx;
    this.watchRx = o.rx;
    this.#slots = o.slots ?? 1024;
    this.name = `${target.name}/${o.rx ? "r" : ""}${o.tx ? "t" : ""}`;
    this.region = new NetmapRegion(nextRegionId++, {
      ifBytes: 0,
      ringBytes: ringBytes(this.#slots),
      nBufs: NETMAP_BUF_RESERVED + this.#slots,
      bufSize: o.bufSize,
    });
    this.rxRing = this.region.allocRingWithBufs(this.#slots, NR_RX, 0, this.name);
  }

  config(): AdapterConfig {
    return { txRings: 0, rxRings: 1, txSlots: 0, rxSlots: this.#slots, rxBufMaxSize: this.region.bufSize };
  }

  register(on: boolean, krings: { rx: readonly KRing[] }): void {
    this.#rx = on ? (krings.rx[0] ?? null) : null;
    const list = monitors.get(this.#target) ?? [];
    const rest = list.filter((m) => m !== this);
    if (on) rest.push(this);
    if (rest.length > 0) monitors.set(this.#target, rest);
    else monitors.delete(this.#target);
  }

  txsync(): void {}

  rxsync(k: KRing): void {
    k.hwcur = k.rhead;
  }

  /**
   * Copies the slots [from, to) of the watched kring `src` (in `srcRegion`) into the
   * monitor's RX ring; `tx` marks them NS_TXMON.
   */
  copy(srcRegion: NetmapRegion, src: KRing, from: number, to: number, tx: boolean): void {
    const k = this.#rx;
    if (k === null || (tx ? !this.watchTx : !this.watchRx)) return;
    const sm = srcRegion.mem;
    const dm = this.region.mem;
    const f = this.counters.f64;
    let any = false;
    for (let i = from; i !== to; i = i + 1 === src.numSlots ? 0 : i + 1) {
      const next = k.hwtail + 1 === k.numSlots ? 0 : k.hwtail + 1;
      if (next === k.hwcur) {
        f[1]++;
        continue;
      }
      const ss = ringSlot(src.r, i);
      const len = Math.min(slotLen(sm, ss), srcRegion.bufSize, this.region.bufSize);
      const idx = slotBufIdx(sm, ss);
      if (!srcRegion.validBuf(idx)) continue;
      // The monitor's slot is its user's to scribble on: a buffer that is no real one drops
      // the copy (counted) and leaves the slot unpublished; the watched port never notices.
      const ds = ringSlot(k.r, k.hwtail);
      const db = slotBufIdx(dm, ds);
      if (!this.region.validBuf(db)) {
        f[1]++;
        continue;
      }
      copyBytes(dm, this.region.bufOff(db), sm, srcRegion.bufOff(idx), len);
      slotSetLen(dm, ds, len);
      slotSetFlags(dm, ds, tx ? NS_TXMON : 0);
      k.hwtail = next;
      f[0]++;
      any = true;
    }
    if (any) ringIrq(dm, this.rxRing);
  }
}
