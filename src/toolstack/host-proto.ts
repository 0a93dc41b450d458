/**
 * What the host (main thread) and its domains' programs share: the programs' arguments, the
 * layout of the live status words each vif has in shared memory, and the reports the
 * programs send. Status is read by the main thread straight from SharedArrayBuffers the host
 * made, so the live view costs no messages; only ping results and events travel as reports.
 */

import { VIF_QUEUE_COUNTERS } from "../netback/counters.js";
import type { Dom0Uplink } from "../uplink/dom0-uplinks.js";
import type { Dom0Tap } from "../uplink/status.js";
import type { VifConfig } from "./config-types.js";

/** Most queues a vif may have (the schema's bound): the counter area holds this many. */
export const MAX_VIF_QUEUES = 8;

/** Int32 words of a vif's status area, written by Domain-0. */
export const VS_BACKEND_STATE = 0;
export const VS_FRONTEND_STATE = 1;
export const VS_QUEUES = 2;
export const VS_RING_ORDER = 3;
export const VS_SPLIT = 4;
/** 1 once the hotplug step wrote hotplug-status=connected; -1 when it failed. */
export const VS_HOTPLUG = 5;
/** 1 when netback disconnected the vif for a fatal reason. */
export const VS_FATAL = 6;
/** Domain-0's live grant mappings of this vif's guest (all its vifs), for leak checks. */
export const VS_GNT_MAPS = 7;
export const VS_WORDS = 8;

/** A vif's shared areas: its status words and its netback counters, one row per queue. */
export interface VifShared {
  readonly status: SharedArrayBuffer;
  readonly counters: SharedArrayBuffer;
}

export function vifShared(): VifShared {
  return {
    status: new SharedArrayBuffer(VS_WORDS * 4),
    counters: new SharedArrayBuffer(MAX_VIF_QUEUES * VIF_QUEUE_COUNTERS.length * 8),
  };
}

/** The counters of queue `q` in a vif's counter area. */
export function queueRow(counters: SharedArrayBuffer, q: number): Float64Array {
  const n = VIF_QUEUE_COUNTERS.length;
  return new Float64Array(counters, q * n * 8, n);
}

export interface HostVif {
  readonly domid: number;
  readonly vif: VifConfig;
  readonly shared: VifShared;
}

/** A bridge's capture as Domain-0 runs it: the file is absolute. */
export interface Dom0Capture {
  readonly bridge: string;
  readonly file: string;
  readonly format: "pcap" | "pcapng";
  readonly count: number | undefined;
}

export interface Dom0Args {
  readonly bridges: readonly string[];
  /** The bridges' captures (HostConfig bridges[].capture); none when absent. */
  readonly captures?: readonly Dom0Capture[];
  /** The bridges' VXLAN uplinks (HostConfig bridges[].uplinks); none when absent. */
  readonly uplinks?: readonly Dom0Uplink[];
  /** Tap devices on the bridges (config-tap.ts); fd null: the launcher's, from PVNET_TAP_FDS. */
  readonly taps?: readonly Dom0Tap[];
  /** Per bridge, shared memory for its switch's soft-offload counters (vale/soft-offload.ts). */
  readonly offloadCounters?: Readonly<Record<string, SharedArrayBuffer>>;
  /** Unix socket for xenstore-utils; null: none. */
  readonly socketPath: string | null;
  /** --xenstore-trace file; null: none. */
  readonly tracePath: string | null;
  readonly vifs: readonly HostVif[];
  /** How often the counters are copied into the shared areas, ms. */
  readonly statusMs: number;
  /** xenstored's totals (Float64: XS_* below) and Domain-0's live mappings, copied with the counters. */
  readonly xsStats: SharedArrayBuffer;
  /** HostOptions.hotplug: a module whose default export runs for each vif instead of the bridge step; null: none. */
  readonly hotplug?: string | null;
  /** HostOptions.xsChanges: report each xenstore change (web/xs-changes.ts). */
  readonly xsChanges?: boolean;
  /** Where Domain-0 answers netmapd's protocol for the bridges (dom0-netmapd.ts); null: nowhere. */
  readonly netmapdPath?: string | null;
}

/** Float64 words of Dom0Args.xsStats: requests served, errors returned, watch events, connections. */
export const XS_REQUESTS = 0;
export const XS_ERRORS = 1;
export const XS_WATCH_EVENTS = 2;
export const XS_CONNECTIONS = 3;
/** Domain-0's live grant mappings in all (GrantOps.liveMappings), last written after netback stopped. */
export const D0_LIVE_MAPPINGS = 4;
/**
 * Guests' xenstore rings xenstored still serves, one mapping each: guests that stop (rather
 * than being destroyed) keep theirs until Domain-0 exits, as nothing tells xenstored.
 */
