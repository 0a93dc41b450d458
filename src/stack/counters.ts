/**
 * The stack's counters: one base/counters.ts slot each, so the block can live in shared
 * memory and another thread can read it. Hot code bumps `f64[SC.name]`; every frame the
 * stack refuses or gives up on lands in exactly one `rxDrop…`/`txDrop…` slot.
 */
import { Counters } from "../base/counters.js";

export const STACK_COUNTER_NAMES = [
  "rxFrames",
  "rxBytes",
  "txFrames",
  "txBytes",
  /** Shorter than its headers claim, bad version/IHL/lengths, martian source, oversize. */
  "rxDropMalformed",
  "rxDropBadChecksum",
  "rxDropFragment",
  /** Another host's unicast MAC or IPv4 address, or a multicast group we are not in. */
  "rxDropNotForUs",
  /** TTL 0 on arrival (RFC 791: a datagram whose TTL is zero must be destroyed). */
  "rxDropTtl",
  /** EtherType, ARP hardware/protocol, IPv4 protocol or ICMP type we do not handle. */
  "rxDropUnknownProto",
  /** UDP to a port nobody bound (no ICMP port unreachable is sent). */
  "rxDropNoPort",
  /** ARP gave up on the destination after its retries; its pending frames go here. */
  "txDropNoArp",
  /** The destination's pending-resolution queue (or the shared pool) was full. */
  "txDropArpQueueFull",
  /** The device ring was full and so was the stack's bounded transmit queue. */
  "txDropQueueFull",
  /** Received while the stack was down. */
  "rxDropDown",
  /** Queued or pending when the stack went down. */
  "txDropDown",
  /** Frames waiting in the transmit queue right now (a gauge, not a count). */
  "txQueued",
  "arpRequestsSent",
  "arpRepliesSent",
  "arpRequestsReceived",
  "arpRepliesReceived",
  /** Another MAC claims our IPv4 address. */
  "arpConflicts",
  /** Echo requests answered. */
  "icmpEchoRequests",
  "icmpEchoReplies",
  /** Echo replies matching no outstanding ping (late, duplicate, or someone else's). */
  "icmpEchoRepliesUnmatched",
  "pingTimeouts",
  "udpDatagramsReceived",
  "udpDatagramsSent",
] as const;

export type StackCounterName = (typeof STACK_COUNTER_NAMES)[number];

/** Slot index per counter name, for `counters.f64[SC.rxFrames]++`. */
export const SC = Object.freeze(
  Object.fromEntries(STACK_COUNTER_NAMES.map((n, i) => [n, i])) as Record<StackCounterName, number>,
);

export function stackCounters(buffer?: SharedArrayBuffer): Counters<StackCounterName> {
  return new Counters(STACK_COUNTER_NAMES, buffer);
}
