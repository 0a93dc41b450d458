/**
 * Boots a HostConfig on a Machine, as `xl create` does on a Xen host: Domain-0 first (the
 * driver domain: xenstored, the switches, netback), then each guest; once a guest runs,
 * Domain-0 writes its vif devices (libxl's step) and the guest's netfront finds them.
 * The host reads every vif's state and counters live from shared memory; the guests' ping
 * results come as reports.
 */
import { existsSync, lstatSync, unlinkSync } from "node:fs";
import { resolve } from "node:path";
import { PvnetError } from "../base/errors.js";
import { inLanes } from "../base/lanes.js";
import { withTimeout } from "../base/timeout.js";
import type { LoopMode } from "../hv/loop.js";
import { type DomainStatus, Machine } from "../hv/machine.js";
import { VIF_QUEUE_COUNTERS, type VifQueueCounter } from "../netback/counters.js";
import { type StackCounterName, stackCounters } from "../stack/counters.js";
import type { Dom0Uplink } from "../uplink/dom0-uplinks.js";
import {
  type Dom0Tap,
  dom0TapSpecs,
  dom0UplinkSpecs,
  tapStatus,
  type UplinkStatus,
  uplinkStatus,
} from "../uplink/status.js";
import { OFFLOAD_COUNTERS_BYTES, type OffloadCounter, readOffloadCounters } from "../vale/soft-offload.js";
import { XenbusState, xenbusStateName } from "../xenstore/xenbus.js";
import type { DomainConfig, HostConfig, VifConfig } from "./config-types.js";
import { guestProgramFile } from "./guest-bundle.js";
import {
  D0_LIVE_MAPPINGS,
  D0_XS_RINGS,
  type Dom0Args,
  type Dom0Resources,
  type GuestArgs,
  type GuestPingResult,
  type HostReport,
  type HostVif,
  MSG_ADD_VIFS,
  MSG_PING,
  MSG_RESOURCES,
  MSG_RESTART_BACKEND,
  type PingPlan,
  queueRow,
  VS_BACKEND_STATE,
  VS_FATAL,
  VS_FRONTEND_STATE,
  VS_GNT_MAPS,
  VS_HOTPLUG,
  VS_QUEUES,
  VS_RING_ORDER,
  VS_SPLIT,
  vifShared,
  XS_CONNECTIONS,
  XS_ERRORS,
  XS_REQUESTS,
  XS_WATCH_EVENTS,
  XS_WORDS,
} from "./host-proto.js";
import {
  type AttachedVif,
  type AttachVifSpec,
  type DetachedVif,
  type UdpEchoResult,
  VifOps,
  type VifOpsHost,
} from "./vif-ops.js";

export interface HostOptions {
  /** xenstored's unix socket; null: none. */
  readonly socketPath: string | null;
  readonly tracePath?: string | null;
  readonly ping?: Partial<PingPlan>;
  /** Lines the domains log (default: dropped). */
  readonly log?: (line: string) => void;
  /** How long to wait for a guest's vifs to be written; default 5000. */
  readonly addVifsTimeoutMs?: number;
  /**
   * How long boot waits, once every guest's vifs are written, for each vif to be Connected
   * at both ends with its hotplug done; default 10000. 0: boot returns once the devices are
   * written, without waiting (for guests whose frontends are not expected to connect).
   */
  readonly connectTimeoutMs?: number;
  /**
   * The guests' program (default: guest-program.js, the stack with pings); benchmarks run
   * their own, which receives the usual GuestArgs with `extra` set.
   */
  readonly guestProgram?: URL;
  /**
   * Programs of your own, by guest name, run in place of the guests' program: each is a
   * module whose default export is `main(dom, args)` with the usual GuestArgs (its vifs'
   * configuration); it connects its vifs itself (a `Netif` from `pvnet/netfront`).
   */
  readonly programs?: Readonly<Record<string, URL>>;
  /**
   * A hotplug step of your own: a module whose default export (a `VifHotplug`) runs in
   * Domain-0 for each new vif in place of joining it to its bridge, as a vif's `script`
   * replaces vif-bridge on a Xen host.
   */
  readonly hotplug?: URL;
  /** `extra` in each guest's args: by the guest's position among the guests (0-based). */
  readonly guestExtra?: (index: number) => unknown;
  /**
   * Domain-0's program (default: dom0-program.js). `pvnet adversary backend` runs one that
   * wraps the default and adds a malicious backend; it receives the usual Dom0Args.
   */
  readonly dom0Program?: URL;
  /**
   * The guests' threads' nice value (Linux; -20..19): higher leaves Domain-0, which switches
   * every guest's frames, a larger share of the cores than each guest (Xen's credit weights).
   * Default: unchanged, every domain alike.
   */
  readonly guestNice?: number;
  /** How often Domain-0 copies counters and states into shared memory, ms; default 250. */
  readonly statusMs?: number;
  /** Every domain's event loop mode; default "notify" (sleep when idle). */
  readonly loopMode?: LoopMode;
  /** Each domain thread's young-generation semi-space, MB (MachineOptions.nurseryMb). */
  readonly nurseryMb?: number;
  /** The guests' event loop mode, if not `loopMode` (e.g. "block": src/hv/loop.ts). */
  readonly guestLoopMode?: LoopMode;
  /**
   * Called once Domain-0 runs (xenstored listening), before the first guest is created:
   * an observer's xenstore watch set here sees every guest's handshake from its start.
   */
  readonly onDom0Ready?: (machine: Machine) => Promise<void> | void;
  /**
   * Domain-0 reports each xenstore change as it takes effect ("xs-changes" reports, web/
   * xs-changes.ts): the exact writes of every handshake, for `pvnet up --web`. Default off.
   */
  readonly xsChanges?: boolean;
  /**
   * Where Domain-0 answers netmapd's protocol for the bridges, so `pvnet vale-ctl` and
   * `pvnet pkt-gen` reach them (dom0-netmapd.ts); default none.
   */
  readonly netmapdSocket?: string | null;
}

