/**
 * The one place that names the xenstore paths and keys pvnet uses (xen-protocol.md §3,
 * docs/misc/xenstore-paths). Constants and small path builders only: nothing here reads
 * or writes the store.
 */

/** Every domain's home directory lives below this. */
export const LOCAL_DOMAIN = "/local/domain";
/** Toolstack areas a freshly booted Xen host has. */
export const TOOL_PATH = "/tool";
export const VM_PATH = "/vm";

/** Special watch names: fire when a domain is introduced / released. */
export const XS_INTRODUCE_DOMAIN = "@introduceDomain";
export const XS_RELEASE_DOMAIN = "@releaseDomain";
export const XS_SPECIAL_PATHS: readonly string[] = Object.freeze([XS_INTRODUCE_DOMAIN, XS_RELEASE_DOMAIN]);

/** Dom0's name as xenstore-ls shows it on a Xen host. */
export const DOM0_NAME = "Domain-0";

/** /local/domain/<domid>: a domain's home, where its relative paths resolve. */
export function domainPath(domid: number): string {
  return `${LOCAL_DOMAIN}/${domid}`;
}

/** Frontend directory: /local/domain/<fe>/device/vif/<devid>. */
export function vifFrontendPath(feDomid: number, devid: number): string {
  return `${domainPath(feDomid)}/device/vif/${devid}`;
}

/** Backend directory: /local/domain/<be>/backend/vif/<fe>/<devid>. */
export function vifBackendPath(beDomid: number, feDomid: number, devid: number): string {
  return `${domainPath(beDomid)}/backend/vif/${feDomid}/${devid}`;
}

/** A multi-queue frontend's per-queue directory: <dir>/queue-<i>. */
export function queuePath(dir: string, queue: number): string {
  return `${dir}/queue-${queue}`;
}

/**
 * xenbus_dev_fatal's report: `error/<nodename>/error` relative to the writer's home, where
 * the nodename is the device path relative to that home too, as Linux's xenbus names its
 * devices ("backend/vif/1/0", "device/vif/0"): Domain-0's backend writes
 * /local/domain/0/error/backend/vif/1/0/error. A nodename outside the writer's home keeps
 * its absolute path under error/.
 */
export function errorPath(writerDomid: number, nodename: string): string {
  const home = `${domainPath(writerDomid)}/`;
  const rel = nodename.startsWith(home) ? nodename.slice(home.length) : nodename.replace(/^\/+/, "");
  return `${home}error/${rel}/error`;
}

// Keys in both directories (written by the toolstack and the drivers).
export const KEY_STATE = "state";
export const KEY_NAME = "name";
export const KEY_DOMID = "domid";
export const KEY_HANDLE = "handle";
export const KEY_MAC = "mac";
export const KEY_MTU = "mtu";

// Frontend directory, written by the toolstack.
export const KEY_BACKEND = "backend";
export const KEY_BACKEND_ID = "backend-id";
export const KEY_TRUSTED = "trusted";

// Backend directory, written by the toolstack and the hotplug script.
export const KEY_FRONTEND = "frontend";
export const KEY_FRONTEND_ID = "frontend-id";
export const KEY_ONLINE = "online";
export const KEY_SCRIPT = "script";
export const KEY_BRIDGE = "bridge";
export const KEY_TYPE = "type";
export const KEY_VIFNAME = "vifname";
export const KEY_IP = "ip";
export const KEY_RATE = "rate";
export const KEY_HOTPLUG_STATUS = "hotplug-status";
export const HOTPLUG_CONNECTED = "connected";
export const HOTPLUG_ERROR = "error";

// Frontend-written keys (xen-protocol.md §3.4).
export const KEY_TX_RING_REF = "tx-ring-ref";
export const KEY_RX_RING_REF = "rx-ring-ref";
export const KEY_EVENT_CHANNEL = "event-channel";
export const KEY_EVENT_CHANNEL_TX = "event-channel-tx";
export const KEY_EVENT_CHANNEL_RX = "event-channel-rx";
export const KEY_MULTI_QUEUE_NUM_QUEUES = "multi-queue-num-queues";
export const KEY_REQUEST_RX_COPY = "request-rx-copy";
export const KEY_REQUEST_MULTICAST_CONTROL = "request-multicast-control";
export const KEY_CTRL_RING_REF = "ctrl-ring-ref";
export const KEY_EVENT_CHANNEL_CTRL = "event-channel-ctrl";
export const KEY_XDP_HEADROOM = "xdp-headroom";
export const FEATURE_RX_NOTIFY = "feature-rx-notify";
export const FEATURE_NO_CSUM_OFFLOAD = "feature-no-csum-offload";
export const FEATURE_SMART_POLL = "feature-smart-poll";

// Keys both ends write (the same name means "I can" in either directory).
export const FEATURE_SG = "feature-sg";
export const FEATURE_GSO_TCPV4 = "feature-gso-tcpv4";
export const FEATURE_GSO_TCPV6 = "feature-gso-tcpv6";
export const FEATURE_IPV6_CSUM_OFFLOAD = "feature-ipv6-csum-offload";

// Backend-written keys (xen-protocol.md §3.5).
export const FEATURE_RX_COPY = "feature-rx-copy";
export const FEATURE_RX_FLIP = "feature-rx-flip";
export const FEATURE_MULTICAST_CONTROL = "feature-multicast-control";
export const FEATURE_DYNAMIC_MULTICAST_CONTROL = "feature-dynamic-multicast-control";
export const FEATURE_SPLIT_EVENT_CHANNELS = "feature-split-event-channels";
export const FEATURE_CTRL_RING = "feature-ctrl-ring";
export const FEATURE_XDP_HEADROOM = "feature-xdp-headroom";
export const KEY_MULTI_QUEUE_MAX_QUEUES = "multi-queue-max-queues";
export const KEY_CARRIER = "carrier";

/** libxl's private area: its own copy of each device's backend keys (not trusted to the backend). */
export const LIBXL_PATH = "/libxl";

/** libxl's bookkeeping copy of a vif: /libxl/<fe>/device/vif/<devid>. */
export function vifLibxlPath(feDomid: number, devid: number): string {
  return `${LIBXL_PATH}/${feDomid}/device/vif/${devid}`;
}

/** What libxl writes as `script` when the vif spec names none (libxl__abs_path of "vif-bridge"). */
export const VIF_BRIDGE_SCRIPT = "/etc/xen/scripts/vif-bridge";
