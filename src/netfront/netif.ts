/**
 * A guest's network interface as a library user sees it, about as small as MirageOS's
 * netif signature: connect a vif, `write` frames, `listen` for frames, its MAC and MTU,
 * statistics, `disconnect`. Underneath are netfront's two halves (NetfrontDriver, the
 * xenbus half; NetfrontDevice, the datapath), as pvnet's own guests use them.
 *
 * A Netif is also a stack's device (`NetDevice`): `new NetStack(netif, { ip })` from
 * `pvnet/stack` puts pvnet's IP stack on it.
 */
import { PvnetError } from "../base/errors.js";
import type { Domain } from "../hv/domain.js";
import type { NetDevice } from "../stack/device.js";
import type { Mem } from "../wire/mem.js";
import type { XsClient } from "../xenstore/client.js";
import { connectXenstore } from "../xenstore/domain-xenstored.js";
import { KEY_STATE, vifFrontendPath } from "../xenstore/keys.js";
import { waitForState, XenbusState } from "../xenstore/xenbus.js";
import { NETFRONT_QUEUE_COUNTERS, type NetfrontQueueCounter } from "./counters.js";
import { NetfrontDevice } from "./device.js";
import { NetfrontDriver, type NetfrontOptions, type NetfrontStatus } from "./xenbus.js";

export interface NetifOptions {
  /** The device index under the guest's `device/vif/`; default 0. */
  readonly devid?: number;
  /**
   * The guest's xenstore client; default: one of its own over the guest's ring page
   * (closed by `disconnect`).
   */
  readonly xs?: XsClient;
  /** Queues wanted (capped by the backend); default 1. */
  readonly queues?: number;
  /** Ring page order wanted, 0-4 (capped by the backend); default 0. */
  readonly ringPageOrder?: number;
  /** Split event channels when the backend offers them; default true. */
  readonly splitEventChannels?: boolean;
  /** Stage the buffer pools over the control ring (no grant operation per frame); default false. */
  readonly stagingGrants?: boolean;
  /** The feature-* keys netfront writes; every one defaults to on. */
  readonly features?: NetfrontOptions["features"];
  /**
   * How long to wait for the toolstack to create the device (its frontend `state`), ms;
   * default 10000. A guest's devices are written after its program started, as on Xen.
   */
  readonly waitMs?: number;
  /** Where protocol violations and handshake failures are logged; default stderr. */
  readonly log?: (line: string) => void;
}

/**
 * Called for each received Ethernet frame, at `frame[off..off+len)` with netif.h's
 * NETRXF_* `flags`. The bytes are valid only during the call: copy what you keep.
 */
export type FrameListener = (frame: Uint8Array, off: number, len: number, flags: number) => void;

/** netfront's counters summed over queues, in the guest's view (`tx_*`: what it sent). */
export type NetifStats = Record<NetfrontQueueCounter, number>;

const ignore: FrameListener = () => {};

export class Netif implements NetDevice {
  /** The device index (`device/vif/<devid>`). */
  readonly devid: number;
  /** The MAC as xenstore's `mac` key gives it: "00:16:3e:xx:xx:xx". */
  readonly macAddress: string;
  readonly #driver: NetfrontDriver;
  readonly #dev: NetfrontDevice;
  readonly #xs: XsClient | null;
  readonly #listener: { fn: FrameListener };
  /** Set when disconnect closes the client this Netif opened. */
  readonly #xsClosed: { closed: boolean };
  #down: Promise<void> | null = null;

  private constructor(
    devid: number,
    mac: string,
    driver: NetfrontDriver,
    dev: NetfrontDevice,
    ownXs: XsClient | null,
    listener: { fn: FrameListener },
    xsClosed: { closed: boolean },
  ) {
    this.devid = devid;
    this.macAddress = mac;
    this.#driver = driver;
    this.#dev = dev;
    this.#xs = ownXs;
    this.#listener = listener;
    this.#xsClosed = xsClosed;
  }

  /**
   * Connects `device/vif/<devid>` of the calling guest: waits for the toolstack to create
   * it, reads its backend, walks the xenbus handshake and resolves once the vif is
   * Connected; rejects with a PvnetError when the device does not appear in time, is
   * malformed, or the backend fails the handshake. Call it from a domain program without
   * awaiting it in `main`: the host writes a guest's devices once `main` has returned.
   */
  static async connect(dom: Domain, opts: NetifOptions = {}): Promise<Netif> {
    const devid = opts.devid ?? 0;
    const own = opts.xs === undefined ? await connectXenstore(dom) : null;
    const xs = opts.xs ?? own!;
    // Frames may arrive between Connected and the caller's listen(): they go to whatever
    // listener is current, through this one indirection.
    const listener = { fn: ignore };
    const sink = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    const xsClosed = { closed: false };
    let dev: NetfrontDevice | null = null;
    let mac = "";
    try {
      await waitForState(
        xs,
        `${vifFrontendPath(dom.domid, devid)}/${KEY_STATE}`,
        (st) => st !== XenbusState.Unknown,
        {
          timeoutMs: opts.waitMs ?? 10_000,
        },
      );
      const driver = await NetfrontDriver.probe(dom, xs, devid, {
        queues: opts.queues,
        ringPageOrder: opts.ringPageOrder,
        splitEventChannels: opts.splitEventChannels,
        stagingGrants: opts.stagingGrants,
        features: opts.features,
        log: (line) => {
          // A reaction still in flight when disconnect closed our own client fails on it;
          // that failure is ours, not the vif's, and not worth a line.
          if (!xsClosed.closed) sink(line);
        },
        makeDevice: (info) => {
          mac = info.mac;
          dev = new NetfrontDevice(dom, info, opts.log === undefined ? {} : { log: opts.log });
          dev.onReceive((frame, off, len, flags) => listener.fn(frame, off, len, flags));
          return dev;
        },
      });
      if (dev === null) throw new PvnetError("EBUG", "netfront connected without making its device");
      return new Netif(devid, mac, driver, dev, own, listener, xsClosed);
    } catch (e) {
      own?.close();
      throw e;
    }
  }

