/**
 * The host's side of the uplinks: the specs it hands Domain-0 (one shared status area
 * each) and the status it reads back from them.
 */
import type { BridgeConfig } from "../toolstack/config-types.js";
import type { Dom0Uplink } from "./dom0-uplinks.js";
import type { VxlanCounter } from "./vxlan/counters.js";
import { readUplinkShared, uplinkShared } from "./vxlan/shared.js";

/** An uplink in `host.status()` and `pvnet up --json`. */
export interface UplinkStatus {
  readonly bridge: string;
  /** The switch port: `<bridge>:vxlan<index>`. */
  readonly name: string;
  readonly type: "vxlan";
  readonly local: string;
  readonly port: number;
  readonly vni: number;
  readonly mtu: number;
  readonly remotes: readonly string[];
  /** Named as `ip -s -s link` names a Linux device's counters. */
  readonly counters: Record<VxlanCounter, number>;
  /** Inner MACs learnt (at most 64 shown) and the remote each was learnt from. */
  readonly learnt: { mac: string; remote: string }[];
}

export function dom0UplinkSpecs(bridges: readonly BridgeConfig[]): Dom0Uplink[] {
  return bridges.flatMap((b) =>
    b.uplinks.map((u, index) => ({ bridge: b.name, index, vxlan: u.vxlan, shared: uplinkShared() })),
  );
}

export function uplinkStatus(u: Dom0Uplink): UplinkStatus {
  const v = u.vxlan;
  const { counters, learnt } = readUplinkShared(u.shared);
  return {
    bridge: u.bridge,
    name: `${u.bridge}:vxlan${u.index}`,
    type: "vxlan",
    local: v.local,
    port: v.port,
    vni: v.vni,
    mtu: v.mtu,
    remotes: v.remotes,
    counters,
    learnt,
  };
}
