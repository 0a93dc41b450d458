/**
 * A netmap device on a VALE switch (netmap's bwrap, `vale-ctl -a valeX:IF`, and with
 * `-h` its host stack as a second port `IF^`). The switch owns the device's rings through
 * a port bound in the kernel's name, and crosses them as netmap's bwrap does: frames the
 * device receives (NIC RX, or host RX for the host side) are forwarded through the switch
 * by `pump()`, and the switch's output for the port is copied straight into the free slots
 * of the device's TX ring (NIC TX, or host TX, i.e. up to the host stack), published and
 * synced once per forwarding batch. One copy per destination, as for any VALE port; a
 * full TX ring drops and counts (the switch's rxDrops), and senders never wait.
 *
 * The switch port outlives the device rings bound to it: `rebind` swaps them (or leaves
 * none, while nobody has a persistent interface open), so the port keeps its index, its
 * learnt addresses and its counters.
 */

import type { Counters } from "../base/counters.js";
import { PvnetError } from "../base/errors.js";
import type { NetmapDevice } from "../netmap/context.js";
import { KRing } from "../netmap/kring.js";
import { ringHead, ringTail } from "../netmap/layout.js";
import type { NetmapRegion } from "../netmap/mem.js";
import { NetmapPort } from "../netmap/port.js";
import { nmRingAdvance } from "../netmap/ring.js";
import { type PortCounter, portCounters, type ValeAttachment, type ValeSwitch } from "./switch.js";

export class ValeBwrap implements ValeAttachment {
  readonly name: string;
  readonly counters: Counters<PortCounter>;
  readonly index: number;
  readonly slots: number;
  readonly #sw: ValeSwitch;
  #port: NetmapPort | null = null;
  /**
   * The switch's view of the device's TX ring as a destination: it fills [hwtail, hwcur - 1),
   * i.e. from the ring's head up to its tail; hwtail runs ahead of head until published.
   */
  #out: KRing | null = null;

  /**
   * `port`: the device rings the switch holds (one TX, one RX kring), or null for a port
   * with no rings bound yet, whose rings will have `slots` slots.
   */
  constructor(sw: ValeSwitch, name: string, port: NetmapPort | null, slots = port?.tx[0]?.numSlots ?? 1024) {
    this.name = name;
    this.#sw = sw;
    this.slots = slots;
    this.counters = portCounters();
    this.rebind(port);
    this.index = sw.attach(this);
    if (this.index < 0) throw new PvnetError("ENOSPC", `${sw.name}: no free port for ${name}`);
  }

  /** The device rings bound now (null: none; the switch's output for the port is dropped). */
  get port(): NetmapPort | null {
    return this.#port;
  }

  /**
   * The bound device's region: the switch copies into its TX buffers. The switch asks only
   * after `rxKring()` gave a ring, and a bwrap forwards only from bound rings.
   */
  get region(): NetmapRegion {
    if (this.#port === null) throw new PvnetError("ENXIO", `${this.name}: no rings bound`);
    return this.#port.region;
  }

  /** Binds other device rings to this switch port (null: none). */
  rebind(port: NetmapPort | null): void {
    if (port !== null) {
      if (port.tx.length !== 1 || port.rx.length !== 1)
        throw new PvnetError("EINVAL", `${this.name}: a switch port needs one TX and one RX ring`);
      if (port.tx[0].numSlots !== this.slots)
        throw new PvnetError(
          "EINVAL",
          `${this.name}: rings of ${port.tx[0].numSlots} slots do not fit a port of ${this.slots} slots`,
        );
    }
    this.#port = port;
    this.#out = null;
    if (port === null) return;
    const tx = port.tx[0];
    const out = new KRing({
      m: port.mem,
      r: tx.r,
      numSlots: tx.numSlots,
      tx: false,
      name: `${this.name} out`,
      nBufs: port.region.nBufs,
      bufSize: port.region.bufSize,
    });
    out.hwtail = ringHead(port.mem, tx.r);
    this.#out = out;
  }

  /**
   * Where the switch delivers: the device's TX ring from head (or from what the switch
   * wrote this batch) to tail. A ring that looks full is synced first, reclaiming what the
   * device has sent since.
   */
  rxKring(): KRing | null {
    const p = this.#port;
    const k = this.#out;
    if (p === null || k === null) return null;
    const m = p.mem;
    let tail = ringTail(m, k.r);
    if (tail === k.hwtail) {
      // Slots written but not yet published lie beyond head, so this sync leaves them be.
      p.txsync();
      tail = ringTail(m, k.r);
    }
    k.hwcur = tail + 1 === k.numSlots ? 0 : tail + 1;
    return k;
  }

  /** The switch delivered frames for this port: publish them to the device and sync. */
  rxIrq(): void {
    const p = this.#port;
    const k = this.#out;
    if (p === null || k === null || ringHead(p.mem, k.r) === k.hwtail) return;
    nmRingAdvance(p.mem, k.r, k.hwtail);
    p.txsync();
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
