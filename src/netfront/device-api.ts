/**
 * The seam between netfront's two halves: the xenbus half (netfront/xenbus.ts: reading the
 * backend's features, allocating and granting the rings, channels, writing the keys,
 * the state machine) and the datapath half (the device: TX and RX per queue, the buffer
 * grants, the NetDevice the guest stack sits on). The xenbus half owns the ring pages,
 * their grants and the channels; the device owns its buffer pages and their grants and
 * ends them in `close()`.
 */
import type { FrontRing } from "../ring/front.js";
import type { RssHasher } from "../wire/net/rss.js";

/** What both ends agreed on. */
export interface FrontFeatures {
  /** Backend and frontend both have feature-sg: frames may span slots both ways. */
  readonly sg: boolean;
  /** The backend takes GSO TX frames of this type (its feature-gso-tcpv4/6). */
  readonly gsoTcpv4: boolean;
  readonly gsoTcpv6: boolean;
  /** The backend completes csum_blank TX frames (it has no feature-no-csum-offload=1... always true on Linux). */
  readonly csumOffload: boolean;
  readonly ipv6CsumOffload: boolean;
  /**
   * We wrote request-multicast-control=1 to a backend offering feature-multicast-control:
   * it filters our multicast, so every group we join must be sent to it (mcast add/del).
   */
  readonly multicastControl?: boolean;
  /** We wrote feature-rx-notify=1 and notify when posting RX buffers; absent: true. */
  readonly rxNotify?: boolean;
  /** The xdp-headroom we wrote (the backend offers feature-xdp-headroom): data starts that far into each RX buffer. */
  readonly xdpHeadroom?: number;
  /** We wrote request-rx-copy=0 to a backend offering feature-rx-flip: RX buffers are page-transfer offers. */
  readonly rxFlip?: boolean;
  /** The backend offers feature-netmap-passthrough (pvnet's): a passthrough device may attach. */
  readonly passthrough?: boolean;
}

export interface FrontQueueRings {
  readonly backDomid: number;
  readonly queue: number;
  /** Initialised over the granted ring pages (granted and ended by the xenbus half). */
  readonly tx: FrontRing;
  readonly rx: FrontRing;
  /** Our local ports; equal when one channel serves both rings. */
  readonly txPort: number;
  readonly rxPort: number;
  readonly features: FrontFeatures;
}

/** A queue the device serves. */
export interface FrontQueue {
  /**
   * Grants and posts RX buffers (called by the xenbus half after the keys are written and
   * before it switches to Connected, as xennet_connect fills the RX ring).
   */
  start(): void;
  /** Stops, ends the buffer grants it made (returns how many it could not end yet). */
  close(): number;
  /** The grants of the queue's TX and RX buffer pools (registered as staging grants). */
  poolGrants?(): { readonly tx: Int32Array; readonly rx: Int32Array };
}

/** The backend broke the protocol: the xenbus half resets the vif (netfront's fatal path). */
export type FrontFatal = (reason: string) => void;

/** What the xenbus half needs of the device. */
export interface FrontDevice {
  attachQueue(rings: FrontQueueRings, fatal: FrontFatal): FrontQueue;
  /** All queues are connected (Connected written): carrier on, gratuitous ARP may go. */
  carrierOn(): void;
  /** Leaving Connected: carrier off, sends refused until the next carrierOn. */
  carrierOff(): void;
  /** The TX queue choice the control ring programmed (ctrl.ts); null: the device's own. */
  setSteering?(s: TxSteering | null): void;
  /** Extra frontend keys the device's queue needs (a passthrough vif's: pt-device.ts), written with the others. */
  passthroughKeys?(): [string, string][];
}

/**
 * TX steering: the hash and mapping netfront programmed into the backend, so that a flow's
 * frames leave on the queue its replies arrive on (netback steers RX by the same table).
 */
export interface TxSteering {
  readonly hasher: RssHasher;
  /** Queue per hash % size; each entry below the queue count. */
  readonly mapping: Uint32Array;
  readonly size: number;
}
