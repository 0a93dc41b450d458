/**
 * The two-domain ring demo and benchmark: a guest transmits frames over a netif-style TX
 * ring (netif_tx_request/response, multi-page ring of order 0-4) to the driver domain,
 * which copies each frame out of the guest's granted buffers and answers. With `echo`, the
 * driver domain sends every frame back over a netif RX ring into buffers the guest posted,
 * with batched grant copies, as netback delivers to a guest. The handshake goes through the
 * machine's control messages (xenstore takes this role in the drivers).
 */
import { Counters } from "../base/counters.js";

export interface RingPairArgs {
  frameBytes: number;
  /** Frames per published index update, on both sides. */
  batch: number;
  /** Frames to send; 0 = until stopped. */
  count: number;
  /** ring-page-order: 2^order ring pages. */
  order: number;
  /** Check each frame's sequence number in the backend (and in the guest, for echoes). */
  verify: boolean;
  /** Send every frame back to the guest over the RX ring. */
  echo: boolean;
  /** Frames a handler moves before yielding to the loop. */
  budget: number;
  guestCounters: SharedArrayBuffer;
  backCounters: SharedArrayBuffer;
}

export const GUEST_COUNTERS = [
  "txFrames",
  "txBytes",
  "responses",
  "rspErrors",
  "protoErrors",
  "notifies",
  "rxFrames",
  "rxBytes",
  "rxSeqErrors",
  "rxErrors",
  /** Echoes missing between two that arrived: each must be one Domain-0 counted as dropped. */
  "rxSkipped",
] as const;
export const BACK_COUNTERS = [
  "rxFrames",
  "rxBytes",
  "seqErrors",
  "badRequests",
  "protoErrors",
  "notifies",
  "echoed",
  "echoDropped",
  "copyErrors",
  /** Domain-0's live grant mappings (gauge), and guests connected (gauge). */
  "maps",
  "conns",
] as const;
export type GuestCounter = (typeof GUEST_COUNTERS)[number];
export type BackCounter = (typeof BACK_COUNTERS)[number];

export function guestCounters(sab?: SharedArrayBuffer): Counters<GuestCounter> {
  return new Counters(GUEST_COUNTERS, sab);
}

export function backCounters(sab?: SharedArrayBuffer): Counters<BackCounter> {
  return new Counters(BACK_COUNTERS, sab);
}

/** Guest -> backend: where the ring and buffers are. */
export interface ConnectMsg {
  t: "connect";
  ringRefs: number[];
  bufRefs: number[];
  /** RX ring pages, when echoing. */
  rxRingRefs: number[];
  port: number;
}

/**
 * Guest -> backend: the guest is shutting down in order (a frontend going to Closing): the
 * backend lets go quietly, where a channel closed without it is reported as a disconnect.
 */
export interface LeavingMsg {
  t: "leaving";
}

/** Backend -> guest: ring attached, channel bound, go. */
export interface ConnectedMsg {
  t: "connected";
}

/** Backend -> guest: refused, with the reason. */
export interface RefusedMsg {
  t: "refused";
  reason: string;
}

/** Backend -> guest: the connection is over (the guest broke a ring), with the reason. */
export interface DisconnectedMsg {
  t: "disconnected";
  reason: string;
}

/** Either side -> machine. */
export interface DoneReport {
  t: "done";
  side: "guest" | "back";
}

export const BUF_SIZE = 2048;
/** Where each frame carries its sequence number (after Ethernet + IPv4 + UDP headers). */
export const SEQ_OFF = 42;
