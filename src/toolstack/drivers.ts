/**
 * The one place the host makes a vif's two datapath halves. PLACEHOLDER: until netback's
 * NetbackVif (src/netback/vif.ts) and netfront's NetfrontDevice (src/netfront/device.ts)
 * land, these build stand-ins that satisfy the seams (vif-api.ts, device-api.ts) and move
 * no frames. At integration, replace the two function bodies with
 * `new NetbackVif(dom, info)` and `new NetfrontDevice(dom, info)` and delete the classes.
 */
import type { Counters } from "../base/counters.js";
import type { Domain } from "../hv/domain.js";
import { type VifQueueCounter, vifQueueCounters } from "../netback/counters.js";
import type { BackQueue, BackQueueRings, BackVif, BackVifInfo, VifFatal } from "../netback/vif-api.js";
import type { FrontDevice, FrontFatal, FrontQueue, FrontQueueRings } from "../netfront/device-api.js";
import type { NetDevice } from "../stack/device.js";
import type { ValeSwitch } from "../vale/switch.js";

/** What the host needs of a backend vif: the seam plus the bridge (hotplug) step. */
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
}

/** Makes the backend vif for a new device (netback_probe's netdev). */
export function makeBackVif(_dom: Domain, info: BackVifInfo): HostBackVif {
  return new PlaceholderBackVif(info); // PLACEHOLDER: new NetbackVif(dom, info)
}

/** Makes the frontend device once netfront has read `mac` and `mtu`. */
export function makeFrontDevice(_dom: Domain, info: FrontDeviceInfo): HostFrontDevice {
  return new PlaceholderFrontDevice(info); // PLACEHOLDER: new NetfrontDevice(dom, info)
}

/** PLACEHOLDER (see the top of this file): serves no queue, passes no frame. */
class PlaceholderBackVif implements HostBackVif {
  readonly name: string;
  readonly #counters: Counters<VifQueueCounter>[] = [];

  constructor(info: BackVifInfo) {
    this.name = `vif${info.frontDomid}.${info.devid}`;
  }

  attachQueue(rings: BackQueueRings, _fatal: VifFatal): BackQueue {
    while (this.#counters.length <= rings.queue) this.#counters.push(vifQueueCounters());
    return { close: () => {} };
  }

  queueCounters(): readonly Counters<VifQueueCounter>[] {
    return this.#counters;
  }

  joinSwitch(_sw: ValeSwitch): void {}
  leaveSwitch(): void {}
  close(): void {}
}

/** PLACEHOLDER (see the top of this file): refuses every send, receives nothing. */
class PlaceholderFrontDevice implements HostFrontDevice {
  readonly mac: number;
  readonly mtu: number;
  readonly offloadsChecksum = true;

  constructor(info: FrontDeviceInfo) {
    this.mac = Number.parseInt(info.mac.replaceAll(":", ""), 16) || 0x00163e000000;
    this.mtu = info.mtu;
  }

  attachQueue(_rings: FrontQueueRings, _fatal: FrontFatal): FrontQueue {
    return { start: () => {}, close: () => 0 };
  }

  carrierOn(): void {}
  carrierOff(): void {}

  transmit(_frame: Uint8Array, _len: number, _flags: number): boolean {
    return false;
  }

  onReceive(_cb: FrameReceiver): void {}
  onWritable(_cb: () => void): void {}
}
