/**
 * netback's xenbus half. Watches `/local/domain/<self>/backend/vif`, and for each device:
 * makes its vif (`openVif`, Linux's netback_probe), advertises the features it implements
 * (NETBACK_FEATURES) and max-ring-page-order, walks the states one step at a time (state.ts), defers Connected
 * until hotplug-status=connected, reads the frontend's keys, maps the rings, binds the
 * channels and hands each queue to the vif; tears down on Closing/Closed/online=0.
 *
 * Each device's events (frontend state, hotplug status, datapath fatals, removal) run one
 * at a time on its own chain, so a walk never interleaves with another; guest death is the
 * one thing handled at once (its mappings are already gone), and a connect in flight
 * notices it after every await because its resources are released under it.
 */
import { RateLog } from "../base/ratelog.js";
import type { Domain } from "../hv/domain.js";
import type { DomainMemory } from "../hv/memory.js";
import { PAGE_SIZE } from "../hv/memory.js";
import { FEATURE_NETMAP_PASSTHROUGH } from "../netmap/pt-layout.js";
import { MAX_RING_PAGE_ORDER, RingArea } from "../ring/area.js";
import { BackRing } from "../ring/back.js";
import { ringErrorText } from "../ring/errors.js";
import { NETIF_RX_ENTRY_SIZE, NETIF_TX_ENTRY_SIZE } from "../wire/xen/netif.js";
import { XEN_NETIF_CTRL_ENTRY_SIZE } from "../wire/xen/netif-ctrl.js";
import type { XsClient, XsWatch } from "../xenstore/client.js";
import { DevError, writeDevError } from "../xenstore/dev-error.js";
import {
  domainPath,
  FEATURE_CTRL_RING,
  FEATURE_DYNAMIC_MULTICAST_CONTROL,
  FEATURE_GSO_TCPV4,
  FEATURE_GSO_TCPV6,
  FEATURE_IPV6_CSUM_OFFLOAD,
  FEATURE_MULTICAST_CONTROL,
  FEATURE_RX_COPY,
  FEATURE_RX_FLIP,
  FEATURE_SG,
  FEATURE_SPLIT_EVENT_CHANNELS,
  FEATURE_XDP_HEADROOM,
  HOTPLUG_CONNECTED,
  KEY_FRONTEND,
  KEY_FRONTEND_ID,
  KEY_HANDLE,
  KEY_HOTPLUG_STATUS,
  KEY_MAC,
  KEY_MULTI_QUEUE_MAX_QUEUES,
  KEY_ONLINE,
  KEY_RATE,
  KEY_REQUEST_MULTICAST_CONTROL,
  KEY_SCRIPT,
  KEY_STATE,
  vifFrontendPath,
} from "../xenstore/keys.js";
import { readOrUndefined, switchState, XenbusState } from "../xenstore/xenbus.js";
import { parseRate, UNLIMITED } from "./credit.js";
import { NetbackCtrl } from "./ctrl.js";
import { readCtrlRingKeys } from "./ctrl-keys.js";
import { KEY_MAX_RING_PAGE_ORDER, readFrontendKeys } from "./fe-keys.js";
import { readMcastRequest } from "./mcast-watch.js";
import { type PtKeys, readPtKeys } from "./pt-keys.js";
import { type BackendTarget, backendStep, frontendReaction, StepAction } from "./state.js";
import type { BackFeatures, BackQueue, BackVif, OpenBackVif } from "./vif-api.js";
import { readXdpHeadroom } from "./xdp-headroom.js";

export interface NetbackOptions {
  /** Makes the vif of a new backend device; the host attaches it to its bridge (hotplug). */
  readonly openVif: OpenBackVif;
  /** Logged reasons (fatal errors, refused devices); default stderr, rate-limited. */
  readonly log?: (line: string) => void;
  /** Advertised max-ring-page-order; default 4. */
  readonly maxRingPageOrder?: number;
  /** Advertised multi-queue-max-queues; default 8. */
  readonly maxQueues?: number;
  /**
   * Serve staging grants (ADD/DEL/GET_GREF_MAPPING) on the control ring; default true.
   * false answers them NOT_SUPPORTED, as Linux does, so every frame takes the grant-copy path.
   */
  readonly stagingGrants?: boolean;
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
  /** Grants the frontend staged over the control ring, kept mapped (0 without a control ring). */
  readonly stagedGrants: number;
}

