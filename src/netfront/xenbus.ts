/**
 * netfront's xenbus half. Reads the backend's features, allocates rings of 2^order pages
 * when both ends agree, grants them, binds one or split channels per queue, writes its keys
 * in one transaction and goes straight to Connected, as Linux's netfront; follows the
 * backend to Closing and Closed, releasing everything.
 *
 * The backend is not trusted either: its feature keys are parsed as decimals and bounded
 * (order <= 4, queues <= 8) before use. A protocol violation the datapath reports resets
 * the vif: everything is released and the handshake starts again from Initialising, which
 * walks a Linux backend through Closing and Closed back to InitWait.
 *
 * A backend that goes away once connected (its directory removed, Closing or Closed, or
 * its end of a channel closed: the driver domain died or was restarted) is not the end of
 * the vif: everything is released (TX in flight dropped and counted, RX buffers and ring
 * grants reclaimed), the device keeps its stack, MAC and addresses with the carrier off,
 * and the frontend goes back to Initialising to wait for a backend to reach InitWait again;
 * then it re-reads the features and reconnects. A probe still waiting fails instead.
 *
 * All reactions run one at a time on one chain; nothing thrown escapes a watch handler.
 */
import { PvnetError } from "../base/errors.js";
import { RateLog } from "../base/ratelog.js";
import type { Domain } from "../hv/domain.js";
import { PAGE_SIZE } from "../hv/memory.js";
import { FEATURE_NETMAP_PASSTHROUGH } from "../netmap/pt-layout.js";
import { MAX_RING_PAGE_ORDER, RingArea } from "../ring/area.js";
import { FrontRing } from "../ring/front.js";
import { NETIF_RX_ENTRY_SIZE, NETIF_TX_ENTRY_SIZE } from "../wire/xen/netif.js";
import type { XsClient, XsOps, XsWatch } from "../xenstore/client.js";
import { DevError, writeDevError } from "../xenstore/dev-error.js";
import {
  FEATURE_CTRL_RING,
  FEATURE_GSO_TCPV4,
  FEATURE_GSO_TCPV6,
  FEATURE_IPV6_CSUM_OFFLOAD,
  FEATURE_MULTICAST_CONTROL,
  FEATURE_NO_CSUM_OFFLOAD,
  FEATURE_RX_COPY,
  FEATURE_RX_FLIP,
  FEATURE_RX_NOTIFY,
  FEATURE_SG,
  FEATURE_SPLIT_EVENT_CHANNELS,
  FEATURE_XDP_HEADROOM,
  KEY_BACKEND,
  KEY_BACKEND_ID,
  KEY_CTRL_RING_REF,
  KEY_EVENT_CHANNEL,
  KEY_EVENT_CHANNEL_CTRL,
  KEY_EVENT_CHANNEL_RX,
  KEY_EVENT_CHANNEL_TX,
  KEY_MAC,
  KEY_MTU,
  KEY_MULTI_QUEUE_MAX_QUEUES,
  KEY_MULTI_QUEUE_NUM_QUEUES,
  KEY_ONLINE,
  KEY_REQUEST_MULTICAST_CONTROL,
  KEY_REQUEST_RX_COPY,
  KEY_RX_RING_REF,
  KEY_STATE,
  KEY_TRUSTED,
  KEY_TX_RING_REF,
  KEY_XDP_HEADROOM,
  queuePath,
  vifBackendPath,
  vifFrontendPath,
} from "../xenstore/keys.js";
import {
  parseXenbusState,
  readFeature,
  readOrUndefined,
  switchState,
  waitForState,
  XenbusState,
} from "../xenstore/xenbus.js";
import { NetfrontCtrl } from "./ctrl.js";
import type { FrontDevice, FrontFeatures, FrontQueue } from "./device-api.js";
import { DeferredGrants } from "./pool-grants.js";

