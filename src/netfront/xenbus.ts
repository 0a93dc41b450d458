/**
 * netfront's xenbus half (CONTRACT STUB: the xenbus helper fills this in).
 * Reads the backend's features, allocates rings of 2^order pages when both ends agree,
 * grants them, binds one or split channels per queue, writes its keys in one transaction
 * and goes straight to Connected, as Linux's netfront; follows the backend to Closing and
 * Closed, releasing everything.
 */
import type { Domain } from "../hv/domain.js";
import type { XsClient } from "../xenstore/client.js";
import type { XenbusState } from "../xenstore/xenbus.js";
import type { FrontDevice } from "./device-api.js";

export interface NetfrontOptions {
  /** Makes the device once the frontend dir's `mac` and `mtu` are read. */
  readonly makeDevice: (info: { readonly mac: string; readonly mtu: number }) => FrontDevice;
  /** Queues wanted (capped by the backend's multi-queue-max-queues); default 1. */
  readonly queues?: number;
  /** Ring page order wanted (capped by the backend's max-ring-page-order); default 0. */
  readonly ringPageOrder?: number;
  /** Use split channels when the backend offers them; default true. */
  readonly splitEventChannels?: boolean;
  /** Our feature-* keys; defaults: sg, gso-tcpv4, gso-tcpv6, ipv6-csum-offload, rx-notify on, csum offload on. */
  readonly features?: Partial<{
    sg: boolean;
    gsoTcpv4: boolean;
    gsoTcpv6: boolean;
    csumOffload: boolean;
    ipv6CsumOffload: boolean;
  }>;
  readonly log?: (line: string) => void;
}

export interface NetfrontStatus {
  readonly devid: number;
  readonly frontendDir: string;
  readonly backendDir: string;
  readonly state: XenbusState;
  readonly backendState: XenbusState;
  readonly queues: number;
  readonly ringPageOrder: number;
  readonly splitEventChannels: boolean;
  readonly error: string | undefined;
}

export class NetfrontDriver {
  /** Probes `device/vif/<devid>` and connects; resolves once Connected is written. */
  static async probe(
    _dom: Domain,
    _xs: XsClient,
    _devid: number,
    _opts: NetfrontOptions,
  ): Promise<NetfrontDriver> {
    throw new Error("netfront xenbus: not implemented yet");
  }

  status(): NetfrontStatus {
    throw new Error("netfront xenbus: not implemented yet");
  }

  /** Closes (Closing, wait for the backend, Closed) and releases every grant and channel. */
  async close(): Promise<void> {}
}
