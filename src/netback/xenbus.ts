/**
 * netback's xenbus half (CONTRACT STUB: the xenbus helper fills this in).
 * Watches `/local/domain/<self>/backend/vif`, and for each device: makes its vif
 * (`openVif`, Linux's netback_probe), advertises Linux's features and
 * max-ring-page-order, walks the states one step at a time (state.ts), defers Connected
 * until hotplug-status=connected, reads the frontend's keys, maps the rings, binds the
 * channels and hands each queue to the vif; tears down on Closing/Closed/online=0.
 */
import type { Domain } from "../hv/domain.js";
import type { XsClient } from "../xenstore/client.js";
import type { XenbusState } from "../xenstore/xenbus.js";
import type { BackVif, OpenBackVif } from "./vif-api.js";

export interface NetbackOptions {
  /** Makes the vif of a new backend device; the host attaches it to its bridge (hotplug). */
  readonly openVif: OpenBackVif;
  /** Logged reasons (fatal errors, refused devices); default stderr, rate-limited. */
  readonly log?: (line: string) => void;
  /** Advertised max-ring-page-order; default 4. */
  readonly maxRingPageOrder?: number;
  /** Advertised multi-queue-max-queues; default 8. */
  readonly maxQueues?: number;
}

export interface NetbackDeviceStatus {
  readonly frontDomid: number;
  readonly devid: number;
  readonly backendDir: string;
  readonly state: XenbusState;
  readonly frontendState: XenbusState;
  readonly queues: number;
  readonly ringPageOrder: number;
  readonly splitEventChannels: boolean;
  readonly vif: BackVif | null;
  /** The last fatal reason, if the device was disconnected for one. */
  readonly error: string | undefined;
}

export class NetbackDriver {
  static async start(_dom: Domain, _xs: XsClient, _opts: NetbackOptions): Promise<NetbackDriver> {
    throw new Error("netback xenbus: not implemented yet");
  }

  devices(): NetbackDeviceStatus[] {
    return [];
  }

  /** Closes every device (Closing, then Closed) and releases every mapping and channel. */
  async stop(): Promise<void> {}
}