export interface NetfrontOptions {
  /** Makes the device once the frontend dir's `mac` and `mtu` are read. */
  readonly makeDevice: (info: {
    readonly mac: string;
    readonly mtu: number;
    /** The frontend dir's `trusted` (absent: 1), and-ed with `trusted` below. */
    readonly trusted: boolean;
  }) => FrontDevice;
  /**
   * Whether any backend is trusted (Linux's xennet `trusted` module parameter); default
   * true. False bounces every vif's frames whatever its `trusted` key says.
   */
  readonly trusted?: boolean;
  /** Queues wanted (capped by the backend's multi-queue-max-queues); default 1. */
  readonly queues?: number;
  /** Ring page order wanted (capped by the backend's max-ring-page-order); default 0. */
  readonly ringPageOrder?: number;
  /**
   * Register the queues' buffer pools as staging grants over the control ring when the
   * backend offers one (netback maps them once and copies frames without a grant
   * operation each); default true (false: every frame takes the grant-copy path). Several
   * queues set up the control ring anyway, for hash steering.
   */
  readonly stagingGrants?: boolean;
  /** Use split channels when the backend offers them; default true. */
  readonly splitEventChannels?: boolean;
  /** Our feature-* keys; defaults: sg, gso-tcpv4, gso-tcpv6, ipv6-csum-offload, rx-notify on, csum offload on. */
  readonly features?: Partial<{
    sg: boolean;
    gsoTcpv4: boolean;
    gsoTcpv6: boolean;
    csumOffload: boolean;
    ipv6CsumOffload: boolean;
    /** Bytes the backend leaves before each received frame (xdp-headroom, when it offers feature-xdp-headroom); default 0. */
    xdpHeadroom: number;
    /** Write feature-rx-notify=1 and notify when posting RX buffers (default on); off, the backend polls. */
    rxNotify: boolean;
    /** Write request-multicast-control=1 when the backend offers feature-multicast-control (default off, as Linux's netfront). */
    multicastControl: boolean;
    /** Receive by page flip (request-rx-copy=0; the backend must offer feature-rx-flip); default off: copy. */
    rxFlip: boolean;
  }>;
  readonly log?: (line: string) => void;
  /** How long close() waits for the backend to reach Closing; default 2000 ms (Linux: 5 s). */
  readonly closeTimeoutMs?: number;
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
  /** The backend is trusted (`trusted` key and option): false means every frame is bounced. */
  readonly trusted: boolean;
  /**
   * The guest's grants (ring and buffer pool, of every netfront device) the backend still
   * held when they were to be ended: retried on a timer until it lets go (pool-grants.ts).
   */
  readonly deferredGrants?: number;
  /** Deferred grants ended since, their pages back in the guest's allocator. */
  readonly deferredReclaimed?: number;
  /** How many times a backend violation reset the vif. */
  readonly resets?: number;
  /** How many times the backend went away after connecting and the vif waited for a new one. */
  readonly backendLost?: number;
  /** The control ring, when this connection has one: steering on, grants staged, why it stopped. */
  readonly ctrl?: { readonly steering: boolean; readonly stagedGrants: number; readonly error?: string };
}

/** The most xdp-headroom netfront asks for: pvnet's netback keeps half of each buffer for data. */
export const NETFRONT_XDP_HEADROOM_MAX = 2048;
/** netfront's bound on queues (xennet_max_queues defaults to the CPU count; 8 is ours). */
const MAX_QUEUES = 8;
const MAC_RE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
/** Keys a connection writes: removed first, so a reconnect with fewer queues leaves none behind. */
const OUR_KEYS_RE =
  /^(tx-ring-ref\d*|rx-ring-ref\d*|event-channel(-tx|-rx|-ctrl)?|ctrl-ring-ref|queue-\d+|ring-page-order|multi-queue-num-queues|netmap-passthrough-[a-z]+\d*)$/;

interface QueueRes {
  readonly txPages: number[];
  readonly rxPages: number[];
  readonly txRefs: number[];
  readonly rxRefs: number[];
  readonly ports: number[];
  queue: FrontQueue | null;
}

export class NetfrontDriver {
  readonly #dom: Domain;
  readonly #xs: XsClient;
  readonly #devid: number;
  readonly #dir: string;
  readonly #backDir: string;
  readonly #backDomid: number;
  readonly #opts: NetfrontOptions;
  readonly #log: RateLog;
  readonly #want: Required<NonNullable<NetfrontOptions["features"]>>;
  #device: FrontDevice | null = null;
  #state: XenbusState = XenbusState.Initialising;
  #backState: XenbusState = XenbusState.Unknown;
  #res: QueueRes[] = [];
  /** This connection's control ring (ctrl.ts), and what programming it achieved. */
  #ctrl: NetfrontCtrl | null = null;
  #ctrlStatus: { steering: boolean; stagedGrants: number; error?: string } | null = null;
  #ctrlStarted = false;
  readonly #deferred: DeferredGrants;
  #gen = 0;
  #order = 0;
  #split = false;
  #carrier = false;
  #error: string | undefined;
  #resets = 0;
  #backendLost = 0;
  /** Connected at least once: a backend that goes away is waited for, not an error. */
  #everConnected = false;
  #trusted = true;
  #chain: Promise<void> = Promise.resolve();
  #watch: XsWatch | null = null;
  #closed = false;
  /** Removes the peer-closed listener once closed: a guest that reconnects keeps only one. */
  #unlisten: () => void = () => {};
  #connected: { resolve: () => void; reject: (e: Error) => void } | null = null;