/** Guests booting at once: enough to keep two cores busy through each one's round trips. */
const BOOT_LANES = 8;

export const DEFAULT_PING: PingPlan = { count: 0, intervalMs: 1000, timeoutMs: 1000 };

export interface XenbusEnd {
  readonly state: number;
  readonly stateName: string;
}

export interface VifStatus {
  readonly name: string;
  readonly domid: number;
  readonly domain: string;
  readonly devid: number;
  readonly mac: string;
  readonly ip: string | null;
  readonly bridge: string;
  readonly frontend: XenbusEnd;
  readonly backend: XenbusEnd;
  readonly hotplug: "pending" | "connected" | "error";
  readonly fatal: boolean;
  readonly queues: number;
  readonly ringPageOrder: number;
  readonly splitEventChannels: boolean;
  /** Domain-0's live grant mappings of this vif's guest (all its vifs), at most a status period old. */
  readonly grantMappings: number;
  /**
   * netback's counters summed over queues, Domain-0's view of vifN.M as on Linux: tx_* went
   * to the guest, rx_* came from it.
   */
  readonly counters: Record<VifQueueCounter, number>;
  /** The guest stack's counters on this vif. */
  readonly stack: Record<StackCounterName, number>;
}

export interface PingSummary {
  readonly from: string;
  readonly to: string;
  readonly kind: "icmp" | "udp";
  readonly sent: number;
  readonly received: number;
  readonly rttMs: { min: number; avg: number; max: number; last: number } | null;
  readonly lastError: string | null;
}

export interface HostStatus {
  readonly domains: DomainStatus[];
  readonly vifs: VifStatus[];
  readonly pings: PingSummary[];
  /** Every bridge's uplinks, in config order. */
  readonly uplinks: UplinkStatus[];
  /** Every bridge, in config order. */
  readonly bridges: BridgeStatus[];
}

/** A bridge (its VALE switch) in `host.status()` and `pvnet up --json`. */
export interface BridgeStatus {
  readonly name: string;
  /** Frames segmented and checksummed for ports without offloads (vale/soft-offload.ts). */
  readonly softOffload: Record<OffloadCounter, number>;
}

interface VifEntry {
  readonly host: HostVif;
  readonly domain: string;
  readonly words: Int32Array;
  readonly rows: Float64Array[];
  readonly stack: SharedArrayBuffer;
}

interface PingAcc {
  from: string;
  to: string;
  kind: "icmp" | "udp";
  sent: number;
  received: number;
  min: number;
  max: number;
  sum: number;
  last: number;
  lastError: string | null;
}