export const D0_XS_RINGS = 5;
export const XS_WORDS = 6;

export interface PingPlan {
  /** Rounds; 0: until shutdown. */
  readonly count: number;
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

export interface GuestVif {
  readonly vif: VifConfig;
  /** Addresses on the same bridge, in other guests: pinged and UDP-echoed each round. */
  readonly peers: readonly { readonly address: string; readonly value: number }[];
  /** The guest stack's counters (stack/counters.ts), read live by the host. */
  readonly stackCounters: SharedArrayBuffer;
}

export interface GuestArgs {
  readonly vifs: readonly GuestVif[];
  readonly ping: PingPlan;
  /** What HostOptions.guestExtra gave this guest (a benchmark's role); null by default. */
  readonly extra: unknown;
}

/**
 * Toolstack message from the host to Domain-0: write the name and vifs of a guest just
 * created. `vifs` carries the vifs of a guest added after boot (Dom0Args.vifs has the rest).
 */
export const MSG_ADD_VIFS = "host-add-vifs";

/**
 * Toolstack message from the host to Domain-0: restart the driver domain's netback (tear
 * every vif down as a dying driver domain's, then a fresh netback and fresh backend dirs).
 */
export const MSG_RESTART_BACKEND = "host-restart-backend";
/**
 * Toolstack message from the host to a guest: ping `ip` (u32) once from the stack of the vif
 * whose subnet holds it (else the first with a stack), answered by a "ping-result" report.
 */
export const MSG_PING = "host-ping";
/** Toolstack message from the host to Domain-0: count your resources (answered by a "resources" report). */
export const MSG_RESOURCES = "host-resources";

/**
 * What a guest's life can create in Domain-0, counted there on request (Host.resources()):
 * after a guest is gone, every count is back where it was before the guest came.
 */
export interface Dom0Resources {
  /** Domain-0's live event-channel ports (unbound or interdomain), from its own port table. */
  dom0Ports: number;
  /** Domain-0's live grant mappings (vif rings, TX payloads, xenstore rings). */
  dom0Mappings: number;
  /** Pins Domain-0 holds on grant entries (mappings and copies in flight). */
  grantPins: number;
  /** Guests' xenstore rings xenstored serves. */
  xenstoreRings: number;
  xenstoreWatches: number;
  xenstoreNodes: number;
  /** Open xenstored connections (rings, sockets, Domain-0's own clients). */
  xenstoreConnections: number;
  /** Domains xenstored holds introduced (Domain-0 included). */
  xenstoreDomains: number;
  /** Ports attached to Domain-0's VALE switches. */
  valePorts: number;
  /** Timers armed in Domain-0 (its status tick included). */
  dom0Timers: number;
  /** Devices netback knows (any state). */
  netbackVifs: number;
  /** Guests' staging grants netback keeps mapped (counted in dom0Mappings too). */
  stagedGrants: number;
  /** Vifs whose status Domain-0 keeps for the host. */
  statusVifs: number;
  /** Event links Domain-0 holds (one per live guest). */
  evtchnLinks: number;
}

/** One echo a guest sent for the host (Host.ping): its reply, or why there was none. */
export interface GuestPingResult {
  /** The address the echo left from; null: no vif with a stack. */
  from: string | null;
  ok: boolean;
  seq?: number;
  rttMs?: number;
  ttl?: number;
  dataLen?: number;
  reason?: string;
}

/** Reports (Domain.report) the programs send to the host. */
export type HostReport =
  | { t: "vifs-added"; domid: number; error?: string }
  | {
      t: "backend-restarted";
      /** Backend directories written again. */
      devices: number;
      /** From the message to the old netback gone (teardown) and to the new dirs written. */
      downMs: number;
      totalMs: number;
      error?: string;
    }
  | { t: "resources"; id: number; counts: Dom0Resources }
  | { t: "log"; line: string }
  /** Where Domain-0 serves the bridges to netmap's tools (null: it does not; `note` says why). */
  | { t: "netmapd"; path: string | null; note: string | null }
  | ({ t: "ping-result"; id: number } & GuestPingResult)
  | { t: "probe"; devid: number; ok: boolean; error?: string }
  | {
      t: "ping";
      devid: number;
      to: string;
      kind: "icmp" | "udp";
      seq: number;
      ok: boolean;
      rttMs?: number;
      reason?: string;
    };
