/**
 * Domain-0's resources a guest's life can leave behind, from `Host.resources()`: its
 * event-channel ports, grant mappings and pins, the guests' xenstore rings and watches, VALE
 * ports and netback's devices. Every caller in the adversary goes through this one
 * function. xenstore nodes and Domain-0's timers are left out: a live guest's own writes
 * (the adversary's quota cases among them) and its vif's reconnections move them without
 * anything leaking; the guest-life test checks them once the guest is gone.
 */
import type { Host } from "../toolstack/host.js";

export interface Dom0Resources {
  /** Domain-0's live (unbound or interdomain) event-channel ports. */
  readonly channels: number;
  /** Domain-0's live grant mappings (rings, TX payloads, xenstore rings). */
  readonly mappings: number;
  /** Pins Domain-0 holds on grant entries. */
  readonly grantPins: number;
  /** Guests' xenstore rings xenstored serves. */
  readonly xenstoreRings: number;
  /** Watches registered with xenstored. */
  readonly xenstoreWatches: number;
  /** Ports attached to Domain-0's VALE switches. */
  readonly valePorts: number;
  /** Devices netback knows. */
  readonly netbackVifs: number;
}

export async function dom0Resources(host: Host): Promise<Dom0Resources> {
  const r = await host.resources();
  return {
    channels: r.dom0Ports,
    mappings: r.dom0Mappings,
    grantPins: r.grantPins,
    xenstoreRings: r.xenstoreRings,
    xenstoreWatches: r.xenstoreWatches,
    valePorts: r.valePorts,
    netbackVifs: r.netbackVifs,
  };
}

/** The names whose counts differ between two readings ("" when none). */
export function resourceDiff(a: Dom0Resources, b: Dom0Resources): string {
  const out: string[] = [];
  for (const k of Object.keys(a) as (keyof Dom0Resources)[])
    if (a[k] !== b[k]) out.push(`${k} ${a[k]} -> ${b[k]}`);
  return out.join(", ");
}