export class Host {
  readonly machine: Machine;
  readonly socketPath: string | null;
  readonly #vifs: VifEntry[] = [];
  #uplinks: Dom0Uplink[] = [];
  #taps: Dom0Tap[] = [];
  /** Per bridge, its switch's soft-offload counters, which Domain-0 bumps in place. */
  #offload: Record<string, SharedArrayBuffer> = {};
  readonly #pings = new Map<string, PingAcc>();
  readonly #log: (line: string) => void;
  #down: Promise<void> | null = null;
  readonly #xsStats = new SharedArrayBuffer(XS_WORDS * 8);
  /** Domain-0 listened on the socket: ours to remove if it could not. */
  #ownsSocket = false;
  /** The restartBackend call waiting for Domain-0's answer. */
  #restarted: ((r: Extract<HostReport, { t: "backend-restarted" }>) => void) | null = null;
  // What addGuest needs after boot: the options, the config (for peers), the pending adds.
  #opts: HostOptions = { socketPath: null };
  #config: HostConfig = { domains: [], bridges: [] };
  readonly #added = new Map<number, (error: string | undefined) => void>();
  readonly #resourceAsks = new Map<number, (r: Dom0Resources) => void>();
  readonly #pingAsks = new Map<number, (r: Extract<HostReport, { t: "ping-result" }>) => void>();
  #nextAsk = 1;
  #netmapd: { path: string | null; note: string | null } = { path: null, note: null };
  /** network-attach, network-detach, udp-echo and the hotplug scripts (vif-ops.ts). */
  readonly #ops: VifOps;

  private constructor(machine: Machine, socketPath: string | null, log: (line: string) => void) {
    this.machine = machine;
    this.socketPath = socketPath;
    this.#log = log;
    this.#ops = new VifOps(machine, socketPath, log);
  }

  /** Where Domain-0 serves the bridges to netmap's tools; null: nowhere. */
  get netmapdPath(): string | null {
    return this.#netmapd.path;
  }

  /** Why Domain-0 does not serve the bridges though asked to (one line); null otherwise. */
  get netmapdNote(): string | null {
    return this.#netmapd.note;
  }