/**
 * The feature keys netback writes, each one implemented: SG and GSO (multi-slot frames and
 * their segmentation), IPv6 checksum offload, RX by copy or by page flip (rx-flip.ts), split event channels,
 * the control ring (hash steering and staging grants: ctrl.ts), multicast control (the vif's list filters RX multicast when the frontend asks, and the
 * frontend may switch that while connected: mcast.ts, mcast-watch.ts), XDP headroom in RX
 * buffers (xdp-headroom.ts, reread on Reconfiguring).
 */
export const NETBACK_FEATURES: readonly (readonly [string, string])[] = [
  [FEATURE_SG, "1"],
  [FEATURE_GSO_TCPV4, "1"],
  [FEATURE_GSO_TCPV6, "1"],
  [FEATURE_IPV6_CSUM_OFFLOAD, "1"],
  [FEATURE_RX_COPY, "1"],
  [FEATURE_RX_FLIP, "1"],
  [FEATURE_SPLIT_EVENT_CHANNELS, "1"],
  [FEATURE_CTRL_RING, "1"],
  [FEATURE_MULTICAST_CONTROL, "1"],
  [FEATURE_DYNAMIC_MULTICAST_CONTROL, "1"],
  [FEATURE_XDP_HEADROOM, "1"],
];

/** Queue bound: netback's xenvif_max_queues default is min(8, CPUs); 8 is the most we accept. */
const MAX_QUEUES = 8;

/** One connection's resources, released exactly once (`released`). */
interface Conn {
  readonly gm: DomainMemory;
  readonly handles: number[];
  readonly ports: number[];
  readonly queues: BackQueue[];
  /** The control ring's service, when the frontend set one up (ctrl.ts). */
  ctrl: NetbackCtrl | null;
  ctrlPort: number;
  released: boolean;
}

interface Dev {
  readonly frontDomid: number;
  readonly devid: number;
  readonly dir: string;
  frontDir: string;
  /** The state this driver holds (Linux's be->state); xenstore may lag it while hotplug runs. */
  state: XenbusState;
  /** The state last written to xenstore (what the status shows, as xenstore-ls would). */
  written: XenbusState;
  frontState: XenbusState;
  hotplugConnected: boolean;
  vif: BackVif | null;
  conn: Conn | null;
  queues: number;
  order: number;
  split: boolean;
  error: string | undefined;
  watches: XsWatch[];
  chain: Promise<void>;
  /** Device unregistered or removed: no further walks. */
  dead: boolean;
}

export class NetbackDriver {
  readonly #dom: Domain;
  readonly #xs: XsClient;
  readonly #openVif: OpenBackVif;
  readonly #log: RateLog;
  readonly #maxOrder: number;
  readonly #maxQueues: number;
  readonly #staging: boolean;
  readonly #base: string;
  readonly #devs = new Map<string, Dev>();
  #watch: XsWatch | null = null;
  #mainChain: Promise<void> = Promise.resolve();
  #stopped = false;
  /** Torn down as a dying driver domain: nothing more is written to xenstore. */
  #killed = false;
  /** Removes the guest-death listener: a stopped or killed driver (a restart) leaves none. */
  #unlisten: () => void = () => {};

  private constructor(dom: Domain, xs: XsClient, opts: NetbackOptions) {
    this.#dom = dom;
    this.#xs = xs;
    this.#openVif = opts.openVif;
    this.#log = new RateLog(opts.log === undefined ? {} : { sink: opts.log });
    this.#maxOrder = clampInt(opts.maxRingPageOrder, 0, MAX_RING_PAGE_ORDER, MAX_RING_PAGE_ORDER);
    this.#maxQueues = clampInt(opts.maxQueues, 1, MAX_QUEUES, MAX_QUEUES);
    this.#staging = opts.stagingGrants ?? true;
    this.#base = `${domainPath(dom.domid)}/backend/vif`;
  }

