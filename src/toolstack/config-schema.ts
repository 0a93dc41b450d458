/**
 * The JSON Schema of a pvnet host file (draft-07, checked by ajv). It fixes the shape,
 * types, ranges and defaults of every key; cross-field rules (unique names and MACs, a
 * vif's bridge exists, one subnet per bridge) are in config-semantic.ts because a schema
 * cannot say them.
 *
 * `expected` is pvnet's annotation keyword: the human phrase an error message puts in
 * parentheses, so each key's expectation is written once, beside its rule.
 */

import { LOOP_MODES } from "../hv/loop.js";
import { PT_DEFAULT_SLOTS, PT_SLOT_CHOICES } from "../netmap/pt-layout.js";
import { VXLAN_DEFAULT_MTU, VXLAN_MAX_MTU, VXLAN_MIN_MTU } from "../uplink/vxlan/config.js";
import { TAP_UPLINK_SCHEMA } from "./config-tap.js";

const OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
/** An IPv4 address with a prefix length, as `ip addr` prints it. */
export const IPV4_CIDR_PATTERN = `^${OCTET}(\\.${OCTET}){3}/(3[0-2]|[12]?[0-9])$`;
export const MAC_PATTERN = "^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$";
/** xl accepts more, but these names survive xenstore paths, port names and shells. */
export const DOMAIN_NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$";
/** A VALE switch name: netmap's `vale` prefix, shorter than IFNAMSIZ (16). */
export const BRIDGE_NAME_PATTERN = "^vale[A-Za-z0-9_]{0,11}$";
export const MEMORY_PATTERN = "^[1-9][0-9]{0,6}[MG]$";

export const MAX_DOMAINS = 1024;
export const MAX_VIFS = 16;
export const MAX_QUEUES = 8;
/** Linux xenbus maps at most 2^4 grants per ring (XENBUS_MAX_RING_GRANT_ORDER). */
export const MAX_RING_PAGE_ORDER = 4;
export const MAX_MEMORY_MIB = 4096;
export const DEFAULT_MEMORY_MIB = 32;
export const DEFAULT_BRIDGE = "vale0";
export const VXLAN_PORT = 4789;
/** A VXLAN remote: an IPv4 address, optionally with a port. */
export const VXLAN_REMOTE_PATTERN = `^${OCTET}(\\.${OCTET}){3}(:[1-9][0-9]{0,4})?$`;

const bool = (what: string) => ({ type: "boolean", default: true, expected: `true or false: ${what}` });

const features = {
  type: "object",
  default: {},
  additionalProperties: false,
  expected: "a mapping of feature names to true or false",
  properties: {
    sg: bool("scatter-gather, frames over several slots"),
    "gso-tcpv4": bool("TCP segmentation offload over IPv4"),
    "gso-tcpv6": bool("TCP segmentation offload over IPv6"),
    "csum-offload": bool("IPv4 TCP/UDP checksums left blank"),
    "ipv6-csum-offload": bool("IPv6 TCP/UDP checksums left blank"),
    "split-event-channels": bool("one event channel each for TX and RX"),
    "rx-notify": bool("the guest notifies when it posts RX buffers"),
    "multicast-control": {
      ...bool("netback passes only the multicast groups the guest joined"),
      default: false,
    },
  },
};

const vif = {
  type: "object",
  additionalProperties: false,
  expected:
    "a mapping with mac, ip, bridge, queues, ring-page-order, trusted, staging-grants, features, script, rate, xdp-headroom, rx-mode, passthrough, passthrough-slots",
  properties: {
    mac: { type: "string", pattern: MAC_PATTERN, expected: "a MAC address like 00:16:3e:00:01:00" },
    ip: {
      type: "string",
      pattern: IPV4_CIDR_PATTERN,
      expected: "an IPv4 address with prefix, like 10.0.0.1/24",
    },
    bridge: { type: "string", default: DEFAULT_BRIDGE, expected: "the name of a bridge under bridges" },
    "xdp-headroom": {
      type: "integer",
      minimum: 0,
      maximum: 2048,
      default: 0,
      expected: "bytes from 0 to 2048",
    },
    "rx-mode": { enum: ["copy", "flip"], default: "copy", expected: "copy or flip" },
    rate: { type: "string", expected: 'a rate like "10Mbit/s", "1MB/s@20ms" or "<bytes>,<usecs>"' },
    queues: {
      type: "integer",
      minimum: 1,
      maximum: MAX_QUEUES,
      default: 1,
      expected: `an integer from 1 to ${MAX_QUEUES}`,
    },
    "ring-page-order": {
      type: "integer",
      minimum: 0,
      maximum: MAX_RING_PAGE_ORDER,
      default: 0,
      expected: `an integer from 0 to ${MAX_RING_PAGE_ORDER} (each ring is 2^order pages)`,
    },
    trusted: {
      type: "boolean",
      default: true,
      expected: "true or false (false: the guest copies every frame the backend hands it)",
    },
    passthrough: {
      type: "boolean",
      default: false,
      expected:
        "true or false (true: a netmap passthrough vif, pvnet's: the guest shares a VALE port's rings)",
    },
    "passthrough-slots": {
      enum: PT_SLOT_CHOICES,
      expected: `slots per ring of a passthrough vif: ${PT_SLOT_CHOICES.join(", ")} (default ${PT_DEFAULT_SLOTS})`,
    },
    "staging-grants": {
      type: "boolean",
      default: true,
      expected:
        "true or false (false: every frame takes a grant copy instead of netback keeping the guest's buffer pages mapped)",
    },
    features,
    script: {
      type: "string",
      pattern: "^/",
      maxLength: 1024,
      expected: "the absolute path of an executable hotplug script, run with online or offline",
    },
  },
};

