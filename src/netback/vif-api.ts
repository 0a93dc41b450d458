/**
 * The seam between netback's two halves: the xenbus half (netback/xenbus.ts: the device
 * state machine, features, hotplug, mapping rings and binding channels) and the datapath
 * half (the vif: a netmap adapter on a VALE switch, with its queues' TX and RX). The
 * xenbus half owns ring mappings and channels and hands them, per queue, to the vif; the
 * vif owns everything it allocates for a queue (pending mappings, queued frames) and
 * releases it in `close()`.
 */
import type { Counters } from "../base/counters.js";
import type { BackRing } from "../ring/back.js";
import type { VifQueueCounter } from "./counters.js";
import type { Rate } from "./credit.js";
import type { VifCtrl } from "./ctrl.js";
import type { PtKeys } from "./pt-keys.js";

/** What the frontend asked for, read from its xenstore dir when it connected. */
export interface BackFeatures {
  /** feature-sg: the frontend takes multi-slot RX frames (and may send them). */
  readonly sg: boolean;
  /** feature-gso-tcpv4 / -tcpv6: the frontend takes GSO frames on RX (with an extra slot). */
  readonly gsoTcpv4: boolean;
  readonly gsoTcpv6: boolean;
  /** No feature-no-csum-offload=1: RX frames may go to the guest with NETRXF_csum_blank. */
  readonly csumOffload: boolean;
  /** feature-ipv6-csum-offload. */
  readonly ipv6CsumOffload: boolean;
  /** feature-rx-notify: the frontend notifies when it posts RX buffers; without it netback polls. */
  readonly rxNotify: boolean;
  /** request-multicast-control at connect: RX multicast is filtered by the vif's list; absent: false. */
  readonly multicastControl?: boolean;
  /** xdp-headroom (Linux): bytes left before the frame in every RX buffer; 0 when absent. */
  readonly xdpHeadroom?: number;
  /** request-rx-copy=0: RX requests name accept-transfer entries and pages are flipped (rx-flip.ts). */
  readonly rxFlip?: boolean;
}

/** One connected queue, as the xenbus half hands it to the vif. */
export interface BackQueueRings {
  readonly frontDomid: number;
  readonly devid: number;
  readonly queue: number;
  /** Attached over the mapped TX and RX ring pages (mapped and unmapped by the xenbus half). */
  readonly tx: BackRing;
  readonly rx: BackRing;
  /** Domain-0's bound local ports; equal when the frontend uses one channel for both. */
  readonly txPort: number;
  readonly rxPort: number;
  readonly features: BackFeatures;
  /** The vif's control ring state (hash steering, staging grants), when the frontend has one. */
  readonly ctrl?: VifCtrl | null;
  /** A passthrough vif's area (pt-vif.ts), read from the frontend's keys when the vif is one. */
  readonly passthrough?: PtKeys;
}

/** A queue the vif serves; `close` stops it and releases what it holds (never the rings). */
export interface BackQueue {
  close(): void;
}

/**
 * Called by the datapath when a frontend breaks the protocol in a way Linux calls fatal
 * (xenvif_fatal_tx_err): the xenbus half disconnects that vif alone, with `reason` logged.
 */
export type VifFatal = (reason: string) => void;

/** A backend vif (Linux's vifD.N netdev): created at probe, before the frontend connects. */
export interface BackVif {
  /** `vif<frontDomid>.<devid>`, as Linux names the netdev. */
  readonly name: string;
  /**
   * A netmap passthrough vif (pt-vif.ts): the backend advertises feature-netmap-passthrough
   * and reads the frontend's passthrough keys at connect.
   */
  readonly passthrough?: boolean;
  /** Starts serving a queue; called once per queue when the frontend connects. */
  attachQueue(rings: BackQueueRings, fatal: VifFatal): BackQueue;
  /** Per-queue counters (index = queue), readable from another thread. */
  queueCounters(): readonly Counters<VifQueueCounter>[];
  /** The device is going away (backend removed): detach from the switch, free everything. */
  close(): void;
  /**
   * The frontend changed request-multicast-control while connected
   * (feature-dynamic-multicast-control): filter RX multicast by its list, or not.
   */
  setMulticastControl?(on: boolean): void;
  /** The backend's `rate` key changed (credit.ts): limits the guest's transmissions from now on. */
  setRate?(rate: Rate): void;
  /** The frontend changed xdp-headroom (Reconfiguring): RX leaves this many bytes from now on. */
  setXdpHeadroom?(headroom: number): void;
}

export interface BackVifInfo {
  readonly frontDomid: number;
  readonly devid: number;
  /** The backend's `mac` key (the guest's MAC), "" when absent. */
  readonly mac: string;
  readonly backendDir: string;
}

/** Makes the vif for a backend device (netback_probe's netdev); the host supplies it. */
export type OpenBackVif = (info: BackVifInfo) => BackVif;
