/**
 * The messages behind the operator's commands that change a running host's devices or
 * drive a guest's stack: hot-plugging vifs (`network-attach`, `network-detach`), the UDP
 * echo (`udp-echo`), and the vif hotplug script Domain-0 asks the main thread to run (a
 * worker thread cannot fork safely). Everything here crosses threads, so every receiver
 * checks each field before use: `check*` below return null for anything malformed.
 */
import type { GuestVif, HostVif } from "./host-proto.js";

/** Host to Domain-0: add one vif to a running guest (libxl's device add for one nic). */
export const MSG_ATTACH_VIF = "ops-attach-vif";
/** Host to Domain-0: take one vif away (libxl's device removal). */
export const MSG_DETACH_VIF = "ops-detach-vif";
/** Host to a guest: a vif is coming: its configuration, so the guest's xenbus probe knows it. */
export const MSG_GUEST_VIF = "ops-guest-vif";
/** Host to a guest: a UDP echo server on a port, or one datagram out and its echo back. */
export const MSG_UDP = "ops-udp";
/** Host to Domain-0: the hotplug script's outcome. */
export const MSG_HOTPLUG_DONE = "ops-hotplug-done";

/** How long Domain-0 waits for a hotplug script (libxl's LIBXL_HOTPLUG_TIMEOUT is 40 s). */
export const HOTPLUG_SCRIPT_MS = 40_000;

export interface AttachVifMsg {
  readonly t: typeof MSG_ATTACH_VIF;
  readonly id: number;
  readonly vif: HostVif;
}

export interface DetachVifMsg {
  readonly t: typeof MSG_DETACH_VIF;
  readonly id: number;
  readonly domid: number;
  readonly devid: number;
}

export interface GuestVifMsg {
  readonly t: typeof MSG_GUEST_VIF;
  readonly vif: GuestVif;
}

export type UdpMsg =
  | { readonly t: typeof MSG_UDP; readonly id: number; readonly op: "listen"; readonly port: number }
  | {
      readonly t: typeof MSG_UDP;
      readonly id: number;
      readonly op: "send";
      /** u32 address. */
      readonly ip: number;
      readonly port: number;
      readonly size: number;
      readonly timeoutMs: number;
    };

export interface HotplugDoneMsg {
  readonly t: typeof MSG_HOTPLUG_DONE;
  readonly id: number;
  /** The script's exit status; -1: it could not run, or was killed. */
  readonly code: number;
  /** Its stderr's last non-empty line (or why it did not run); "" when none. */
  readonly message: string;
}

/** Reports (Domain.report) behind the commands. */
export type OpsReport =
  | { t: "vif-attached"; id: number; error?: string }
  | { t: "vif-detached"; id: number; closed: boolean; error?: string }
  /** A guest let go of a vif whose device went (`id` is its devid): its stack lost the interface. */
  | { t: "vif-gone"; id: number }
  | {
      t: "udp-result";
      id: number;
      ok: boolean;
      /** The address the datagram left from (send), or the addresses listening (listen). */
      from: string | null;
      rttMs?: number;
      bytes?: number;
      reason?: string;
    }
  | {
      t: "hotplug-run";
      id: number;
      script: string;
      action: "online" | "offline";
      /** Xen's vif hotplug environment: script, XENBUS_PATH, XENBUS_TYPE, vif, ... */
      env: Record<string, string>;
    };

const isInt = (v: unknown, lo: number, hi: number): v is number =>
  typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi;

/** A report from a domain, if it is one of ours and well formed. */
export function checkOpsReport(data: unknown): OpsReport | null {
  if (typeof data !== "object" || data === null) return null;
  const r = data as Record<string, unknown>;
  if (!isInt(r.id, 0, Number.MAX_SAFE_INTEGER)) return null;
  const error = typeof r.error === "string" ? r.error.slice(0, 1024) : undefined;
  switch (r.t) {
    case "vif-attached":
      return { t: r.t, id: r.id, error };
    case "vif-detached":
      return { t: r.t, id: r.id, closed: r.closed === true, error };
    case "vif-gone":
      return { t: r.t, id: r.id };
    case "udp-result":
      return {
        t: r.t,
        id: r.id,
        ok: r.ok === true,
        from: typeof r.from === "string" ? r.from.slice(0, 256) : null,
        rttMs: typeof r.rttMs === "number" && Number.isFinite(r.rttMs) ? r.rttMs : undefined,
        bytes: isInt(r.bytes, 0, 65535) ? r.bytes : undefined,
        reason: typeof r.reason === "string" ? r.reason.slice(0, 256) : undefined,
      };
    case "hotplug-run": {
      if (typeof r.script !== "string" || (r.action !== "online" && r.action !== "offline")) return null;
      if (typeof r.env !== "object" || r.env === null) return null;
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(r.env as Record<string, unknown>))
        if (typeof v === "string" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) env[k] = v;
      return { t: r.t, id: r.id, script: r.script, action: r.action, env };
    }
    default:
      return null;
  }
}