  /** The MAC as a 48-bit number, first octet most significant (what a stack needs). */
  get mac(): number {
    return this.#dev.mac;
  }

  /** Largest IPv4 packet (the Ethernet payload), from the vif's `mtu` key; 1500 by default. */
  get mtu(): number {
    return this.#dev.mtu;
  }

  /** The backend completes blank checksums (it did not ask for feature-no-csum-offload). */
  get offloadsChecksum(): boolean {
    return this.#dev.offloadsChecksum;
  }

  /** Connected and carrying frames. */
  get carrier(): boolean {
    return this.#dev.carrier;
  }

  /**
   * Sends the Ethernet frame `frame[0..len)` (no FCS). The bytes are copied before this
   * returns. False, taking nothing, when the ring or the buffer pool is full or the vif is
   * not connected: wait for `onWritable`. `txBuffer` builds a frame in place instead.
   */
  write(frame: Uint8Array, len = frame.length): boolean {
    return this.#dev.transmit(frame, len, 0);
  }

  /** `write` with netif.h's NETTXF_* flags (checksum offload); what a stack calls. */
  transmit(frame: Uint8Array, len: number, flags: number): boolean {
    return this.#dev.transmit(frame, len, flags);
  }

  /**
   * The guest memory lent TX buffers live in: `txBuffer` returns offsets into its views
   * (`u8`, `dv`, ...), made once for the domain's life.
   */
  get txMem(): Mem {
    return this.#dev.txMem;
  }

  /**
   * Zero-copy send, step 1: lends a TX buffer (a granted pool page, or a 256-byte piece of
   * one when `maxLen` is at most 256; staged with `stagingGrants`) to build a frame of at
   * most `maxLen` bytes in place, returning its byte offset in `txMem`; -1 when there is
   * none (not connected, ring or pool full: wait for `onWritable`; `maxLen` above 4096).
   * Write the frame at `txMem.u8[at..]`, then `txCommit` or `txAbort` before returning to
   * the event loop (a disconnect takes the buffer back). Asking again before that returns
   * the same buffer, or, for a larger `maxLen` than it holds, a page with what was written
   * (use the offset returned); a commit longer than the buffer lent is dropped and counted
   * in tx_dropped. The backend can read the buffer at any time: put only frame bytes in
   * it. Nothing is allocated per call.
   */
  txBuffer(maxLen: number): number {
    return this.#dev.txBuffer(maxLen);
  }

  /**
   * Zero-copy send, step 2: queues the `len`-byte frame written in the lent buffer, with
   * its checksum `flags` (NETTXF_csum_blank, NETTXF_data_validated; other bits are ignored). Frames committed in one turn of the event loop go to the backend as one
   * batch (one push, at most one notification) after it, or at `flush`. False when nothing
   * was sent: nothing lent, the vif went down, or (several queues) the frame's queue is full;
   * in the last case the buffer stays lent: commit again after `onWritable`, or `txAbort`.
   */
  txCommit(len: number, flags = 0): boolean {
    return this.#dev.txCommit(len, flags);
  }

  /** Takes the lent TX buffer back unsent. */
  txAbort(): void {
    this.#dev.txAbort();
  }

  /** Pushes the frames queued so far to the backend now rather than after this turn of the loop. */
  flush(): void {
    this.#dev.flush();
  }

  /** Sets the one receiver of incoming frames (replacing the previous one). */
  listen(fn: FrameListener): void {
    this.#listener.fn = fn;
  }

  /** The stack joined a group (its MAC): passed to netfront's multicast control. */
  joinMulticast(mac: number): void {
    this.#dev.joinMulticast(mac);
  }

  leaveMulticast(mac: number): void {
    this.#dev.leaveMulticast(mac);
  }

  /** Called once room is back after a refused `write` (never from inside `write`). */
  onWritable(fn: () => void): void {
    this.#dev.onWritable(fn);
  }

  /** Counters summed over queues (read from shared memory; allocates one record). */
  stats(): NetifStats {
    const out = {} as NetifStats;
    for (const name of NETFRONT_QUEUE_COUNTERS) out[name] = 0;
    for (let q = 0; q < this.#dev.queueCount; q++) {
      const c = this.#dev.counters(q);
      if (c === undefined) continue;
      NETFRONT_QUEUE_COUNTERS.forEach((name, i) => {
        out[name] += c.f64[i]!;
      });
    }
    return out;
  }

  /** The xenbus view: both ends' states, queues, ring order, channels, the last error. */
  status(): NetfrontStatus {
    return this.#driver.status();
  }

  /**
   * Closes the vif as Linux's netfront does (Closing, wait for the backend, Closed) and
   * releases its rings, grants and channels; a second call waits for the first.
   */
  disconnect(): Promise<void> {
    this.#down ??= this.#driver.close().finally(() => {
      if (this.#xs === null) return;
      this.#xsClosed.closed = true;
      this.#xs.close();
    });
    return this.#down;
  }
}
