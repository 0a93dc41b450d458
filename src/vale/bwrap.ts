/**
 * A netmap device on a VALE switch (netmap's bwrap, `vale-ctl -a valeX:IF`, and with
 * `-h` its host stack as a second port `IF^`). The switch owns the device's rings through
 * a port bound in the kernel's name: frames the device receives (NIC RX, or host RX for the
 * host side) are forwarded through the switch by `pump()`, and the switch's output for the
 * port lands in a staging RX ring that is drained into the device's TX ring (NIC TX, or
 * host TX, i.e. up to the host stack), crossing the rings as netmap's bwrap does.
 *
 * The staging ring sits in a small region of its own, so the switch's copy into it works
 * for any device region; draining copies once more into the device's TX buffers. A full
 * staging ring drops and counts (the switch's rxDrops), and senders never wait.
 *
 * The switch port outlives the device rings bound to it: `rebind` swaps them (or leaves
 * none, while nobody has a persistent interface open), so the port keeps its index, its
 * learnt addresses and its counters.
 */

import type { Counters } from "../base/counters.js";
import { PvnetError } from "../base/errors.js";
import type { NetmapDevice } from "../netmap/context.js";
import { KRing } from "../netmap/kring.js";
import {
  NETMAP_BUF_RESERVED,
  NR_RX,
  NS_MOREFRAG,
  ringBytes,
  ringHead,
  ringSlot,
  ringTail,
  slotBufIdx,
  slotFlags,
  slotLen,
  slotSetFlags,
  slotSetLen,
} from "../netmap/layout.js";
import { NetmapRegion } from "../netmap/mem.js";
import { NetmapPort } from "../netmap/port.js";
import { nmRingAdvance, nmRingSpace } from "../netmap/ring.js";
import { copyBytes } from "../wire/copy.js";
import { type PortCounter, portCounters, type ValeAttachment, type ValeSwitch } from "./switch.js";

let nextRegionId = 3000;

export class ValeBwrap implements ValeAttachment {
  readonly name: string;
  readonly counters: Counters<PortCounter>;
  readonly index: number;
  /** The staging region: the switch's copies for this port land here. */
  readonly region: NetmapRegion;
  readonly #sw: ValeSwitch;
  readonly #stage: KRing;
  #port: NetmapPort | null = null;

