/**
 * The VXLAN uplink's port on its VALE switch: netmap's bwrap (the switch owns the device's
 * rings, and frames the uplink receives enter the switch through `pump`), except that the
 * switch's output for the port skips the device's TX ring. Each frame is handed over by
 * reference and gathered straight behind a VXLAN header in the adapter's send pool, so a
 * frame leaving through the uplink is copied once, not twice (into the TX ring, then out of
 * it), and no ring slot is written or read back for it. The TX ring and txsync stay for
 * anyone driving the device's rings directly.
 */
import type { NetmapDevice } from "../../netmap/context.js";
import { NetmapPort } from "../../netmap/port.js";
import { ValeBwrap } from "../../vale/bwrap.js";
import type { ValeFrags } from "../../vale/frags.js";
import type { ValeSwitch } from "../../vale/switch.js";
import type { VxlanAdapter } from "./adapter.js";

export class VxlanSwitchPort extends ValeBwrap {
  readonly #adapter: VxlanAdapter;

  constructor(sw: ValeSwitch, dev: NetmapDevice, adapter: VxlanAdapter) {
    const rings = new NetmapPort(dev.region, dev.adapter, dev.txRings.slice(0, 1), dev.rxRings.slice(0, 1));
    super(sw, `${sw.name}:${dev.name}`, rings);
    this.#adapter = adapter;
  }

  /** The switch's frame for the uplink: sent now, or false when the send pool is full. */
  deliverFrags(f: ValeFrags): boolean {
    return this.#adapter.sendFrags(f);
  }

  /**
   * One pass, then the release: the adapter fills its RX ring only from this thread's
   * receive path, so nothing can arrive while the switch forwards, and a second look
   * would always find the ring empty (an rxsync saved per batch).
   */
  override pump(): number {
    return super.pump(1);
  }

  /** Once per switch batch: the adapter sends what it took and reads its clock for the next. */
  override rxIrq(): void {
    this.#adapter.txBatch();
  }
}