const domain = {
  type: "object",
  required: ["name"],
  additionalProperties: false,
  expected: "a mapping with name, memory, vifs and optionally loop and cpus",
  properties: {
    name: {
      type: "string",
      pattern: DOMAIN_NAME_PATTERN,
      expected: "1-64 letters, digits, '_', '.', '-', starting with a letter or digit",
    },
    memory: {
      type: ["integer", "string"],
      minimum: 1,
      maximum: MAX_MEMORY_MIB,
      pattern: MEMORY_PATTERN,
      default: DEFAULT_MEMORY_MIB,
      expected: `MiB as an integer from 1 to ${MAX_MEMORY_MIB}, or a size like 64M or 1G`,
    },
    vifs: {
      type: "array",
      default: [],
      maxItems: MAX_VIFS,
      items: vif,
      expected: `a list of at most ${MAX_VIFS} vifs`,
    },
    // The domain's event loop (src/hv/loop.ts); unset: the host's default.
    loop: { enum: [...LOOP_MODES], expected: LOOP_MODES.join(", ") },
    // The CPUs its thread may run on, xl.cfg's `cpus` (src/hv/cpus.ts).
    cpus: {
      type: ["string", "integer"],
      minimum: 0,
      expected: 'a CPU number or xl\'s list, e.g. 0, "1-3", "0-3,^1" or "all"',
    },
  },
};

/** A VXLAN uplink (src/uplink/vxlan): `{ vxlan: { local, port, vni, remotes, mtu } }`. */
const vxlan = {
  type: "object",
  required: ["local", "vni", "remotes"],
  additionalProperties: false,
  expected: "a mapping with local, port, vni, remotes and optionally mtu",
  properties: {
    local: { type: "string", format: "ipv4", expected: "the IPv4 address to bind (0.0.0.0: every address)" },
    port: {
      type: "integer",
      minimum: 1,
      maximum: 65535,
      default: VXLAN_PORT,
      expected: "a UDP port from 1 to 65535",
    },
    vni: { type: "integer", minimum: 0, maximum: 0xffffff, expected: "an integer from 0 to 16777215" },
    remotes: {
      type: "array",
      maxItems: 64,
      items: {
        type: "string",
        pattern: VXLAN_REMOTE_PATTERN,
        expected: "a peer's IPv4 address, optionally with :port",
      },
      expected: "a list of at most 64 peer addresses (a.b.c.d or a.b.c.d:port)",
    },
    mtu: {
      type: "integer",
      minimum: VXLAN_MIN_MTU,
      maximum: VXLAN_MAX_MTU,
      default: VXLAN_DEFAULT_MTU,
      expected: `an inner MTU from ${VXLAN_MIN_MTU} to ${VXLAN_MAX_MTU}`,
    },
  },
};

const uplink = {
  type: "object",
  required: ["vxlan"],
  additionalProperties: false,
  expected: "a mapping with vxlan or tap",
  properties: { vxlan },
};

/** A bridge's packet capture: every frame the switch forwards, written to `file`. */
const capture = {
  type: "object",
  required: ["file"],
  additionalProperties: false,
  expected: "a mapping with file, and optionally format and count",
  properties: {
    file: { type: "string", minLength: 1, expected: "the path of the capture file to write" },
    format: { enum: ["pcap", "pcapng"], default: "pcap", expected: "pcap or pcapng" },
    count: { type: "integer", minimum: 1, expected: "a number of frames, at least 1" },
  },
};

const bridge = {
  type: ["object", "null"],
  additionalProperties: false,
  expected: "a mapping (may be empty: {})",
  properties: {
    uplinks: {
      type: "array",
      default: [],
      items: {
        if: { type: "object", required: ["tap"], properties: { tap: {} } },
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then/else, not a promise
        then: TAP_UPLINK_SCHEMA,
        else: uplink,
      },
      expected: "a list of uplinks",
    },
    capture,
  },
};

export const HOST_SCHEMA = {
  $schema: "http://json-schema.org/draft-07/schema#",
  type: "object",
  required: ["domains"],
  additionalProperties: false,
  expected: "a mapping with domains and bridges",
  properties: {
    domains: {
      type: "array",
      minItems: 1,
      maxItems: MAX_DOMAINS,
      items: domain,
      expected: `a list of 1 to ${MAX_DOMAINS} domains, Domain-0 first`,
    },
    bridges: {
      type: "object",
      default: {},
      maxProperties: 64,
      propertyNames: {
        pattern: BRIDGE_NAME_PATTERN,
        expected: "a switch name: vale then up to 11 letters, digits or _",
      },
      additionalProperties: bridge,
      expected: "a mapping of switch names to bridges",
    },
  },
} as const;
