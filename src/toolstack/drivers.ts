import type { Domain } from "../hv/domain.js";
import { PtBackVif } from "../netback/pt-vif.js";
import { NetbackVif } from "../netback/vif.js";
import type { BackVif, BackVifInfo } from "../netback/vif-api.js";
import { NetfrontDevice } from "../netfront/device.js";
import type { FrontDevice } from "../netfront/device-api.js";
import { PtFrontDevice } from "../netfront/pt-device.js";
import type { NetfrontOptions } from "../netfront/xenbus.js";
import type { NetDevice } from "../stack/device.js";
import type { ValeSwitch } from "../vale/switch.js";
import type { VifConfig } from "./config-types.js";

/**
 * The one place the host makes a vif's two datapath halves: netback's NetbackVif (a
 * netmap adapter that joins its bridge in the hotplug step) and netfront's NetfrontDevice
 * (the device the guest stack sits on). Benchmarks and tests get the same pair.
 */
export interface HostBackVif extends BackVif {
  joinSwitch(sw: ValeSwitch): void;
  leaveSwitch(): void;
}

/** Receive callback: a frame at `frame[off..off+len)` with its NETRXF_* flags. */
export type FrameReceiver = (frame: Uint8Array, off: number, len: number, flags: number) => void;

/** What the host needs of a frontend device: the seam, the stack's device, and its callbacks. */
export interface HostFrontDevice extends FrontDevice, NetDevice {
  onReceive(cb: FrameReceiver): void;
  onWritable(cb: () => void): void;
}

export interface FrontDeviceInfo {
  readonly mac: string;
  readonly mtu: number;
  /** netfront's `trusted`: false bounces every frame (XSA-403); default true. */
  readonly trusted?: boolean;
}

/** Makes the backend vif for a new device (netback_probe's netdev); `passthrough`: a netmap passthrough vif. */
export function makeBackVif(dom: Domain, info: BackVifInfo, passthrough = false): HostBackVif {
  return passthrough ? new PtBackVif(dom, info) : new NetbackVif(dom, info);
}

/**
 * Makes the frontend device once netfront has read `mac` and `mtu`; `passthrough` as for
 * makeBackVif, with `ptSlots` slots per ring (undefined: the device's default).
 */
export function makeFrontDevice(
  dom: Domain,
  info: FrontDeviceInfo,
  passthrough = false,
  ptSlots?: number,
): HostFrontDevice {
  if (!passthrough) return new NetfrontDevice(dom, info);
  return new PtFrontDevice(dom, info, ptSlots === undefined ? {} : { slots: ptSlots });
}

/** What netfront is asked for by a vif's config: queues, ring order, channels, features. */
export function netfrontOptionsOf(cfg: VifConfig): Omit<NetfrontOptions, "makeDevice" | "log"> {
  const f = cfg.features;
  return {
    queues: cfg.queues,
    ringPageOrder: cfg.ringPageOrder,
    splitEventChannels: f.splitEventChannels,
    stagingGrants: cfg.stagingGrants ?? true,
    features: {
      sg: f.sg,
      gsoTcpv4: f.gsoTcpv4,
      gsoTcpv6: f.gsoTcpv6,
      csumOffload: f.csumOffload,
      ipv6CsumOffload: f.ipv6CsumOffload,
      multicastControl: f.multicastControl,
      rxNotify: f.rxNotify,
      xdpHeadroom: cfg.xdpHeadroom ?? 0,
      rxFlip: cfg.rxMode === "flip",
    },
  };
}
