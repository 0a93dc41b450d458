/**
 * The host's side of the uplinks: the specs it hands Domain-0 (one shared status area
 * each) and the status it reads back from them.
 */
import type { BridgeConfig } from "../toolstack/config-types.js";
import type { UplinkCounter } from "./counters.js";
import type { Dom0Uplink } from "./dom0-uplinks.js";
import type { VxlanCounter } from "./vxlan/counters.js";
import { readUplinkShared, uplinkShared } from "./vxlan/shared.js";

/** An uplink in `host.status()` and `pvnet up --json`: VXLAN or tap. */
export type UplinkStatus = VxlanStatus | TapStatus;

/** A VXLAN uplink's status. */
export interface VxlanStatus {
  readonly bridge: string;
  /** The switch port: `<bridge>:vxlan<index>`. */
  readonly name: string;
  readonly type: "vxlan";
  readonly local: string;
  readonly port: number;
  readonly vni: number;
  readonly mtu: number;
  /**
   * How its datagrams move: `native` (the batched addon, recvmmsg/sendmmsg) or `dgram`
   * (Node's socket); null only before Domain-0 has opened it.
   */
  readonly socket: "native" | "dgram" | null;
  readonly remotes: readonly string[];
  /** Named as `ip -s -s link` names a Linux device's counters. */
  readonly counters: Record<VxlanCounter, number>;
  /** Inner MACs learnt (at most 64 shown) and the remote each was learnt from. */
  readonly learnt: { mac: string; remote: string }[];
}

/** A tap uplink's status. */
export interface TapStatus {
  readonly bridge: string;
  /** The switch port: `<bridge>:<tap device>`. */
  readonly name: string;
  readonly type: "tap";
  /** The tap device's name in the kernel. */
  readonly device: string;
  /** Named as `ip -s -s link` names a Linux device's counters. */
  readonly counters: Record<UplinkCounter, number>;
}

/** A tap uplink as the host hands it to Domain-0. */
export interface Dom0Tap {
  readonly bridge: string;
  readonly name: string;
  /** null: the launcher's, from PVNET_TAP_FDS. */
  readonly fd: number | null;
  /** UPLINK_SHARED_BYTES: the counters, which the adapter bumps in place. */
  readonly shared: SharedArrayBuffer;
}

export function dom0TapSpecs(bridges: readonly BridgeConfig[]): Dom0Tap[] {
  return bridges.flatMap((b) =>
    b.taps.map((t) => ({ bridge: b.name, name: t.name, fd: t.fd ?? null, shared: uplinkShared() })),
  );
}

export function tapStatus(t: Dom0Tap): TapStatus {
  return {
    bridge: t.bridge,
    name: `${t.bridge}:${t.name}`,
    type: "tap",
    device: t.name,
    counters: readUplinkShared(t.shared).counters,
  };
}

export function dom0UplinkSpecs(bridges: readonly BridgeConfig[]): Dom0Uplink[] {
  return bridges.flatMap((b) =>
    b.uplinks.map((u, index) => ({ bridge: b.name, index, vxlan: u.vxlan, shared: uplinkShared() })),
  );
}

export function uplinkStatus(u: Dom0Uplink): VxlanStatus {
  const v = u.vxlan;
  const { counters, learnt, socket } = readUplinkShared(u.shared);
  return {
    bridge: u.bridge,
    name: `${u.bridge}:vxlan${u.index}`,
    type: "vxlan",
    local: v.local,
    port: v.port,
    vni: v.vni,
    mtu: v.mtu,
    socket,
    remotes: v.remotes,
    counters,
    learnt,
  };
}