  static async start(dom: Domain, xs: XsClient, opts: NetbackOptions): Promise<NetbackDriver> {
    const d = new NetbackDriver(dom, xs, opts);
    d.#unlisten = dom.onDomainDestroyed((domid) => d.#guestDied(domid));
    const w = await xs.watch(d.#base);
    d.#watch = w;
    void (async () => {
      for await (const ev of w)
        d.#mainChain = d.#mainChain
          .then(() => d.#backendEvent(ev.path))
          .catch((e: unknown) => {
            d.#log.log("watch", `netback: ${ev.path}: ${String(e)}`);
          });
    })();
    return d;
  }

  devices(): NetbackDeviceStatus[] {
    return [...this.#devs.values()].map((d) => ({
      frontDomid: d.frontDomid,
      devid: d.devid,
      backendDir: d.dir,
      state: d.written,
      frontendState: d.frontState,
      queues: d.queues,
      ringPageOrder: d.order,
      splitEventChannels: d.split,
      vif: d.vif,
      error: d.error,
      stagedGrants: d.conn?.ctrl?.stagedGrants ?? 0,
    }));
  }

  /** Closes every device (Closing, then Closed) and releases every mapping and channel. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unlisten();
    await this.#watch?.close().catch(() => undefined); // the connection may be gone already
    await this.#mainChain;
    await Promise.all(
      [...this.#devs.values()].map((d) =>
        this.#run(d, async () => {
          // A device already Closed stays so: walking it through Closing again would show
          // the states twice to whoever watches.
          if (d.state !== XenbusState.Closed) await this.#walk(d, XenbusState.Closing);
          await this.#walk(d, XenbusState.Closed);
          this.#unregister(d);
        }),
      ),
    );
    for (const d of this.#devs.values()) await d.chain;
    this.#devs.clear();
  }

  /**
   * Dies as a driver domain does: every vif's channels closed, ring mappings ended and vif
   * closed (off its switch), with no xenstore write and no state walk; the frontends learn
   * it from their closed channels and from the toolstack removing the backend directories.
   * Resolves once no device chain is running, so a late step cannot write over a
   * directory a new backend owns.
   */
  async kill(): Promise<void> {
    if (this.#killed) return;
    this.#killed = true;
    this.#stopped = true;
    this.#unlisten();
    const devs = [...this.#devs.values()];
    this.#devs.clear();
    for (const d of devs) this.#unregister(d);
    await this.#watch?.close().catch(() => undefined); // the connection may be gone already
    await this.#mainChain;
    for (const d of devs) await d.chain;
  }

  // --- device discovery -------------------------------------------------------------

  async #backendEvent(path: string): Promise<void> {
    if (this.#stopped) return;
    // The watch's first event names the base: devices written before we started are probed
    // from a listing, as xenbus enumerates the backend tree when a driver registers.
    if (path === this.#base) return this.#scan();
    if (!path.startsWith(`${this.#base}/`)) return;
    const parts = path.slice(this.#base.length + 1).split("/");
    const fe = parseId(parts[0]);
    if (fe === undefined) return;
    if (parts.length === 1) {
      // The guest's whole directory may have gone: check each of its devices.
      for (const d of [...this.#devs.values()]) if (d.frontDomid === fe) await this.#checkGone(d);
      return;
    }
    const devid = parseId(parts[1]);
    if (devid === undefined) return;
    const key = `${fe}/${devid}`;
    const known = this.#devs.get(key);
    if (known !== undefined) {
      if (parts.length === 2) await this.#checkGone(known);
      return;
    }
    const dir = `${this.#base}/${key}`;
    try {
      if ((await readOrUndefined(this.#xs, `${dir}/${KEY_STATE}`)) === undefined) return;
    } catch (e) {
      this.#log.log("probe", `netback: ${dir}: ${(e as Error).message}`);
      return;
    }
    const d: Dev = {
      frontDomid: fe,
      devid,
      dir,
      frontDir: "",
      state: XenbusState.Initialising,
      written: XenbusState.Initialising,
      frontState: XenbusState.Unknown,
      hotplugConnected: false,
      vif: null,
      conn: null,
      queues: 0,
      order: 0,
      split: false,
      error: undefined,
      watches: [],
      chain: Promise.resolve(),
      dead: false,
    };
    this.#devs.set(key, d);
    this.#run(d, () => this.#probe(d));
  }

  async #scan(): Promise<void> {
    const list = async (p: string): Promise<string[]> => {
      try {
        return await this.#xs.directory(p);
      } catch {
        return []; // no backend tree yet (ENOENT): nothing to probe
      }
    };
    for (const fe of await list(this.#base))
      for (const devid of await list(`${this.#base}/${fe}`))
        await this.#backendEvent(`${this.#base}/${fe}/${devid}`);
  }

  async #checkGone(d: Dev): Promise<void> {
    let present = true;
    try {
      present = await this.#xs.exists(d.dir);
    } catch {
      return;
    }
    if (present) return;
    this.#devs.delete(`${d.frontDomid}/${d.devid}`);
    this.#run(d, async () => {
      // netback_remove: Closed (no node is recreated: switchState skips a missing one).
      await this.#walk(d, XenbusState.Closed);
      this.#unregister(d);
    });
  }

  /** netback_probe: checks the toolstack's keys, advertises features, makes the vif. */
  async #probe(d: Dev): Promise<void> {
    const xs = this.#xs;
    const script = await readOrUndefined(xs, `${d.dir}/${KEY_SCRIPT}`);
    const handle = await readOrUndefined(xs, `${d.dir}/${KEY_HANDLE}`);
    if (script === undefined) return this.#fatal(d, "ENOENT", "reading script");
    if (handle === undefined || parseId(handle) !== d.devid)
      return this.#fatal(d, "ENOENT", "reading handle");
    const frontend = await readOrUndefined(xs, `${d.dir}/${KEY_FRONTEND}`);
    const frontendId = await readOrUndefined(xs, `${d.dir}/${KEY_FRONTEND_ID}`);
    const expected = vifFrontendPath(d.frontDomid, d.devid);
    if (frontend !== expected || parseId(frontendId) !== d.frontDomid)
      return this.#fatal(d, "EINVAL", `frontend ${String(frontend)}: expected ${expected}`);
    d.frontDir = expected;
    // Linux's order: the probe transaction, then split channels and the queue bound outside it.
    await xs.transaction(async (tx) => {
      for (const [k, v] of NETBACK_FEATURES)
        if (k !== FEATURE_SPLIT_EVENT_CHANNELS) await tx.write(`${d.dir}/${k}`, v);
    });
    await xs.write(`${d.dir}/${FEATURE_SPLIT_EVENT_CHANNELS}`, "1");
    await xs.write(`${d.dir}/${KEY_MULTI_QUEUE_MAX_QUEUES}`, String(this.#maxQueues));
    await xs.write(`${d.dir}/${KEY_MAX_RING_PAGE_ORDER}`, String(this.#maxOrder));
    const mac = (await readOrUndefined(xs, `${d.dir}/${KEY_MAC}`)) ?? "";
    if (d.dead) return; // unregistered (or the driver killed) while probing
    try {
      d.vif = this.#openVif({ frontDomid: d.frontDomid, devid: d.devid, mac, backendDir: d.dir });
    } catch (e) {
      return this.#fatal(d, "ENOMEM", `creating interface: ${(e as Error).message}`);
    }
    if (d.vif.passthrough === true) await xs.write(`${d.dir}/${FEATURE_NETMAP_PASSTHROUGH}`, "1");
    await this.#walk(d, XenbusState.InitWait);
    await this.#watchKey(d, `${d.dir}/${KEY_HOTPLUG_STATUS}`, () => this.#hotplugChanged(d));
    await this.#watchKey(d, `${d.frontDir}/${KEY_STATE}`, () => this.#frontendChanged(d));
    await this.#watchKey(d, `${d.dir}/${KEY_RATE}`, () => this.#rateChanged(d));
    await this.#watchKey(d, `${d.frontDir}/${KEY_REQUEST_MULTICAST_CONTROL}`, async () =>
      d.vif?.setMulticastControl?.(await readMcastRequest(this.#xs, d.frontDir)),
    );
  }

  /** Watches `path`; each event runs `fn` on the device's chain. */
  async #watchKey(d: Dev, path: string, fn: () => Promise<void>): Promise<void> {
    if (d.dead) return;
    const w = await this.#xs.watch(path);
    d.watches.push(w);
    void (async () => {
      for await (const _ev of w) this.#run(d, fn);
    })();
  }

  // --- reactions ----------------------------------------------------------------------

  async #frontendChanged(d: Dev): Promise<void> {
    const text = await readOrUndefined(this.#xs, `${d.frontDir}/${KEY_STATE}`);
    // Absent or not a number reads as Unknown (xenbus_read_driver_state); a number outside
    // the enum goes to frontendReaction as it is, which calls it fatal.
    const fe = text !== undefined && /^\d{1,10}$/.test(text) ? Number(text) : XenbusState.Unknown;
    d.frontState = fe <= XenbusState.Reconfigured ? fe : XenbusState.Unknown;
    const online = (await readOrUndefined(this.#xs, `${d.dir}/${KEY_ONLINE}`)) === "1";
    const r = frontendReaction(fe, online);
    switch (r.kind) {
      case "ignore":
        return;
      case "fatal":
        return this.#fatal(d, "EINVAL", r.reason);
      case "reconfigure":
        // Linux's read_xenbus_frontend_xdp, then Reconfigured, our own state left alone.
        d.vif?.setXdpHeadroom?.(await readXdpHeadroom(this.#xs, d.frontDir));
        await this.#write(d, XenbusState.Reconfigured);
        return;
      case "walk":
        await this.#walk(d, r.target);
        if (r.unregister) this.#unregister(d);
        return;
    }
  }

  /** xen_net_rate_changed: the toolstack's `rate`, strictly parsed; absent or bad is unlimited. */
  async #rateChanged(d: Dev): Promise<void> {
    const v = await readOrUndefined(this.#xs, `${d.dir}/${KEY_RATE}`);
    let rate = v === undefined ? UNLIMITED : parseRate(v);
    if (rate === undefined) {
      this.#log.log(
        d.dir,
        `netback: vif${d.frontDomid}.${d.devid}: rate "${v}" is not <bytes>,<usecs>; unlimited`,
      );
      rate = UNLIMITED;
    }
    d.vif?.setRate?.(rate);
  }

  async #hotplugChanged(d: Dev): Promise<void> {
    const v = await readOrUndefined(this.#xs, `${d.dir}/${KEY_HOTPLUG_STATUS}`);
    d.hotplugConnected = v === HOTPLUG_CONNECTED;
    // The Connected write that waited for the script.
    if (d.hotplugConnected && d.state === XenbusState.Connected) await this.#write(d, XenbusState.Connected);
  }

  /** set_backend_state: one legal step at a time toward `target`. */
  async #walk(d: Dev, target: BackendTarget): Promise<void> {
    for (let i = 0; i < 4; i++) {
      const step = backendStep(d.state, target);
      if (step === undefined) return;
      if (step.action === StepAction.Connect) {
        if (d.dead) return;
        const err = await this.#connect(d);
        if (err !== null) return this.#fatal(d, err.code, err.message);
      } else if (step.action === StepAction.Disconnect) {
        this.#release(d);
      }
      d.state = step.next;
      // Connected is held back until the hotplug script has attached the vif.
      if (step.next !== XenbusState.Connected || d.hotplugConnected) await this.#write(d, step.next);
    }
  }

  async #write(d: Dev, s: XenbusState): Promise<void> {
    if (this.#killed) return;
    d.written = s;
    await switchState(this.#xs, d.dir, s);
  }

  /** xenbus_dev_fatal: the error node, then toward Closing (releasing everything). */
  async #fatal(d: Dev, code: string, message: string): Promise<void> {
    if (this.#killed) return;
    const text = await writeDevError(this.#xs, this.#dom.domid, d.dir, code, message);
    d.error = message;
    this.#log.log(d.dir, `netback: vif${d.frontDomid}.${d.devid}: ${text}`);
    this.#release(d);
    if (d.state === XenbusState.Initialising) {
      // A device refused at probe never got as far as InitWait; Closing still tells both ends.
      d.state = XenbusState.Closing;
      await this.#write(d, XenbusState.Closing);
      return;
    }
    await this.#walk(d, XenbusState.Closing);
  }

  /** The datapath's report: disconnect this vif alone (if that connection is still the one). */
  #vifFatal(d: Dev, conn: Conn, reason: string): void {
    this.#run(d, async () => {
      if (d.conn !== conn || conn.released) return;
      await this.#fatal(d, "EINVAL", reason);
    });
  }

  // --- connect and release --------------------------------------------------------------

  /** connect(): null when every queue is attached, else the error (resources released). */
  async #connect(d: Dev): Promise<DevError | null> {
    const dom = this.#dom;
    const gm = dom.foreign(d.frontDomid);
    const vif = d.vif;
    if (gm === undefined) return new DevError("ESRCH", `no domain ${d.frontDomid}`);
    if (vif === null) return new DevError("ENODEV", "no interface");
    let keys: Awaited<ReturnType<typeof readFrontendKeys>>;
    let ctrlKeys: Awaited<ReturnType<typeof readCtrlRingKeys>>;
    let ptKeys: PtKeys | undefined;
    try {
      if (vif.passthrough === true) ptKeys = await readPtKeys(this.#xs, d.frontDir);
      keys = await readFrontendKeys(this.#xs, d.frontDir, {
        maxQueues: this.#maxQueues,
        maxRingPageOrder: this.#maxOrder,
      });
      ctrlKeys = await readCtrlRingKeys(this.#xs, d.frontDir);
    } catch (e) {
      if (e instanceof DevError) return e;
      throw e;
    }
    const conn: Conn = { gm, handles: [], ports: [], queues: [], ctrl: null, ctrlPort: -1, released: false };
    this.#release(d);
    d.conn = conn;
    d.queues = keys.queues.length;
    d.order = keys.order;
    d.split = keys.split;
    const rings: { tx: BackRing; rx: BackRing }[] = [];
    // Every ring of every queue is mapped before any await, while the guest is surely `gm`.
    if (dom.foreign(d.frontDomid) !== gm) return new DevError("ESRCH", `domain ${d.frontDomid} went away`);
    for (let qi = 0; qi < keys.queues.length; qi++) {
      const q = keys.queues[qi]!;
      const tx = this.#mapRing(d, conn, q.txRefs, NETIF_TX_ENTRY_SIZE, `queue ${qi} tx`);
      if (typeof tx === "string") return this.#abort(d, conn, "EINVAL", tx);
      const rx = this.#mapRing(d, conn, q.rxRefs, NETIF_RX_ENTRY_SIZE, `queue ${qi} rx`);
      if (typeof rx === "string") return this.#abort(d, conn, "EINVAL", rx);
      rings.push({ tx, rx });
    }
    const ctrlRing =
      ctrlKeys === null ? null : this.#mapRing(d, conn, [ctrlKeys.ref], XEN_NETIF_CTRL_ENTRY_SIZE, "control");
    if (typeof ctrlRing === "string") return this.#abort(d, conn, "EINVAL", ctrlRing);
    const ports: { tx: number; rx: number }[] = [];
    for (let qi = 0; qi < keys.queues.length; qi++) {
      const q = keys.queues[qi]!;
      const tx = await this.#bind(d, conn, q.txPort);
      if (typeof tx === "string") return this.#abort(d, conn, "EINVAL", tx);
      let rx = tx;
      if (q.rxPort !== q.txPort) {
        const r = await this.#bind(d, conn, q.rxPort);
        if (typeof r === "string") return this.#abort(d, conn, "EINVAL", r);
        rx = r;
      }
      ports.push({ tx, rx });
    }
    if (ctrlRing !== null && ctrlKeys !== null) {
      const p = await this.#bind(d, conn, ctrlKeys.port);
      if (typeof p === "string") return this.#abort(d, conn, "EINVAL", p);
      if (conn.released) return new DevError("ESRCH", `domain ${d.frontDomid} went away`);
      try {
        const ctrl = new NetbackCtrl(this.#dom, ctrlRing, p, d.frontDomid, keys.queues.length, {
          staging: this.#staging,
        });
        conn.ctrl = ctrl;
        conn.ctrlPort = p;
        this.#dom.evtchn.on(p, () => ctrl.run());
        this.#dom.loop.defer(() => ctrl.run());
      } catch (e) {
        return this.#abort(d, conn, "ENOMEM", `control ring: ${(e as Error).message}`);
      }
    }
    if (conn.released) return new DevError("ESRCH", `domain ${d.frontDomid} went away`);
    const features: BackFeatures = keys.features;
    for (let qi = 0; qi < keys.queues.length; qi++) {
      try {
        conn.queues.push(
          vif.attachQueue(
            {
              frontDomid: d.frontDomid,
              devid: d.devid,
              queue: qi,
              tx: rings[qi]!.tx,
              rx: rings[qi]!.rx,
              txPort: ports[qi]!.tx,
              rxPort: ports[qi]!.rx,
              features,
              ctrl: conn.ctrl,
              ...(ptKeys === undefined ? {} : { passthrough: ptKeys }),
            },
            (reason) => this.#vifFatal(d, conn, reason),
          ),
        );
      } catch (e) {
        return this.#abort(d, conn, "ENOMEM", `attaching queue ${qi}: ${(e as Error).message}`);
      }
    }
    d.error = undefined;
    return null;
  }

  #abort(d: Dev, conn: Conn, code: string, message: string): DevError {
    if (d.conn === conn) this.#release(d);
    return new DevError(code, message);
  }

  #mapRing(d: Dev, conn: Conn, refs: readonly number[], entrySize: number, what: string): BackRing | string {
    const offs: number[] = [];
    for (const ref of refs) {
      const h = this.#dom.gnt.map(d.frontDomid, ref, false);
      if (h < 0) return `mapping ${what} ring gref ${ref}: status ${h}`;
      conn.handles.push(h);
      offs.push(this.#dom.gnt.mappedOff(h));
    }
    // Pages of one granter all live in its memory, so one Mem carries the whole ring.
    for (const o of offs) if (o < 0 || o + PAGE_SIZE > conn.gm.mem.byteLength) return `${what}: bad mapping`;
    const ring = BackRing.attach(new RingArea(conn.gm.mem, offs, entrySize));
    return typeof ring === "number" ? `${what} ring: ${ringErrorText(ring)}` : ring;
  }

  async #bind(d: Dev, conn: Conn, remotePort: number): Promise<number | string> {
    let local: number;
    try {
      local = await this.#dom.evtchnBindInterdomain(d.frontDomid, remotePort);
    } catch (e) {
      return `binding event channel ${remotePort}: ${(e as Error).message}`;
    }
    if (conn.released) {
      // Released under us (the guest died): this port is the only thing left to give back.
      this.#dom.evtchnClose(local).catch(() => undefined);
      return `domain ${d.frontDomid} went away`;
    }
    conn.ports.push(local);
    return local;
  }

  /**
   * Disconnect: queues stop first (the datapath lets go of its pending mappings), then the
   * channels, then the ring mappings, unless the guest is dead (its mappings ended with it
   * and the handles are no longer ours).
   */
  #release(d: Dev, gone = false): void {
    const conn = d.conn;
    if (conn === null || conn.released) return;
    conn.released = true;
    d.conn = null;
    for (const q of conn.queues) {
      try {
        q.close();
      } catch (e) {
        this.#log.log(d.dir, `netback: vif${d.frontDomid}.${d.devid}: closing a queue: ${String(e)}`);
      }
    }
    const alive = !gone && this.#dom.foreign(d.frontDomid) === conn.gm;
    if (conn.ctrl !== null) {
      this.#dom.evtchn.off(conn.ctrlPort);
      conn.ctrl.close(alive);
    }
    for (const p of conn.ports) this.#dom.evtchnClose(p).catch(() => undefined); // a port already closed is closed
    if (!alive) return;
    for (const h of conn.handles)
      if (this.#dom.gnt.unmap(h) !== 0)
        this.#log.log(d.dir, `netback: vif${d.frontDomid}.${d.devid}: ring handle ${h} was not mapped`);
  }

  /** device_unregister: the vif goes away; the device stays known until its dir does. */
  #unregister(d: Dev): void {
    if (d.dead) return;
    d.dead = true;
    this.#release(d);
    for (const w of d.watches.splice(0)) w.close().catch(() => undefined);
    const vif = d.vif;
    d.vif = null;
    if (vif !== null) {
      try {
        vif.close();
      } catch (e) {
        this.#log.log(d.dir, `netback: ${vif.name}: close: ${String(e)}`);
      }
    }
  }

  #guestDied(domid: number): void {
    if (this.#killed) return;
    for (const d of this.#devs.values()) {
      if (d.frontDomid !== domid) continue;
      this.#release(d, true);
      this.#run(d, async () => {
        await this.#walk(d, XenbusState.Closed);
        this.#unregister(d);
      });
    }
  }

  /** Runs `fn` after everything queued for `d`; nothing thrown escapes (logged, then fatal). */
  #run(d: Dev, fn: () => Promise<void>): void {
    d.chain = d.chain.then(async () => {
      try {
        await fn();
      } catch (e) {
        this.#log.log(d.dir, `netback: vif${d.frontDomid}.${d.devid}: ${String(e)}`);
        if (d.dead || this.#xs.closed) return;
        try {
          await this.#fatal(d, "EIO", `internal: ${(e as Error).message}`);
        } catch {
          // the store is failing too; the log line above is what is left
        }
      }
    });
  }
}

function parseId(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 0x7fef ? n : undefined;
}

function clampInt(v: number | undefined, lo: number, hi: number, dflt: number): number {
  if (v === undefined || !Number.isInteger(v)) return dflt;
  return Math.min(hi, Math.max(lo, v));
}
