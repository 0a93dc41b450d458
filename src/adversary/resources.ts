/**
 * Domain-0's resources a guest's life can leave behind, as the host exposes them today:
 * its live event-channel ports, its live grant mappings and the guests' xenstore rings
 * xenstored serves. Every caller in the adversary goes through this one function, so when
 * the host grows a fuller account (grant pins, watches, nodes, timers) only this changes.
 */
import type { Host } from "../toolstack/host.js";

export interface Dom0Resources {
  /** Domain-0's live (unbound or interdomain) event-channel ports. */
  readonly channels: number;
  /** Domain-0's live grant mappings (rings, TX payloads, xenstore rings), at most a status period old. */
  readonly mappings: number;
  /** Guests' xenstore rings xenstored serves. */
  readonly xenstoreRings: number;
}

export function dom0Resources(host: Host): Dom0Resources {
  const m = host.dom0Mappings();
  return { channels: host.machine.channels(0), mappings: m.live, xenstoreRings: m.xenstoreRings };
}

/** The names whose counts differ between two readings ("" when none). */
export function resourceDiff(a: Dom0Resources, b: Dom0Resources): string {
  const out: string[] = [];
  for (const k of Object.keys(a) as (keyof Dom0Resources)[])
    if (a[k] !== b[k]) out.push(`${k} ${a[k]} -> ${b[k]}`);
  return out.join(", ");
}
