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
import { RateLog } from "../base/ratelog.js";
import type { NetmapDevice } from "../netmap/context.js";
import { between, KRing } from "../netmap/kring.js";
import type { NetmapRegion } from "../netmap/mem.js";
import { NetmapPort } from "../netmap/port.js";
import { nmRingAdvance } from "../netmap/ring.js";
import { type PortCounter, portCounters, type ValeAttachment, type ValeSwitch } from "./switch.js";

export class ValeBwrap implements ValeAttachment {
  readonly name: string;
  readonly counters: Counters<PortCounter>;
  readonly index: number;
  readonly slots: number;
  /** Times the rings were unbound because driving them threw (`fault`). */
  faults = 0;
  readonly #sw: ValeSwitch;
  readonly #log: RateLog;
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
  constructor(
    sw: ValeSwitch,
    name: string,
    port: NetmapPort | null,
    slots = port?.tx[0]?.numSlots ?? 1024,
    log: RateLog = new RateLog(),
  ) {
    this.name = name;
    this.#sw = sw;
    this.#log = log;
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
    out.hwtail = tx.rhead;
    this.#out = out;
  }

  /**
   * Where the switch delivers: the device's TX ring from head (or from what the switch
   * wrote this batch) to tail. A ring that looks full is synced first, reclaiming what the
   * device has sent since. Positions come from the TX kring's private copies (rhead, rtail),
   * never from the shared ring: for a RemoteIf, the user's thread holds that memory too.
   */
  rxKring(): KRing | null {
    const p = this.#port;
    const k = this.#out;
    if (p === null || k === null) return null;
    const tx = p.tx[0];
    if (tx.rtail === k.hwtail) {
      // Slots written but not yet published lie beyond head, so this sync leaves them be.
      if (!this.#txsync(p)) return null;
      // A reset ring (its head rewritten under us) forgets what was written past head.
      if (!between(tx.rhead, k.hwtail, tx.rtail)) k.hwtail = tx.rhead;
    }
    k.hwcur = tx.rtail + 1 === k.numSlots ? 0 : tx.rtail + 1;
    return k;
  }

  /** The switch delivered frames for this port: publish them to the device and sync. */
  rxIrq(): void {
    const p = this.#port;
    const k = this.#out;
    if (p === null || k === null) return;
    const tx = p.tx[0];
    if (tx.rhead === k.hwtail) return;
    nmRingAdvance(p.mem, k.r, k.hwtail);
    if (this.#txsync(p) && tx.rhead !== k.hwtail) k.hwtail = tx.rhead;
  }

  /**
   * The device's txsync as the switch calls it, for another port's packets: a throw is the
   * device's fault (for a RemoteIf, its user's), so it unbinds this port's rings, counted
   * and logged, and the sender carries on. False when that happened.
   */
  #txsync(p: NetmapPort): boolean {
    try {
      p.txsync();
      return true;
    } catch (e) {
      this.fault(`txsync: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
  }

  /**
   * Takes the port's rings off the switch after a fault caused by whoever drives them
   * (`why`): counted, logged at a limited rate, and the switch's output for the port is
   * dropped until other rings are bound. The rest of the switch is untouched.
   */
  fault(why: string): void {
    this.faults++;
    this.#log.log(`vale:${this.name}`, `vale: ${this.name}: ${why}; rings unbound`);
    this.#port = null;
    this.#out = null;
  }

  /**
   * What the device's RX interrupt does on a bwrap: rxsync the device's RX ring, forward
   * everything received through the switch and release it; repeats while frames keep
   * coming, at most `maxPasses` times. Returns the slots forwarded. The range forwarded is
   * the kring's [hwcur, hwtail), which its sync has checked; the ring's shared head and tail
   * are only ever written here.
   */
  pump(maxPasses = 4): number {
    const p = this.#port;
    if (p === null) return 0;
    const m = p.mem;
    const k = p.rx[0];
    const n = k.numSlots;
    let done = 0;
    for (let pass = 0; pass < maxPasses; pass++) {
      p.rxsync();
      const from = k.hwcur;
      const to = k.hwtail;
      if (from === to) break;
      this.#sw.forward(this.index, k, from, to, p.region);
      done += (to - from + n) % n;
      nmRingAdvance(m, k.r, to);
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
