/**
 * Domain-0's uplinks: one VxlanUplink per `bridges.<name>.uplinks[]` entry, opened on its
 * bridge's switch when Domain-0 boots, their learnt MACs published on the status tick,
 * closed at shutdown.
 */
import type { ValeSwitch } from "../vale/switch.js";
import type { VxlanUplinkConfig } from "./vxlan/config.js";
import { publishLearnt } from "./vxlan/shared.js";
import { VxlanUplink } from "./vxlan/uplink.js";

/** An uplink as the host hands it to Domain-0. */
export interface Dom0Uplink {
  readonly bridge: string;
  /** Its position in the bridge's list: the port is `<bridge>:vxlan<index>`. */
  readonly index: number;
  readonly vxlan: VxlanUplinkConfig;
  /** UPLINK_SHARED_BYTES: counters and learnt MACs, read by the host. */
  readonly shared: SharedArrayBuffer;
}

export class Dom0Uplinks {
  readonly #open: { u: VxlanUplink; shared: SharedArrayBuffer }[];

  private constructor(open: { u: VxlanUplink; shared: SharedArrayBuffer }[]) {
    this.#open = open;
  }

  /** Opens every uplink (all or none: a failure closes those opened, then rejects). */
  static async open(
    switches: ReadonlyMap<string, ValeSwitch>,
    specs: readonly Dom0Uplink[],
  ): Promise<Dom0Uplinks> {
    const open: { u: VxlanUplink; shared: SharedArrayBuffer }[] = [];
    try {
      for (const s of specs) {
        const sw = switches.get(s.bridge);
        if (sw === undefined) continue;
        const u = await VxlanUplink.open(sw, s.vxlan, s.index, { counters: s.shared });
        open.push({ u, shared: s.shared });
        // Says at once how its datagrams move (and its empty learnt list).
        publishLearnt(u, s.shared);
      }
    } catch (e) {
      await Promise.all(open.map((o) => o.u.close()));
      throw e;
    }
    return new Dom0Uplinks(open);
  }

  get size(): number {
    return this.#open.length;
  }

  /** The status tick: learnt MACs into shared memory (the counters are there already). */
  publish(): void {
    for (const o of this.#open) publishLearnt(o.u, o.shared);
  }

  async close(): Promise<void> {
    this.publish();
    await Promise.all(this.#open.map((o) => o.u.close()));
  }
}