  /**
   * `port`: the device rings the switch holds (one TX, one RX kring), or null for a port
   * with no rings bound yet, whose ring size is then `slots`.
   */
  constructor(sw: ValeSwitch, name: string, port: NetmapPort | null, slots = port?.tx[0]?.numSlots ?? 1024) {
    this.name = name;
    this.#sw = sw;
    this.counters = portCounters();
    this.region = new NetmapRegion(nextRegionId++, {
      ifBytes: 0,
      ringBytes: ringBytes(slots),
      nBufs: NETMAP_BUF_RESERVED + slots,
      bufSize: port?.region.bufSize,
    });
    const r = this.region.allocRingWithBufs(slots, NR_RX, 0, "bwrap staging ring");
    this.#stage = new KRing({
      m: this.region.mem,
      r,
      numSlots: slots,
      tx: false,
      name: `${name} stage`,
      nBufs: this.region.nBufs,
      bufSize: this.region.bufSize,
    });
    this.rebind(port);
    this.index = sw.attach(this);
    if (this.index < 0) throw new PvnetError("ENOSPC", `${sw.name}: no free port for ${name}`);
  }

  /** The device rings bound now (null: none; the switch's output waits in staging). */
  get port(): NetmapPort | null {
    return this.#port;
  }

  /**
   * Binds other device rings to this switch port (null: none). Staged frames meant for the
   * previous rings are dropped with them, as a netmap port's rings start empty when bound.
   */
  rebind(port: NetmapPort | null): void {
    if (port !== null) {
      if (port.tx.length !== 1 || port.rx.length !== 1)
        throw new PvnetError("EINVAL", `${this.name}: a switch port needs one TX and one RX ring`);
      if (port.tx[0].numSlots !== this.#stage.numSlots || port.region.bufSize > this.region.bufSize)
        throw new PvnetError(
          "EINVAL",
          `${this.name}: rings of ${port.tx[0].numSlots} slots of ${port.region.bufSize} B do not fit a port of ${this.#stage.numSlots} slots of ${this.region.bufSize} B`,
        );
    }
    this.#port = port;
    this.#stage.reset();
  }

  rxKring(): KRing {
    return this.#stage;
  }

  /** Frames the switch delivered that still wait for room in the device's TX ring. */
  get staged(): number {
    const k = this.#stage;
    return (k.hwtail - k.hwcur + k.numSlots) % k.numSlots;
  }

  /** The switch delivered frames for this port: move them on to the device's TX ring. */
  rxIrq(): void {
    this.flush();
  }

  /**
   * Drains the staging ring into the device's TX ring (as far as it has room) and runs its
   * txsync; frames that do not fit wait for the next flush. Returns the slots moved.
   */
  flush(): number {
    const k = this.#stage;
    const sm = this.region.mem;
    const p = this.#port;
    if (p === null) return 0;
    const dm = p.mem;
    const tr = p.tx[0].r;
    let moved = 0;
    while (k.hwcur !== k.hwtail) {
      if (nmRingSpace(dm, tr) === 0) {
        p.txsync();
        if (nmRingSpace(dm, tr) === 0) break;
      }
      const h = ringHead(dm, tr);
      const ss = ringSlot(k.r, k.hwcur);
      const ds = ringSlot(tr, h);
      const len = slotLen(sm, ss);
      const db = slotBufIdx(dm, ds);
      if (p.region.validBuf(db))
        copyBytes(dm, p.region.bufOff(db), sm, this.region.bufOff(slotBufIdx(sm, ss)), len);
      slotSetLen(dm, ds, len);
      slotSetFlags(dm, ds, slotFlags(sm, ss) & NS_MOREFRAG);
      const next = h + 1 === p.tx[0].numSlots ? 0 : h + 1;
      nmRingAdvance(dm, tr, next);
      k.hwcur = k.hwcur + 1 === k.numSlots ? 0 : k.hwcur + 1;
      moved++;
    }
    if (moved > 0) p.txsync();
    return moved;
  }

  /**
   * What the device's RX interrupt does on a bwrap: rxsync the device's RX ring, forward
   * everything received through the switch and release it; repeats while frames keep
   * coming, at most `maxPasses` times. Returns the slots forwarded.
   */
  pump(maxPasses = 4): number {
    const p = this.#port;
    if (p === null) return 0;
    const m = p.mem;
    const k = p.rx[0];
    let done = 0;
    for (let pass = 0; pass < maxPasses; pass++) {
      p.rxsync();
      const head = ringHead(m, k.r);
      const tail = ringTail(m, k.r);
      if (head === tail) break;
      this.#sw.forward(this.index, k, head, tail, p.region);
      done += (tail - head + k.numSlots) % k.numSlots;
      nmRingAdvance(m, k.r, tail);
    }
    p.rxsync();
    return done;
  }

  /** Leaves the switch; the device rings are closed unless `keepRings`. */
  detach(keepRings = false): void {
    this.#sw.detach(this.index);
    if (!keepRings) this.#port?.close();
  }
}

/**
 * `vale-ctl -a SW:IF` (and `-h`): attaches device `dev` to switch `sw` as port `SW:IF`,
 * and with `host` its host rings as port `SW:IF^`. The device's rings then belong to the
 * switch (netmap marks the adapter NAF_BUSY); a user should not open them as well.
 */
export function attachDevice(
  sw: ValeSwitch,
  dev: NetmapDevice,
  host = false,
): { nic: ValeBwrap; host: ValeBwrap | null } {
  const nicPort = new NetmapPort(dev.region, dev.adapter, dev.txRings.slice(0, 1), dev.rxRings.slice(0, 1), {
    host: dev.hostRings ?? null,
  });
  const nic = new ValeBwrap(sw, `${sw.name}:${dev.name}`, nicPort);
  if (!host) return { nic, host: null };
  if (dev.hostRings == null || dev.hostTxRings.length === 0) {
    nic.detach();
    throw new PvnetError("EINVAL", `${dev.name} has no host rings to attach`);
  }
  const hostPort = new NetmapPort(
    dev.region,
    dev.adapter,
    dev.hostTxRings.slice(0, 1),
    dev.hostRxRings.slice(0, 1),
    {
      host: dev.hostRings,
    },
  );
  return { nic, host: new ValeBwrap(sw, `${sw.name}:${dev.name}^`, hostPort) };
}
