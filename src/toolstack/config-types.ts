/**
 * A host as `pvnet up` builds it: the result of parsing, validating and defaulting a host
 * file. Every object is frozen; domids follow the order of `domains`, Domain-0 first.
 */
import type { LoopMode } from "../hv/loop.js";
import type { VxlanUplinkConfig } from "../uplink/vxlan/config.js";
import type { TapUplink } from "./config-tap.js";

export type { VxlanUplinkConfig };

/** What a vif's netfront offers; each maps to the xenstore feature key of the same name. */
export interface VifFeatures {
  readonly sg: boolean;
  readonly gsoTcpv4: boolean;
  readonly gsoTcpv6: boolean;
  /** IPv4 checksum offload; false is written as `feature-no-csum-offload = 1`. */
  readonly csumOffload: boolean;
  readonly ipv6CsumOffload: boolean;
  readonly splitEventChannels: boolean;
  readonly rxNotify: boolean;
  /** request-multicast-control: the backend filters multicast by the groups the guest joins. */
  readonly multicastControl: boolean;
}

/** Every feature on: what a host file gets for each key it leaves out. */
export const ALL_VIF_FEATURES: VifFeatures = Object.freeze({
  sg: true,
  gsoTcpv4: true,
  gsoTcpv6: true,
  csumOffload: true,
  ipv6CsumOffload: true,
  splitEventChannels: true,
  rxNotify: true,
  multicastControl: false,
});

export interface Ipv4Cidr {
  /** Dotted quad as written. */
  readonly address: string;
  readonly prefix: number;
  /** The address as an unsigned 32-bit number. */
  readonly value: number;
  /** Dotted quad of the network (address with host bits cleared). */
  readonly network: string;
}

export interface VifConfig {
  /** The device index in the guest (`device/vif/<devid>`), its position in `vifs`. */
  readonly devid: number;
  /** Lower case, colon separated. */
  readonly mac: string;
  readonly ip: Ipv4Cidr | undefined;
  readonly bridge: string;
  readonly queues: number;
  readonly ringPageOrder: number;
  /**
   * Whether the guest trusts its backend: the frontend's `trusted` key. False makes netfront
   * copy (bounce) every frame out of the pages it shares with the backend (XSA-403).
   */
  readonly trusted: boolean;
  /**
   * netfront registers its buffer pools as staging grants over the control ring, so
   * netback maps them once and copies frames without a grant operation each; default true.
   */
  readonly stagingGrants?: boolean;
  readonly features: VifFeatures;
  /**
   * The hotplug script's absolute path: written to the backend's `script` key and run by
   * Domain-0's side with `online`/`offline`; undefined: pvnet's built-in bridge attach.
   */
  readonly script?: string;
  /** The backend's `rate` key ("<bytes>,<usecs>"): netback's credit limit on the guest's TX; absent: unlimited. */
  readonly rate?: string;
  /** xdp-headroom: bytes netback leaves before each frame in the guest's RX buffers; absent: 0. */
  readonly xdpHeadroom?: number;
  /** How the guest receives: netback copies into its buffers, or flips pages (request-rx-copy=0); absent: copy. */
  readonly rxMode?: "copy" | "flip";
  /** A netmap passthrough vif (pvnet's: netback/pt-vif.ts, netfront/pt-device.ts); absent: false. */
  readonly passthrough?: boolean;
  /** A passthrough vif's slots per ring (`passthrough-slots`); absent: the device's default. */
  readonly passthroughSlots?: number;
}

export interface DomainConfig {
  readonly domid: number;
  readonly name: string;
  readonly memoryMiB: number;
  /** Memory in 4 KiB pages, what the machine allocates. */
  readonly pages: number;
  readonly vifs: readonly VifConfig[];
  /** The domain's event loop mode (`loop:`); unset: HostOptions' loopMode or guestLoopMode. */
  readonly loop?: LoopMode;
  /** The CPUs its thread may run on (`cpus:`, xl.cfg's); unset: any. */
  readonly cpus?: readonly number[];
}

/** One entry of `bridges.<name>.uplinks`: a VXLAN tunnel endpoint on the bridge. */
export interface UplinkConfig {
  readonly vxlan: VxlanUplinkConfig;
}

export interface CaptureConfig {
  /** The path as written (relative to the working directory of `pvnet up`). */
  readonly file: string;
  readonly format: "pcap" | "pcapng";
  /** Stop after this many frames; undefined: until shutdown. */
  readonly count: number | undefined;
}

export interface BridgeConfig {
  readonly name: string;
  readonly uplinks: readonly UplinkConfig[];
  /** The `tap` entries of its uplinks: Linux tap devices on the switch (config-tap.ts). */
  readonly taps: readonly TapUplink[];
  /** Domain-0 records every frame the switch forwards; undefined: no capture. */
  readonly capture: CaptureConfig | undefined;
}

export interface HostConfig {
  /** Domain-0 (the driver domain) first, then the guests. */
  readonly domains: readonly DomainConfig[];
  readonly bridges: readonly BridgeConfig[];
}

/** One thing wrong with a host file, located in it. */
export interface ConfigIssue {
  /** The file as the user named it. */
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly col: number;
  /** The key path of the field, as present in the document (`[]` for the whole file). */
  readonly path: readonly (string | number)[];
  /** `path` written as `domains[1].vifs[0].mac`. */
  readonly field: string;
  /** What is wrong. */
  readonly problem: string;
  /** What was expected; may be empty. */
  readonly expected: string;
}

export type ConfigResult =
  | { readonly ok: true; readonly config: HostConfig }
  | { readonly ok: false; readonly issues: readonly ConfigIssue[] };