  private constructor(
    dom: Domain,
    xs: XsClient,
    devid: number,
    backDir: string,
    backDomid: number,
    opts: NetfrontOptions,
  ) {
    this.#dom = dom;
    this.#xs = xs;
    this.#devid = devid;
    this.#dir = vifFrontendPath(dom.domid, devid);
    this.#backDir = backDir;
    this.#backDomid = backDomid;
    this.#opts = opts;
    this.#deferred = DeferredGrants.of(dom);
    this.#log = new RateLog(opts.log === undefined ? {} : { sink: opts.log });
    const f = opts.features ?? {};
    this.#want = {
      sg: f.sg ?? true,
      gsoTcpv4: f.gsoTcpv4 ?? true,
      gsoTcpv6: f.gsoTcpv6 ?? true,
      csumOffload: f.csumOffload ?? true,
      ipv6CsumOffload: f.ipv6CsumOffload ?? true,
      multicastControl: f.multicastControl ?? false,
      rxNotify: f.rxNotify ?? true,
      xdpHeadroom: f.xdpHeadroom ?? 0,
      rxFlip: f.rxFlip ?? false,
    };
    const h = this.#want.xdpHeadroom;
    // Netback cuts a larger value down, and we would then read its buffers at the wrong offset.
    if (!(Number.isInteger(h) && h >= 0 && h <= NETFRONT_XDP_HEADROOM_MAX))
      throw new PvnetError("EINVAL", `netfront: xdpHeadroom ${h} (expected 0..${NETFRONT_XDP_HEADROOM_MAX})`);
  }

  /** Probes `device/vif/<devid>` and connects; resolves once Connected is written. */
  static async probe(
    dom: Domain,
    xs: XsClient,
    devid: number,
    opts: NetfrontOptions,
  ): Promise<NetfrontDriver> {
    if (!Number.isInteger(devid) || devid < 0 || devid > 0x7fef)
      throw new PvnetError("EINVAL", `netfront: device id ${devid} (0..32751 expected)`);
    const dir = vifFrontendPath(dom.domid, devid);
    const backend = await readOrUndefined(xs, `${dir}/${KEY_BACKEND}`);
    const backendId = await readOrUndefined(xs, `${dir}/${KEY_BACKEND_ID}`);
    const beid = backendId !== undefined && /^\d{1,5}$/.test(backendId) ? Number(backendId) : -1;
    if (beid < 0 || beid > 0x7fef || backend !== vifBackendPath(beid, dom.domid, devid))
      throw new PvnetError(
        "ENOENT",
        `netfront: ${dir}: backend "${String(backend)}", backend-id "${String(backendId)}" (a vif backend path and its domain expected)`,
      );
    const mac = await readOrUndefined(xs, `${dir}/${KEY_MAC}`);
    if (mac === undefined || !MAC_RE.test(mac))
      throw new PvnetError("EINVAL", `netfront: ${dir}/mac "${String(mac)}" (xx:xx:xx:xx:xx:xx expected)`);
    const mtuText = await readOrUndefined(xs, `${dir}/${KEY_MTU}`);
    const mtu = mtuText === undefined ? 1500 : /^\d{2,5}$/.test(mtuText) ? Number(mtuText) : -1;
    if (mtu < 68 || mtu > 65535)
      throw new PvnetError("EINVAL", `netfront: ${dir}/mtu "${String(mtuText)}" (68..65535 expected)`);
    // xennet's probe: absent means trusted; the guest's own option can only take trust away.
    const trustedText = await readOrUndefined(xs, `${dir}/${KEY_TRUSTED}`);
    const trusted = (opts.trusted ?? true) && !(trustedText !== undefined && /^0+$/.test(trustedText.trim()));
    const d = new NetfrontDriver(dom, xs, devid, backend, beid, opts);
    d.#trusted = trusted;
    d.#device = opts.makeDevice({ mac: mac.toLowerCase(), mtu, trusted });
    const connected = new Promise<void>((resolve, reject) => {
      d.#connected = { resolve, reject };
    });
    await switchState(xs, dir, XenbusState.Initialising);
    const w = await xs.watch(`${backend}/${KEY_STATE}`);
    d.#watch = w;
    d.#unlisten = dom.onPeerClosed((port) => d.#peerClosed(port));
    void (async () => {
      for await (const _ev of w) d.#run(() => d.#backendChanged());
    })();
    try {
      await connected;
    } catch (e) {
      // Nobody holds a driver whose probe failed: its watch and listener go with it.
      d.#closed = true;
      d.#unlisten();
      await w.close().catch(() => undefined);
      throw e;
    }
    return d;
  }

  status(): NetfrontStatus {
    return {
      devid: this.#devid,
      frontendDir: this.#dir,
      backendDir: this.#backDir,
      state: this.#state,
      backendState: this.#backState,
      queues: this.#res.length,
      ringPageOrder: this.#order,
      splitEventChannels: this.#split,
      error: this.#error,
      trusted: this.#trusted,
      deferredGrants: this.#deferred.pending,
      deferredReclaimed: this.#deferred.reclaimed,
      resets: this.#resets,
      backendLost: this.#backendLost,
      ...(this.#ctrlStatus === null ? {} : { ctrl: { ...this.#ctrlStatus } }),
    };
  }

  /** Closes (Closing, wait for the backend, Closed) and releases every grant and channel. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Closed already: the backend closed first (xl network-detach), and may be gone by now.
    let wasClosed = false;
    await this.#runNow(async () => {
      this.#carrierOff();
      wasClosed = this.#state === XenbusState.Closed;
      if (!wasClosed) await this.#switch(XenbusState.Closing);
    });
    if (!wasClosed)
      try {
        await waitForState(
          this.#xs,
          `${this.#backDir}/${KEY_STATE}`,
          (s) => s === XenbusState.Closing || s === XenbusState.Closed || s === XenbusState.Unknown,
          { timeoutMs: this.#opts.closeTimeoutMs ?? 2000 },
        );
      } catch (e) {
        this.#log.log("close", `netfront: ${this.#dir}: backend did not close: ${(e as Error).message}`);
      }
    await this.#runNow(async () => {
      this.#release();
      await this.#switch(XenbusState.Closed);
    });
    this.#unlisten();
    await this.#watch?.close().catch(() => undefined); // the store may be gone already
    this.#deferred.retry();
  }

  // --- reactions ----------------------------------------------------------------------

  /** netback_changed. */
  async #backendChanged(): Promise<void> {
    // A change queued before close() ran: close() owns the backend from here, and the
    // client may be closed by the time this would read.
    if (this.#closed) return;
    const be = await this.#readBackendState();
    this.#backState = be;
    this.#reap();
    if (this.#closed) return;
    switch (be) {
      case XenbusState.InitWait:
        if (this.#state === XenbusState.Initialising) await this.#connect();
        return;
      case XenbusState.Connected:
        if (this.#state === XenbusState.Connected && !this.#carrier) {
          this.#carrier = true;
          this.#device?.carrierOn();
          this.#programCtrl();
        }
        return;
      case XenbusState.Initialising:
        // A backend directory written afresh under a connected frontend: the driver domain
        // was replaced between two of our reads.
        if (this.#state === XenbusState.Connected) await this.#lostBackend("backend restarted");
        return;
      case XenbusState.Closing:
      case XenbusState.Closed:
      case XenbusState.Unknown:
        // A reset waits in Initialising for the backend to come round to InitWait again.
        if (this.#state === XenbusState.Initialising || this.#state === XenbusState.Closed) return;
        // online=0 is the toolstack unplugging the device (xl network-detach): close for good.
        if (this.#everConnected && !(await this.#unplugged())) {
          await this.#lostBackend(be === XenbusState.Unknown ? "backend gone" : "backend closed");
          return;
        }
        this.#carrierOff();
        this.#release();
        await this.#switch(XenbusState.Closed);
        this.#settle(new PvnetError("ECONNRESET", `netfront: ${this.#dir}: backend closed`));
        return;
      default:
        return;
    }
  }

  /** xennet_connect / talk_to_netback. */
  async #connect(): Promise<void> {
    const xs = this.#xs;
    const b = this.#backDir;
    const device = this.#device;
    if (device === null) return;
    if (this.#want.rxFlip) {
      if ((await readFeature(xs, b, FEATURE_RX_FLIP, 0)) !== 1)
        return this.#fatal("EOPNOTSUPP", "backend does not support flipping receive path");
    } else if ((await readFeature(xs, b, FEATURE_RX_COPY, 0)) !== 1)
      return this.#fatal("EOPNOTSUPP", "backend does not support copying receive path");
    // The backend's limits are its word: bounded here whatever it wrote.
    const beOrder = Math.min(await readFeature(xs, b, "max-ring-page-order", 0), MAX_RING_PAGE_ORDER);
    const beMaxQueues = await readOrUndefined(xs, `${b}/${KEY_MULTI_QUEUE_MAX_QUEUES}`);
    const beQueues = Math.max(
      1,
      Math.min(await readFeature(xs, b, KEY_MULTI_QUEUE_MAX_QUEUES, 1), MAX_QUEUES),
    );
    const beSplit = (await readFeature(xs, b, FEATURE_SPLIT_EVENT_CHANNELS, 0)) === 1;
    const beSg = (await readFeature(xs, b, FEATURE_SG, 0)) !== 0;
    const beV4 = (await readFeature(xs, b, FEATURE_GSO_TCPV4, 0)) !== 0;
    const beV6 = (await readFeature(xs, b, FEATURE_GSO_TCPV6, 0)) !== 0;
    const beIpv6Csum = (await readFeature(xs, b, FEATURE_IPV6_CSUM_OFFLOAD, 0)) !== 0;
    const beCtrl = (await readFeature(xs, b, FEATURE_CTRL_RING, 0)) === 1;
    const beMcast = (await readFeature(xs, b, FEATURE_MULTICAST_CONTROL, 0)) !== 0;
    const beXdp = (await readFeature(xs, b, FEATURE_XDP_HEADROOM, 0)) !== 0;
    const bePt = (await readFeature(xs, b, FEATURE_NETMAP_PASSTHROUGH, 0)) === 1;
    const order = Math.min(clampInt(this.#opts.ringPageOrder, 0, MAX_RING_PAGE_ORDER, 0), beOrder);
    const nq = Math.min(clampInt(this.#opts.queues, 1, MAX_QUEUES, 1), beQueues);
    const split = (this.#opts.splitEventChannels ?? true) && beSplit;
    const w = this.#want;
    const features: FrontFeatures = {
      sg: w.sg && beSg,
      gsoTcpv4: w.gsoTcpv4 && beV4,
      gsoTcpv6: w.gsoTcpv6 && beV6,
      csumOffload: w.csumOffload,
      ipv6CsumOffload: w.ipv6CsumOffload && beIpv6Csum,
      multicastControl: w.multicastControl && beMcast,
      rxNotify: w.rxNotify,
      xdpHeadroom: beXdp ? w.xdpHeadroom : 0,
      rxFlip: w.rxFlip,
      passthrough: bePt,
    };
    this.#reap();
    this.#release();
    const gen = ++this.#gen;
    this.#order = order;
    this.#split = split;
    try {
      for (let qi = 0; qi < nq; qi++) {
        const r = this.#allocQueue(order);
        this.#res.push(r);
        r.ports.push(await this.#dom.evtchnAllocUnbound(this.#backDomid));
        if (split) r.ports.push(await this.#dom.evtchnAllocUnbound(this.#backDomid));
      }
      if (beCtrl && (nq > 1 || (this.#opts.stagingGrants ?? true)))
        this.#ctrl = await NetfrontCtrl.open(this.#dom, this.#backDomid);
    } catch (e) {
      this.#release();
      return this.#fatal(
        e instanceof PvnetError ? e.code : "ENOMEM",
        `allocating rings: ${(e as Error).message}`,
      );
    }
    try {
      for (let qi = 0; qi < nq; qi++) {
        const r = this.#res[qi]!;
        const mem = this.#dom.memory.mem;
        const tx = FrontRing.init(
          new RingArea(
            mem,
            r.txPages.map((p) => p * PAGE_SIZE),
            NETIF_TX_ENTRY_SIZE,
          ),
        );
        const rx = FrontRing.init(
          new RingArea(
            mem,
            r.rxPages.map((p) => p * PAGE_SIZE),
            NETIF_RX_ENTRY_SIZE,
          ),
        );
        const txPort = r.ports[0]!;
        const rxPort = r.ports[split ? 1 : 0]!;
        r.queue = device.attachQueue(
          { backDomid: this.#backDomid, queue: qi, tx, rx, txPort, rxPort, features },
          (reason) => this.#frontFatal(gen, reason),
        );
      }
      await xs.transaction((tx) => this.#writeKeys(tx, order, split, beMaxQueues !== undefined, features));
    } catch (e) {
      this.#release();
      return this.#fatal(
        e instanceof PvnetError ? e.code : "EIO",
        `writing connection keys: ${(e as Error).message}`,
      );
    }
    for (const r of this.#res) r.queue?.start();
    await this.#switch(XenbusState.Connected);
    this.#everConnected = true;
    this.#error = undefined;
    if (this.#connected !== null) {
      this.#connected.resolve();
      this.#connected = null;
    }
    // The backend may be Connected already (reconnect after a reset with hotplug long done).
    if (this.#backState === XenbusState.Connected && !this.#carrier) {
      const be = await this.#readBackendState();
      if (be === XenbusState.Connected && gen === this.#gen && this.#state === XenbusState.Connected) {
        this.#carrier = true;
        device.carrierOn();
        this.#programCtrl();
      }
    }
  }

  /**
   * Programs the control ring once the backend is Connected (it serves the ring from its
   * connect on); detached from the chain, since each request waits for the backend. What
   * it achieves applies only to the connection it started on.
   */
  #programCtrl(): void {
    const ctrl = this.#ctrl;
    const device = this.#device;
    if (ctrl === null || device === null || this.#ctrlStarted) return;
    const gen = this.#gen;
    this.#ctrlStarted = true;
    const queues = this.#res.map((r) => r.queue).filter((q) => q !== null);
    void ctrl.program(queues, this.#opts.stagingGrants ?? true).then((r) => {
      if (gen !== this.#gen || this.#ctrl !== ctrl) return;
      device.setSteering?.(r.steering);
      this.#ctrlStatus = {
        steering: r.steering !== null,
        stagedGrants: r.staged,
        ...(r.error === undefined ? {} : { error: r.error }),
      };
      if (r.error !== undefined) this.#log.log(this.#dir, `netfront: ${this.#dir}: control ring: ${r.error}`);
    });
  }

  #allocQueue(order: number): QueueRes {
    const n = 1 << order;
    const r: QueueRes = { txPages: [], rxPages: [], txRefs: [], rxRefs: [], ports: [], queue: null };
    const grant = (pages: number[], refs: number[]): void => {
      for (let i = 0; i < n; i++) {
        const p = this.#dom.pages.alloc();
        if (p < 0) throw new DevError("ENOMEM", `domain ${this.#dom.domid} has no page for a ring`);
        this.#dom.memory.mem.u8.fill(0, p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
        const ref = this.#dom.grants.grantAccess(this.#backDomid, p, false);
        if (ref < 0) {
          this.#dom.pages.free(p);
          throw new DevError("ENOSPC", "grant table full");
        }
        pages.push(p);
        refs.push(ref);
      }
    };
    try {
      grant(r.txPages, r.txRefs);
      grant(r.rxPages, r.rxRefs);
    } catch (e) {
      this.#res.push(r); // released with the others
      throw e;
    }
    return r;
  }

  /** `numQueues`: the backend wrote multi-queue-max-queues, so it is told our count (even 1), as Linux does. */
  async #writeKeys(
    tx: XsOps,
    order: number,
    split: boolean,
    numQueues: boolean,
    agreed: FrontFeatures,
  ): Promise<void> {
    const dir = this.#dir;
    for (const k of await tx.directory(dir)) if (OUR_KEYS_RE.test(k)) await tx.rm(`${dir}/${k}`);
    const nq = this.#res.length;
    if (order > 0) await tx.write(`${dir}/ring-page-order`, String(order));
    if (numQueues) await tx.write(`${dir}/${KEY_MULTI_QUEUE_NUM_QUEUES}`, String(nq));
    if (this.#ctrl !== null) {
      await tx.write(`${dir}/${KEY_CTRL_RING_REF}`, String(this.#ctrl.ref));
      await tx.write(`${dir}/${KEY_EVENT_CHANNEL_CTRL}`, String(this.#ctrl.port));
    }
    for (let qi = 0; qi < nq; qi++) {
      const r = this.#res[qi]!;
      const qd = nq === 1 ? dir : queuePath(dir, qi);
      if (order === 0) {
        await tx.write(`${qd}/${KEY_TX_RING_REF}`, String(r.txRefs[0]));
        await tx.write(`${qd}/${KEY_RX_RING_REF}`, String(r.rxRefs[0]));
      } else {
        for (let i = 0; i < r.txRefs.length; i++)
          await tx.write(`${qd}/${KEY_TX_RING_REF}${i}`, String(r.txRefs[i]));
        for (let i = 0; i < r.rxRefs.length; i++)
          await tx.write(`${qd}/${KEY_RX_RING_REF}${i}`, String(r.rxRefs[i]));
      }
      if (split) {
        await tx.write(`${qd}/${KEY_EVENT_CHANNEL_TX}`, String(r.ports[0]));
        await tx.write(`${qd}/${KEY_EVENT_CHANNEL_RX}`, String(r.ports[1]));
      } else {
        await tx.write(`${qd}/${KEY_EVENT_CHANNEL}`, String(r.ports[0]));
      }
    }
    for (const [k, v] of this.#device?.passthroughKeys?.() ?? []) await tx.write(`${dir}/${k}`, v);
    const w = this.#want;
    await tx.write(`${dir}/${KEY_REQUEST_RX_COPY}`, w.rxFlip ? "0" : "1");
    if (w.rxNotify) await tx.write(`${dir}/${FEATURE_RX_NOTIFY}`, "1");
    else if (await tx.exists(`${dir}/${FEATURE_RX_NOTIFY}`)) await tx.rm(`${dir}/${FEATURE_RX_NOTIFY}`);
    await tx.write(`${dir}/${FEATURE_SG}`, w.sg ? "1" : "0");
    await tx.write(`${dir}/${FEATURE_GSO_TCPV4}`, w.gsoTcpv4 ? "1" : "0");
    await tx.write(`${dir}/${FEATURE_GSO_TCPV6}`, w.gsoTcpv6 ? "1" : "0");
    await tx.write(`${dir}/${FEATURE_IPV6_CSUM_OFFLOAD}`, w.ipv6CsumOffload ? "1" : "0");
    if (!w.csumOffload) await tx.write(`${dir}/${FEATURE_NO_CSUM_OFFLOAD}`, "1");
    else if (await tx.exists(`${dir}/${FEATURE_NO_CSUM_OFFLOAD}`))
      await tx.rm(`${dir}/${FEATURE_NO_CSUM_OFFLOAD}`);
    const xdp = agreed.xdpHeadroom ?? 0;
    if (xdp > 0) await tx.write(`${dir}/${KEY_XDP_HEADROOM}`, String(xdp));
    else if (await tx.exists(`${dir}/${KEY_XDP_HEADROOM}`)) await tx.rm(`${dir}/${KEY_XDP_HEADROOM}`);
    if (agreed.multicastControl) await tx.write(`${dir}/${KEY_REQUEST_MULTICAST_CONTROL}`, "1");
    else if (await tx.exists(`${dir}/${KEY_REQUEST_MULTICAST_CONTROL}`))
      await tx.rm(`${dir}/${KEY_REQUEST_MULTICAST_CONTROL}`);
  }

  /** The datapath found the backend breaking the protocol: reset, the guest lives on. */
  #frontFatal(gen: number, reason: string): void {
    this.#run(async () => {
      if (gen !== this.#gen || this.#closed || this.#state !== XenbusState.Connected) return;
      this.#resets++;
      this.#error = reason;
      this.#log.log(this.#dir, `netfront: ${this.#dir}: backend error: ${reason}; resetting`);
      this.#carrierOff();
      this.#release();
      await this.#switch(XenbusState.Initialising);
    });
  }

  /**
   * The backend went away under a connection: release it all and wait in Initialising for
   * a backend at InitWait (which may be there already: the new one can be quicker than the
   * events that told us the old one went).
   */
  async #lostBackend(why: string): Promise<void> {
    this.#backendLost++;
    this.#log.log(this.#dir, `netfront: ${this.#dir}: ${why}; waiting for a backend`);
    this.#carrierOff();
    this.#release();
    await this.#switch(XenbusState.Initialising);
    const be = await this.#readBackendState();
    this.#backState = be;
    if (be === XenbusState.InitWait && !this.#closed && this.#state === XenbusState.Initialising)
      await this.#connect();
  }

  /** The backend dir says `online` = 0: the device is being removed, not its backend replaced. */
  async #unplugged(): Promise<boolean> {
    try {
      return (await readOrUndefined(this.#xs, `${this.#backDir}/${KEY_ONLINE}`)) === "0";
    } catch {
      return false; // unreadable: the directory is gone with its driver domain
    }
  }

  /** The backend closed its end of one of this connection's channels: it is going or gone. */
  #peerClosed(port: number): void {
    if (this.#closed || !this.#res.some((r) => r.ports.includes(port))) return;
    const gen = this.#gen;
    this.#run(async () => {
      if (gen !== this.#gen || this.#closed || this.#state !== XenbusState.Connected) return;
      // An unplug closes the channels too; the state watch closes the vif for good then.
      if (await this.#unplugged()) return;
      await this.#lostBackend("backend closed its event channel");
    });
  }

  /** xenbus_dev_fatal: the error node and Closing; a probe still waiting fails. */
  async #fatal(code: string, message: string): Promise<void> {
    // A closed device has nothing left to fail (and a removed one no node to write).
    if (this.#state === XenbusState.Closed) {
      this.#log.log(this.#dir, `netfront: ${this.#dir}: after close: ${message}`);
      return;
    }
    const text = await writeDevError(this.#xs, this.#dom.domid, `device/vif/${this.#devid}`, code, message);
    this.#error = message;
    this.#log.log(this.#dir, `netfront: ${this.#dir}: ${text}`);
    this.#carrierOff();
    this.#release();
    await this.#switch(XenbusState.Closing);
    this.#settle(new DevError(code, `netfront: ${this.#dir}: ${message}`));
  }

  /**
   * The backend's state; Unknown once its directory is gone. A guest may not read the
   * parent of a removed node, so a vanished backend answers EACCES as well as ENOENT.
   */
  async #readBackendState(): Promise<XenbusState> {
    try {
      return parseXenbusState(await readOrUndefined(this.#xs, `${this.#backDir}/${KEY_STATE}`));
    } catch (e) {
      if (e instanceof PvnetError && e.code === "EACCES") return XenbusState.Unknown;
      throw e;
    }
  }

  #settle(e: Error): void {
    if (this.#connected === null) return;
    this.#connected.reject(e);
    this.#connected = null;
  }

  async #switch(s: XenbusState): Promise<void> {
    this.#state = s;
    await switchState(this.#xs, this.#dir, s);
  }

  #carrierOff(): void {
    if (!this.#carrier) return;
    this.#carrier = false;
    this.#device?.carrierOff();
  }

  // --- release ------------------------------------------------------------------------

  /** Queues stop, channels close, ring grants end (or linger while the backend maps them). */
  #release(): void {
    const ctrl = this.#ctrl;
    this.#ctrl = null;
    this.#ctrlStatus = null;
    this.#ctrlStarted = false;
    this.#device?.setSteering?.(null);
    const res = this.#res;
    if (res.length === 0) {
      ctrl?.close();
      return;
    }
    this.#res = [];
    this.#gen++;
    for (const r of res) {
      try {
        const left = r.queue?.close() ?? 0;
        if (left > 0)
          this.#log.log("buffers", `netfront: ${this.#dir}: ${left} buffer grants still in use: deferred`);
      } catch (e) {
        this.#log.log(this.#dir, `netfront: ${this.#dir}: closing a queue: ${String(e)}`);
      }
      for (const p of r.ports) this.#dom.evtchnClose(p).catch(() => undefined); // already closed is closed
      for (let i = 0; i < r.txRefs.length; i++) this.#endGrant(r.txRefs[i]!, r.txPages[i]!);
      for (let i = 0; i < r.rxRefs.length; i++) this.#endGrant(r.rxRefs[i]!, r.rxPages[i]!);
    }
    ctrl?.close();
  }

  #endGrant(ref: number, page: number): void {
    this.#deferred.end(ref, page);
  }

  /** Retries the deferred grants: a backend changing state is when it lets go of them. */
  #reap(): void {
    this.#deferred.retry();
  }

  /** Queues `fn` on the chain; anything it throws is logged and made fatal, never thrown. */
  #run(fn: () => Promise<void>): void {
    void this.#runNow(fn);
  }

  #runNow(fn: () => Promise<void>): Promise<void> {
    const p = this.#chain.then(async () => {
      try {
        await fn();
      } catch (e) {
        this.#log.log(this.#dir, `netfront: ${this.#dir}: ${String(e)}`);
        if (this.#xs.closed) return;
        try {
          await this.#fatal("EIO", `internal: ${(e as Error).message}`);
        } catch {
          // the store is failing too; the log line above is what is left
        }
      }
    });
    this.#chain = p;
    return p;
  }
}

function clampInt(v: number | undefined, lo: number, hi: number, dflt: number): number {
  if (v === undefined || !Number.isInteger(v)) return dflt;
  return Math.min(hi, Math.max(lo, v));
}
