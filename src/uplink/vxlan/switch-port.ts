/**
 * The VXLAN uplink's port on its VALE switch: netmap's bwrap (the switch owns the device's
 * rings), except that frames skip the device's rings both ways. A received frame enters
 * the switch as its datagram is read, from one staging buffer (`forwardFrags`), and the
 * receivers are woken once per turn (`pump`); the switch's output for the port skips the
 * device's TX ring. Each frame is handed over by
 * reference and gathered straight behind a VXLAN header in the adapter's send pool, so a
 * frame leaving through the uplink is copied once, not twice (into the TX ring, then out of
 * it), and no ring slot is written or read back for it. The rings, txsync and rxsync stay
 * for anyone driving the device's rings directly.
 */
import type { NetmapDevice } from "../../netmap/context.js";
import { NetmapPort } from "../../netmap/port.js";
import { ValeBwrap } from "../../vale/bwrap.js";
import type { ValeFrags } from "../../vale/frags.js";
import type { ValeSwitch } from "../../vale/switch.js";
import type { VxlanAdapter } from "./adapter.js";

export class VxlanSwitchPort extends ValeBwrap {
  readonly #adapter: VxlanAdapter;
  readonly #sw: ValeSwitch;

  constructor(sw: ValeSwitch, dev: NetmapDevice, adapter: VxlanAdapter) {
    const rings = new NetmapPort(dev.region, dev.adapter, dev.txRings.slice(0, 1), dev.rxRings.slice(0, 1));
    super(sw, `${sw.name}:${dev.name}`, rings);
    this.#adapter = adapter;
    this.#sw = sw;
    const index = this.index;
    adapter.rxDirect = (f) => sw.forwardFrags(index, f);
    adapter.rxDirectBatch = (frames, n) => sw.forwardBatch(index, frames, n);
  }

  override detach(keepRings = false): void {
    this.#adapter.rxDirect = null;
    this.#adapter.rxDirectBatch = null;
    super.detach(keepRings);
  }

  /** The switch's frame for the uplink: sent now, or false when the send pool is full. */
  deliverFrags(f: ValeFrags): boolean {
    return this.#adapter.sendFrags(f);
  }

  /** Once per turn in which frames were received (NicPort's pump). */
  override pump(): number {
    // Received frames went into the switch as they came (VxlanAdapter.rxDirect): what is
    // left per turn is to wake their receivers, once.
    this.#sw.flush();
    this.#adapter.rxTurn();
    return 0;
  }

  /** Once per switch batch: the adapter sends what it took and reads its clock for the next. */
  override rxIrq(): void {
    this.#adapter.txBatch();
  }
}
