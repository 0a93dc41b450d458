/**
 * The toolstack as a library: a host description (the YAML `pvnet up` boots, documented
 * key by key in docs/config.md) parsed with {@link parseHostConfig} or read with
 * {@link loadHostConfig}, booted with {@link Host.boot} (Domain-0 with xenstored, the
 * VALE switches and netback; each guest with netfront and the IP stack), watched with
 * `host.status()` and stopped with `host.shutdown()`.
 *
 * @module pvnet/toolstack
 */

export { UPLINK_COUNTERS, type UplinkCounter } from "../uplink/counters.js";
export type { TapStatus, UplinkStatus, VxlanStatus } from "../uplink/status.js";
export { VXLAN_COUNTERS, type VxlanCounter } from "../uplink/vxlan/counters.js";
export {
  DEFAULT_HOST_YAML,
  defaultHostConfig,
  formatIssue,
  loadHostConfig,
  parseHostConfig,
} from "./config.js";
export type { TapUplink } from "./config-tap.js";
export type * from "./config-types.js";
export {
  type BridgeStatus,
  Host,
  type HostOptions,
  type HostStatus,
  type PingSummary,
  type VifStatus,
  type XenbusEnd,
} from "./host.js";
export type { Dom0Resources, GuestArgs, GuestPingResult, GuestVif, PingPlan } from "./host-proto.js";
export type { HotplugContext, VifHotplug } from "./hotplug.js";
export type { AttachedVif, AttachVifSpec, DetachedVif, UdpEchoResult } from "./vif-ops.js";