  /**
   * Boots every domain and resolves once every vif is Connected at both ends (frontend and
   * backend state 4) and its hotplug step is done, so traffic can flow. Rejects, after tearing
   * down what started, if Domain-0 or a guest fails, a hotplug fails, or a vif is not
   * connected within `connectTimeoutMs` (the error names the vif and both ends' states).
   */
  static async boot(config: HostConfig, opts: HostOptions): Promise<Host> {
    const log = opts.log ?? (() => {});
    const machine = new Machine({
      log,
      ...(opts.nurseryMb === undefined ? {} : { nurseryMb: opts.nurseryMb }),
    });
    const host = new Host(machine, opts.socketPath, log);
    host.#opts = opts;
    host.#config = config;
    const ping: PingPlan = { ...DEFAULT_PING, ...opts.ping };
    const [dom0, ...guests] = config.domains;
    if (dom0 === undefined) throw new PvnetError("CONFIG", "no domains (expected Domain-0 first)");
    for (const name of Object.keys(opts.programs ?? {}))
      if (!guests.some((g) => g.name === name))
        throw new PvnetError("EINVAL", `Host.boot: programs names "${name}", which is no guest of this host`);
    for (const g of guests)
      for (const vif of g.vifs) {
        const shared = vifShared();
        host.#vifs.push({
          host: { domid: g.domid, vif, shared },
          domain: g.name,
          words: new Int32Array(shared.status),
          rows: Array.from({ length: vif.queues }, (_, q) => queueRow(shared.counters, q)),
          stack: stackCounters().buffer,
        });
      }
    const added = host.#added;
    machine.on("report", (domid: number, data: unknown) => host.#report(domid, data, added));
    try {
      const args: Dom0Args = {
        bridges: config.bridges.map((b) => b.name),
        captures: config.bridges.flatMap((b) =>
          b.capture === undefined ? [] : [{ bridge: b.name, ...b.capture, file: resolve(b.capture.file) }],
        ),
        uplinks: (host.#uplinks = dom0UplinkSpecs(config.bridges)),
        taps: (host.#taps = dom0TapSpecs(config.bridges)),
        offloadCounters: (host.#offload = Object.fromEntries(
          config.bridges.map((b) => [b.name, new SharedArrayBuffer(OFFLOAD_COUNTERS_BYTES)]),
        )),
        socketPath: opts.socketPath,
        tracePath: opts.tracePath ?? null,
        vifs: host.#vifs.map((v) => v.host),
        statusMs: opts.statusMs ?? 250,
        xsStats: host.#xsStats,
        hotplug: opts.hotplug?.href ?? null,
        xsChanges: opts.xsChanges === true,
        netmapdPath: opts.netmapdSocket ?? null,
      };
      await machine.createDomain({
        name: dom0.name,
        pages: dom0.pages,
        program: opts.dom0Program ?? new URL("./dom0-program.js", import.meta.url),
        args,
        loopMode: dom0.loop ?? opts.loopMode,
        ...(dom0.cpus === undefined ? {} : { cpus: dom0.cpus }),
      });
      host.#ownsSocket = opts.socketPath !== null;
      await opts.onDom0Ready?.(machine);
      // Guests start in overlapping lanes (xl create in parallel): one guest's worker start-up
      // overlaps another's xenstore writes. Domids still follow the config (inLanes' order).
      await inLanes(guests.length, BOOT_LANES, async (gi) => {
        const g = guests[gi];
        const gargs: GuestArgs = {
          vifs: host.#vifs
            .filter((v) => v.host.domid === g.domid)
            .map((v) => ({
              vif: v.host.vif,
              peers: peersOf(config, g.domid, v.host.vif),
              stackCounters: v.stack,
            })),
          ping,
          extra: opts.guestExtra?.(gi) ?? null,
        };
        const domid = await machine.createDomain({
          name: g.name,
          pages: g.pages,
          // Xen 4.17 gives a guest up to 64 grant frames (max_grant_frames); 32 is plenty here.
          grantFrames: 32,
          program: guestProgramFile(
            (Object.hasOwn(opts.programs ?? {}, g.name) ? opts.programs?.[g.name] : undefined) ??
              opts.guestProgram ??
              new URL("./guest-program.js", import.meta.url),
          ),
          args: gargs,
          loopMode: g.loop ?? opts.guestLoopMode ?? opts.loopMode,
          ...(opts.guestNice === undefined ? {} : { nice: opts.guestNice }),
          ...(g.cpus === undefined ? {} : { cpus: g.cpus }),
        });
        const done = new Promise<string | undefined>((resolve) => added.set(domid, resolve));
        machine.post(0, { t: MSG_ADD_VIFS, domid, name: g.name });
        const error = await withTimeout(done, opts.addVifsTimeoutMs ?? 5000, `${g.name}'s vifs`);
        if (error !== undefined) throw new PvnetError("EIO", `cannot add ${g.name}'s devices: ${error}`);
      });
      const connectMs = opts.connectTimeoutMs ?? 10_000;
      if (connectMs > 0) await host.#untilConnected(connectMs);
    } catch (e) {
      await host.shutdown();
      throw e;
    }
    return host;
  }

  // ---- boot's wait for connection (host helper's part) ----

  /**
   * Polls the vifs' status words, which Domain-0 updates from its xenstore watches as each
   * end moves, until all are connected; a failure that cannot heal ends the wait at once.
   */
  async #untilConnected(ms: number): Promise<void> {
    const end = performance.now() + ms;
    for (;;) {
      const failed = this.#bootFailure();
      if (failed !== null) throw new PvnetError("EIO", failed);
      const waiting = this.#vifs.find((v) => !vifConnected(v.words));
      if (waiting === undefined) return;
      if (performance.now() >= end)
        throw new PvnetError(
          "ETIMEDOUT",
          `${vifName(waiting)}: not connected within ${ms} ms (${vifStates(waiting.words)})`,
        );
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Why boot cannot succeed any more, or null. */
  #bootFailure(): string | null {
    for (const d of this.machine.status())
      if (d.state !== "running" && d.state !== "starting")
        return `${d.name} is ${d.state}${d.error === undefined ? "" : `: ${d.error.message}`} before its vifs connected`;
    const bad = this.#vifs.find((v) => Atomics.load(v.words, VS_HOTPLUG) === -1);
    if (bad === undefined) return null;
    const why = this.#ops.scriptError(vifName(bad));
    return `${vifName(bad)}: hotplug failed${why === undefined ? "" : `: ${why}`} (${vifStates(bad.words)})`;
  }

  // ---- end of boot's wait ----

  #report(domid: number, data: unknown, added: Map<number, (e: string | undefined) => void>): void {
    const r = data as HostReport | null;
    if (typeof r !== "object" || r === null || this.#ops.onReport(domid, data)) return;
    switch (r.t) {
      case "log":
        if (typeof r.line === "string") this.#log(r.line.slice(0, 1024));
        return;
      case "netmapd":
        if (domid === 0)
          this.#netmapd = {
            path: typeof r.path === "string" ? r.path : null,
            note: typeof r.note === "string" ? r.note.slice(0, 1024) : null,
          };
        return;
      case "vifs-added":
        if (domid === 0) added.get(r.domid)?.(r.error);
        return;
      case "backend-restarted":
        if (domid === 0) this.#restarted?.(r);
        return;
      case "resources":
        if (domid === 0) {
          this.#resourceAsks.get(r.id)?.(r.counts);
          this.#resourceAsks.delete(r.id);
        }
        return;
      case "ping-result":
        if (domid !== 0 && typeof r.id === "number") {
          this.#pingAsks.get(r.id)?.(r);
          this.#pingAsks.delete(r.id);
        }
        return;
      case "probe":
        if (!r.ok) this.#log(`dom${domid}: vif ${r.devid}: ${String(r.error).slice(0, 512)}`);
        return;
      case "ping":
        this.#ping(domid, r);
        return;
    }
  }

  #ping(domid: number, r: Extract<HostReport, { t: "ping" }>): void {
    const from = this.#vifs.find((v) => v.host.domid === domid && v.host.vif.devid === r.devid);
    if (from === undefined || (r.kind !== "icmp" && r.kind !== "udp")) return;
    const name = `${from.domain}:${from.host.vif.devid}`;
    const k = `${name} ${r.to} ${r.kind}`;
    let a = this.#pings.get(k);
    if (a === undefined) {
      a = {
        from: name,
        to: String(r.to),
        kind: r.kind,
        sent: 0,
        received: 0,
        min: Infinity,
        max: 0,
        sum: 0,
        last: 0,
        lastError: null,
      };
      this.#pings.set(k, a);
    }
    a.sent++;
    if (r.ok && typeof r.rttMs === "number" && Number.isFinite(r.rttMs)) {
      a.received++;
      a.min = Math.min(a.min, r.rttMs);
      a.max = Math.max(a.max, r.rttMs);
      a.sum += r.rttMs;
      a.last = r.rttMs;
    } else a.lastError = String(r.reason ?? "failed").slice(0, 64);
  }

  /**
   * The Domain-0 resources a guest's life can create, as a flat object of counts: ports
   * (from the machine's own table of Domain-0's ports), grant mappings and pins, xenstore
   * rings, watches, nodes, connections and introduced domains, VALE ports, timers, netback
   * devices, status records and event links. Everything but the ports is counted inside
   * Domain-0 when asked (one message round trip), so it is current, not a status period old.
   * After a guest's life ends (shutdownGuest, destroyGuest) and Domain-0 has cleaned up,
   * every count is back to what it was before the guest was added.
   */
  async resources(timeoutMs = 2000): Promise<Dom0Resources> {
    const id = this.#nextAsk++;
    const answer = new Promise<Dom0Resources>((resolve) => this.#resourceAsks.set(id, resolve));
    this.machine.post(0, { t: MSG_RESOURCES, id });
    try {
      const counts = await withTimeout(answer, timeoutMs, "Domain-0's resource counts");
      return { ...counts, dom0Ports: this.machine.channels(0) };
    } finally {
      this.#resourceAsks.delete(id);
    }
  }

  /**
   * One echo request from inside a guest's stack (`pvnet ping`), from the vif whose subnet
   * holds `ip` (else its first vif with an address): resolves with the reply's round trip
   * and TTL, or `ok: false` with why (timeout, down, ...). A guest whose program does not
   * answer (its own, not the default's) fails after `timeoutMs` and two seconds more.
   */
  async ping(which: number | string, ip: number, timeoutMs = 1000): Promise<GuestPingResult> {
    const domid = this.#guestDomid(which);
    const id = this.#nextAsk++;
    const answer = new Promise<Extract<HostReport, { t: "ping-result" }>>((resolve) =>
      this.#pingAsks.set(id, resolve),
    );
    this.machine.post(domid, { t: MSG_PING, id, ip: ip >>> 0, timeoutMs });
    try {
      const r = await withTimeout(answer, timeoutMs + 2000, "the guest's ping result");
      if (r.from === null) throw new PvnetError("ENETDOWN", String(r.reason).slice(0, 256));
      return {
        from: String(r.from),
        ok: r.ok === true,
        seq: r.seq,
        rttMs: r.rttMs,
        ttl: r.ttl,
        dataLen: r.dataLen,
        reason: r.reason === undefined ? undefined : String(r.reason).slice(0, 64),
      };
    } finally {
      this.#pingAsks.delete(id);
    }
  }

  /**
   * Creates one more guest after boot, as `xl create` of one config does: the domain is
   * created, Domain-0 writes its vif devices, and its netfront connects them. `domid` in
   * `g` is ignored: the machine gives the next one. Resolves with the domid once the
   * devices are written (not once they connect).
   */
  async addGuest(g: Omit<DomainConfig, "domid">): Promise<number> {
    const guests = this.#config.domains.filter((d) => d.domid !== 0);
    const others: HostConfig = { ...this.#config, domains: [...this.#config.domains, { ...g, domid: -1 }] };
    const stacks = g.vifs.map(() => stackCounters().buffer);
    const gargs: GuestArgs = {
      vifs: g.vifs.map((vif, i) => ({ vif, peers: peersOf(others, -1, vif), stackCounters: stacks[i]! })),
      ping: { ...DEFAULT_PING, ...this.#opts.ping },
      extra: this.#opts.guestExtra?.(guests.length) ?? null,
    };
    const domid = await this.machine.createDomain({
      name: g.name,
      pages: g.pages,
      grantFrames: 32,
      program: guestProgramFile(this.#opts.guestProgram ?? new URL("./guest-program.js", import.meta.url)),
      args: gargs,
      loopMode: g.loop ?? this.#opts.guestLoopMode ?? this.#opts.loopMode,
      ...(g.cpus === undefined ? {} : { cpus: g.cpus }),
    });
    this.#config = { ...this.#config, domains: [...this.#config.domains, { ...g, domid }] };
    const vifs = g.vifs.map((vif): HostVif => ({ domid, vif, shared: vifShared() }));
    g.vifs.forEach((vif, i) => {
      const h = vifs[i]!;
      this.#vifs.push({
        host: h,
        domain: g.name,
        words: new Int32Array(h.shared.status),
        rows: Array.from({ length: vif.queues }, (_, q) => queueRow(h.shared.counters, q)),
        stack: stacks[i]!,
      });
    });
    const done = new Promise<string | undefined>((resolve) => this.#added.set(domid, resolve));
    this.machine.post(0, { t: MSG_ADD_VIFS, domid, name: g.name, vifs });
    try {
      const error = await withTimeout(done, this.#opts.addVifsTimeoutMs ?? 5000, `${g.name}'s vifs`);
      if (error !== undefined) throw new PvnetError("EIO", `cannot add ${g.name}'s devices: ${error}`);
    } finally {
      this.#added.delete(domid);
    }
    return domid;
  }

  /**
   * `xl destroy`: the guest dies at once (no frontend handshake); Domain-0 notices, tears
   * its devices down and removes them from xenstore. Resolves when the worker is gone.
   */
  async destroyGuest(which: number | string): Promise<void> {
    const domid = this.#guestDomid(which);
    await this.machine.destroyDomain(domid);
    this.#forget(domid);
  }

  /**
   * `xl shutdown`: the guest is asked to stop (its frontends close, each waiting for its
   * backend), then the domain goes and Domain-0 removes its devices. A guest that does not
   * stop within `timeoutMs` is destroyed.
   */
  async shutdownGuest(which: number | string, timeoutMs = 3000): Promise<void> {
    const domid = this.#guestDomid(which);
    await this.machine.shutdownDomain(domid, timeoutMs);
    this.#forget(domid);
  }

  #guestDomid(which: number | string): number {
    const d = this.machine
      .status()
      .find((s) => (typeof which === "number" ? s.domid === which : s.name === which));
    if (d === undefined) throw new PvnetError("ESRCH", `no domain ${String(which)}`);
    if (d.privileged) throw new PvnetError("EINVAL", `${d.name} is Domain-0: it stops with the host`);
    return d.domid;
  }

  // ---- hot-plugging and the guest's UDP echo (vif-ops.ts) ----

  /** `xl network-attach`: one more vif in a running guest; resolves once it is Connected. */
  attachVif(which: number | string, spec: AttachVifSpec = {}): Promise<AttachedVif> {
    return this.#ops.attachVif(this.#opsHost(), which, spec);
  }

  /** `xl network-detach`: the vif (by devid or MAC) closes and goes; its switch port is freed. */
  detachVif(which: number | string, device: number | string): Promise<DetachedVif> {
    return this.#ops.detachVif(this.#opsHost(), which, String(device));
  }

  /** A UDP echo server on `port` in each of the guest's stacks. */
  udpListen(
    which: number | string,
    port: number,
  ): Promise<{ domain: string; id: number; port: number; addresses: string[] }> {
    return this.#ops.udpListen(this.#opsHost(), which, port);
  }

  /** One datagram to ip:port from inside the guest, and its echo's round trip. */
  udpEcho(
    which: number | string,
    ip: number,
    port: number,
    size = 56,
    timeoutMs = 1000,
  ): Promise<UdpEchoResult> {
    return this.#ops.udpEcho(this.#opsHost(), which, ip, port, size, timeoutMs);
  }

  /** Why a vif's hotplug script last failed (the last line of its stderr), if it did. */
  hotplugError(vif: string): string | undefined {
    return this.#ops.scriptError(vif);
  }

  #opsHost(): VifOpsHost {
    return {
      machine: this.machine,
      guest: (which) => {
        const d = this.machine
          .status()
          .find(
            (s) =>
              s.state !== "destroyed" &&
              s.state !== "stopped" &&
              (typeof which === "number" ? s.domid === which : s.name === which),
          );
        if (d === undefined) throw new PvnetError("ESRCH", `no domain named ${String(which)}`);
        if (d.privileged)
          throw new PvnetError("EINVAL", `${d.name} runs the backends: it has no vifs of its own`);
        return { domid: d.domid, name: d.name };
      },
      status: () => this.status(),
      bridges: () => this.bridges(),
      track: (domain, h, stack) => {
        this.#vifs.push({
          host: h,
          domain,
          words: new Int32Array(h.shared.status),
          stack,
          rows: Array.from({ length: h.vif.queues }, (_, q) => queueRow(h.shared.counters, q)),
        });
        this.#config = {
          ...this.#config,
          domains: this.#config.domains.map((d) =>
            d.domid === h.domid ? { ...d, vifs: [...d.vifs, h.vif] } : d,
          ),
        };
      },
      untrack: (domid, devid) => {
        const i = this.#vifs.findIndex((v) => v.host.domid === domid && v.host.vif.devid === devid);
        if (i >= 0) this.#vifs.splice(i, 1);
        this.#config = {
          ...this.#config,
          domains: this.#config.domains.map((d) =>
            d.domid === domid ? { ...d, vifs: d.vifs.filter((v) => v.devid !== devid) } : d,
          ),
        };
      },
    };
  }

  // ---- end of vif-ops ----

  /** A dead guest's vifs leave the status; its pings stay (they were measured). */
  #forget(domid: number): void {
    for (let i = this.#vifs.length - 1; i >= 0; i--)
      if (this.#vifs[i]!.host.domid === domid) this.#vifs.splice(i, 1);
    this.#config = { ...this.#config, domains: this.#config.domains.filter((d) => d.domid !== domid) };
  }

  /** The names of the host's bridges (VALE switches in Domain-0). */
  bridges(): string[] {
    return this.#config.bridges.map((b) => b.name);
  }

  /** xenstored's totals so far (at most a status period old): requests, errors, watch events. */
  xenstoreStats(): { requests: number; errors: number; watchEvents: number; connections: number } {
    const x = new Float64Array(this.#xsStats);
    return {
      requests: x[XS_REQUESTS],
      errors: x[XS_ERRORS],
      watchEvents: x[XS_WATCH_EVENTS],
      connections: x[XS_CONNECTIONS],
    };
  }

  /**
   * Domain-0's live grant mappings in all (vif rings, TX payloads, xenstore rings), and the
   * guests' xenstore rings xenstored serves (one mapping each), at most a status period old;
   * after shutdown, what was left once netback had stopped.
   */
  dom0Mappings(): { live: number; xenstoreRings: number } {
    const x = new Float64Array(this.#xsStats);
    return { live: x[D0_LIVE_MAPPINGS], xenstoreRings: x[D0_XS_RINGS] };
  }

  status(): HostStatus {
    const domains = this.machine.status();
    const vifs = this.#vifs.map((v): VifStatus => {
      const w = v.words;
      const counters = {} as Record<VifQueueCounter, number>;
      VIF_QUEUE_COUNTERS.forEach((n, i) => {
        counters[n] = v.rows.reduce((s, row) => s + row[i]!, 0);
      });
      const fe = Atomics.load(w, VS_FRONTEND_STATE);
      const be = Atomics.load(w, VS_BACKEND_STATE);
      const hp = Atomics.load(w, VS_HOTPLUG);
      const cfg = v.host.vif;
      return {
        name: `vif${v.host.domid}.${cfg.devid}`,
        domid: v.host.domid,
        domain: v.domain,
        devid: cfg.devid,
        mac: cfg.mac,
        ip: cfg.ip === undefined ? null : `${cfg.ip.address}/${cfg.ip.prefix}`,
        bridge: cfg.bridge,
        frontend: { state: fe, stateName: xenbusStateName(fe) },
        backend: { state: be, stateName: xenbusStateName(be) },
        hotplug: hp === 1 ? "connected" : hp === -1 ? "error" : "pending",
        fatal: Atomics.load(w, VS_FATAL) === 1,
        queues: Atomics.load(w, VS_QUEUES) || cfg.queues,
        ringPageOrder: Atomics.load(w, VS_QUEUES) > 0 ? Atomics.load(w, VS_RING_ORDER) : cfg.ringPageOrder,
        splitEventChannels: Atomics.load(w, VS_SPLIT) === 1,
        grantMappings: Atomics.load(w, VS_GNT_MAPS),
        counters,
        stack: stackCounters(v.stack).snapshot() as Record<StackCounterName, number>,
      };
    });
    // Grouped by pair in a stable order (reports arrive in whatever order the guests ran).
    const pings = [...this.#pings.values()].sort(comparePings).map(
      (a): PingSummary => ({
        from: a.from,
        to: a.to,
        kind: a.kind,
        sent: a.sent,
        received: a.received,
        rttMs: a.received === 0 ? null : { min: a.min, avg: a.sum / a.received, max: a.max, last: a.last },
        lastError: a.lastError,
      }),
    );
    return {
      domains,
      vifs,
      pings,
      uplinks: [...this.#uplinks.map(uplinkStatus), ...this.#taps.map(tapStatus)],
      bridges: Object.entries(this.#offload).map(([name, b]) => ({
        name,
        softOffload: readOffloadCounters(b),
      })),
    };
  }

  /**
   * Restarts the driver domain's backends (Domain-0 also runs xenstored, so it stays; its
   * netback is what dies): every vif is torn down as a dead driver domain's (channels,
   * mappings and grant copies ended, VALE ports detached, backend directories removed),
   * then a fresh netback serves the same devices and the toolstack writes their backend
   * directories again. The guests are not restarted: each frontend drains, waits and
   * reconnects with its stack, MAC and addresses. Resolves once the new directories are
   * written (the vifs reconnect shortly after: `status()` shows when), with how many there
   * are and how long the old netback took to go and the whole step took.
   */
  async restartBackend(timeoutMs = 10_000): Promise<{ devices: number; downMs: number; totalMs: number }> {
    if (this.#down !== null) throw new PvnetError("ESHUTDOWN", "restartBackend: the host is shutting down");
    if (this.#restarted !== null) throw new PvnetError("EBUSY", "restartBackend: a restart is running");
    const done = new Promise<Extract<HostReport, { t: "backend-restarted" }>>((resolve) => {
      this.#restarted = resolve;
    });
    try {
      this.machine.post(0, { t: MSG_RESTART_BACKEND });
      const r = await withTimeout(done, timeoutMs, "the restarted backend's directories");
      if (r.error !== undefined)
        throw new PvnetError("EIO", `restartBackend: ${String(r.error).slice(0, 512)}`);
      return { devices: r.devices, downMs: r.downMs, totalMs: r.totalMs };
    } finally {
      this.#restarted = null;
    }
  }

  /**
   * Ordered shutdown: guests first (each closes its frontends, which waits for the
   * backends), then Domain-0 (netback stops, switches, sockets); then, if Domain-0 had to be
   * terminated, its socket files are removed here.
   */
  shutdown(): Promise<void> {
    this.#down ??= this.#shutdown();
    return this.#down;
  }

  async #shutdown(): Promise<void> {
    await this.machine.shutdown(3000);
    // The netmapd socket is Domain-0's only when it reported listening there.
    for (const p of [this.#ownsSocket ? this.socketPath : null, this.#netmapd.path]) {
      if (p === null || !existsSync(p)) continue;
      try {
        if (lstatSync(p).isSocket()) unlinkSync(p);
      } catch {
        // Someone else's by now, or gone: nothing to remove.
      }
    }
  }
}

/** The other guests' addresses on the vif's bridge. */
function peersOf(config: HostConfig, domid: number, vif: VifConfig): { address: string; value: number }[] {
  const out: { address: string; value: number }[] = [];
  for (const d of config.domains)
    for (const v of d.vifs)
      if (d.domid !== domid && d.domid !== 0 && v.bridge === vif.bridge && v.ip !== undefined)
        out.push({ address: v.ip.address, value: v.ip.value });
  return out;
}

function comparePings(a: PingAcc, b: PingAcc): number {
  const byFrom = a.from.localeCompare(b.from, "en", { numeric: true });
  if (byFrom !== 0) return byFrom;
  const byTo = a.to.localeCompare(b.to, "en", { numeric: true });
  return byTo !== 0 ? byTo : a.kind.localeCompare(b.kind);
}

function vifName(v: VifEntry): string {
  return `vif${v.host.domid}.${v.host.vif.devid}`;
}

function vifConnected(w: Int32Array): boolean {
  return (
    Atomics.load(w, VS_FRONTEND_STATE) === XenbusState.Connected &&
    Atomics.load(w, VS_BACKEND_STATE) === XenbusState.Connected &&
    Atomics.load(w, VS_HOTPLUG) === 1
  );
}

/** "frontend Initialising(1), backend InitWait(2), hotplug pending" */
function vifStates(w: Int32Array): string {
  const fe = Atomics.load(w, VS_FRONTEND_STATE);
  const be = Atomics.load(w, VS_BACKEND_STATE);
  const hp = Atomics.load(w, VS_HOTPLUG);
  const hotplug = hp === 1 ? "connected" : hp === -1 ? "error" : "pending";
  return `frontend ${xenbusStateName(fe)}(${fe}), backend ${xenbusStateName(be)}(${be}), hotplug ${hotplug}`;
}
