/**
 * Domain-0's program under `pvnet up`: the driver domain. It runs xenstored (for the
 * guests' rings, and on a unix socket for xenstore-utils), one VALE switch per bridge, and
 * netback; it plays libxl (writing each guest's vif devices when the host says the guest
 * exists) and the vif-bridge hotplug script (attaching each new vif to its switch). It keeps
 * each vif's status words and counters current in shared memory the host reads.
 *
 * On the host's MSG_RESTART_BACKEND it restarts the driver domain's part: netback dies as
 * a driver domain does (see restartBackend below), and a fresh one serves the same
 * devices; the guests' frontends reconnect without the guests restarting.
 */
import { PvnetError } from "../base/errors.js";
import { withTimeout } from "../base/timeout.js";
import type { Domain } from "../hv/domain.js";
import { inheritLoader, programLoadError } from "../hv/program-load.js";
import { MACHINE } from "../hv/worker-proto.js";
import { VIF_QUEUE_COUNTERS } from "../netback/counters.js";
import type { NetbackVif } from "../netback/vif.js";
import type { BackVifInfo } from "../netback/vif-api.js";
import { NetbackDriver } from "../netback/xenbus.js";
import { Dom0Uplinks } from "../uplink/dom0-uplinks.js";
import type { TapUplink } from "../uplink/tap/uplink.js";
import { ValeCapture } from "../vale/capture.js";
import { ValeSwitch } from "../vale/switch.js";
import { XsChangeFeed } from "../web/xs-changes.js";
import type { XsClient, XsWatch } from "../xenstore/client.js";
import { Xenstored } from "../xenstore/daemon.js";
import { serveXenstore } from "../xenstore/domain-xenstored.js";
import {
  domainPath,
  HOTPLUG_CONNECTED,
  HOTPLUG_ERROR,
  KEY_BRIDGE,
  KEY_NAME,
  KEY_ONLINE,
  KEY_STATE,
  LIBXL_PATH,
} from "../xenstore/keys.js";
import { XsTraceFile } from "../xenstore/trace.js";
import { XsSocketServer } from "../xenstore/transport/socket.js";
import { parseXenbusState, readOrUndefined, waitForState, XenbusState } from "../xenstore/xenbus.js";
import { Dom0Captures } from "./dom0-capture.js";
import { type HostNetmapd, serveHostSwitches } from "./dom0-netmapd.js";
import { openTaps } from "./dom0-taps.js";
import { type Dom0VifOps, dom0VifOps } from "./dom0-vif-ops.js";
import { type HostBackVif, makeBackVif } from "./drivers.js";
import {
  D0_LIVE_MAPPINGS,
  D0_XS_RINGS,
  type Dom0Args,
  type Dom0Resources,
  type HostReport,
  type HostVif,
  MAX_VIF_QUEUES,
  MSG_ADD_VIFS,
  MSG_RESOURCES,
  MSG_RESTART_BACKEND,
  queueRow,
  VS_BACKEND_STATE,
  VS_FATAL,
  VS_FRONTEND_STATE,
  VS_GNT_MAPS,
  VS_HOTPLUG,
  VS_QUEUES,
  VS_RING_ORDER,
  VS_SPLIT,
  XS_CONNECTIONS,
  XS_ERRORS,
  XS_REQUESTS,
  XS_WATCH_EVENTS,
} from "./host-proto.js";
import type { VifHotplug } from "./hotplug.js";
import { hotplugConnect, vifDevicePaths, writeVifDevice } from "./vif-device.js";

interface VifRec {
  readonly spec: HostVif;
  readonly words: Int32Array;
  readonly rows: Float64Array[];
  readonly paths: { frontend: string; backend: string };
  vif: HostBackVif | null;
  /** The toolstack wrote this device (its guest was created). */
  written: boolean;
}

const key = (domid: number, devid: number): string => `${domid}/${devid}`;

export default async function main(dom: Domain, args: Dom0Args): Promise<void> {
  // A hotplug step of the user's (HostOptions.hotplug), loaded before anything starts so
  // that a module that cannot load fails Domain-0's boot with its reason.
  const custom = args.hotplug == null ? null : await loadHotplug(args.hotplug);
  if (custom !== null && typeof custom !== "function")
    throw new PvnetError("EINVAL", `hotplug module ${args.hotplug}: its default export is not a function`);

  const report = (r: HostReport): void => dom.report(r);
  const log = (line: string): void => report({ t: "log", line });
  const trace = args.tracePath === null ? null : new XsTraceFile(args.tracePath);
  const feed = args.xsChanges === true ? new XsChangeFeed((r) => dom.report(r)) : null;
  const xenstored = new Xenstored({
    log,
    ...(trace === null ? {} : { trace: trace.write }),
    ...(feed === null ? {} : { onChange: feed.onChange }),
  });
  feed?.attach(xenstored.tree);
  const recs = new Map<string, VifRec>();
  const addRec = (spec: HostVif): void => {
    const paths = vifDevicePaths({ feDomid: spec.domid, beDomid: dom.domid, devid: spec.vif.devid });
    recs.set(key(spec.domid, spec.vif.devid), {
      spec,
      words: new Int32Array(spec.shared.status),
      rows: Array.from({ length: MAX_VIF_QUEUES }, (_, q) => queueRow(spec.shared.counters, q)),
      paths,
      vif: null,
      written: false,
    });
  };
  for (const spec of args.vifs) addRec(spec);
  let ops: Dom0VifOps | null = null;
  const svc = serveXenstore(dom, xenstored, {
    log,
    next: (from, data) => {
      if (from !== MACHINE || ops?.handle(from, data) === true) return;
      const m = data as { t?: unknown; domid?: unknown; name?: unknown; vifs?: unknown; id?: unknown } | null;
      if (m?.t === MSG_ADD_VIFS && typeof m.domid === "number") {
        if (Array.isArray(m.vifs)) for (const v of m.vifs as HostVif[]) addRec(v);
        return addVifs(svc.toolstack, m.domid, String(m.name));
      }
      if (m?.t === MSG_RESTART_BACKEND) return restartBackend();
      if (liveCaptures?.handle(m)) return;
      if (m?.t === MSG_RESOURCES && typeof m.id === "number")
        report({ t: "resources", id: m.id, counts: resources() });
    },
  });
  const xs = svc.toolstack;
  /** `pvnet capture` sessions (dom0-capture.ts), once the switches exist. */
  let liveCaptures: Dom0Captures | null = null;
  let server: XsSocketServer | null = null;
  try {
    if (args.socketPath !== null) server = await XsSocketServer.listen(xenstored, args.socketPath, { log });
  } catch (e) {
    trace?.close();
    throw e;
  }
  const switches = new Map(
    args.bridges.map((b) => [b, new ValeSwitch(b, { offloadCounters: args.offloadCounters?.[b] })]),
  );
  liveCaptures = new Dom0Captures(switches, (r) => dom.report(r));
  // Tap uplinks join before any vif, as a NIC is on its bridge before guests boot.
  let taps: TapUplink[] = [];
  try {
    taps = openTaps(switches, args.taps ?? [], log);
  } catch (e) {
    await server?.close();
    trace?.close();
    throw e;
  }
  // Captures tap their switches before any vif joins, so they hold every frame from the first.
  const captures: ValeCapture[] = [];
  try {
    for (const c of args.captures ?? []) {
      const sw = switches.get(c.bridge);
      if (sw !== undefined) captures.push(await ValeCapture.open(sw, { ...c, log }));
    }
  } catch (e) {
    await Promise.all(captures.map((c) => c.close().catch(() => undefined)));
    await server?.close();
    trace?.close();
    throw e;
  }
  // Uplinks join their switches before any vif, so a bind failure fails the boot with its reason.
  let uplinks: Dom0Uplinks;
  try {
    uplinks = await Dom0Uplinks.open(switches, args.uplinks ?? []);
  } catch (e) {
    await Promise.all(captures.map((c) => c.close().catch(() => undefined)));
    await server?.close();
    trace?.close();
    throw e;
  }

  // netmap's tools from other shells (vale-ctl, pkt-gen) reach the bridges through this.
  let netmapd: HostNetmapd | null = null;
  if (args.netmapdPath != null) {
    netmapd = await serveHostSwitches([...switches.values()], args.netmapdPath, log);
    report({ t: "netmapd", path: netmapd.path, note: netmapd.note });
  }

  /** The vif-bridge script's job: the vif joins its bridge, then hotplug-status says so. */
  const hotplug = async (rec: VifRec | undefined, vif: HostBackVif, info: BackVifInfo): Promise<void> => {
    // The vif's own script runs first (dom0-vif-ops.ts); pvnet's attach follows only if it exits 0.
    const ran =
      rec === undefined || ops === null ? null : await ops.runScript(rec.spec, info.backendDir, "online");
    if (ran !== null && !ran.ok) {
      rec!.words[VS_HOTPLUG] = -1;
      await ops!.hotplugError(info.backendDir, ran.message);
      return;
    }
    const bridge = await readOrUndefined(xs, `${info.backendDir}/${KEY_BRIDGE}`);
    const sw = bridge === undefined ? undefined : switches.get(bridge);
    if (typeof custom === "function") {
      const joinBridge = (): void => {
        if (sw === undefined)
          throw new PvnetError("ENOENT", `${vif.name}: no bridge ${bridge ?? "(bridge key missing)"}`);
        vif.joinSwitch(sw);
      };
      let ok = true;
      try {
        await (custom as VifHotplug)(vif as NetbackVif, { dom, bridge, joinBridge });
      } catch (e) {
        ok = false;
        log(`hotplug ${vif.name}: ${errText(e)}`);
      }
      if (rec !== undefined) rec.words[VS_HOTPLUG] = ok ? 1 : -1;
      await hotplugConnect(xs, info.backendDir, ok ? HOTPLUG_CONNECTED : HOTPLUG_ERROR);
      return;
    }
    if (sw === undefined) {
      log(`hotplug ${vif.name}: no bridge ${bridge ?? "(bridge key missing)"}`);
      if (rec !== undefined) rec.words[VS_HOTPLUG] = -1;
      await hotplugConnect(xs, info.backendDir, HOTPLUG_ERROR);
      return;
    }
    // The guest may have died while the script ran: a closed vif must not take a port.
    if (!(netback?.devices().some((d) => d.vif === vif) ?? false)) return;
    vif.joinSwitch(sw);
    await hotplugConnect(xs, info.backendDir, HOTPLUG_CONNECTED);
    if (rec !== undefined) rec.words[VS_HOTPLUG] = 1;
  };

  const openVif = (info: BackVifInfo): HostBackVif => {
    const rec = recs.get(key(info.frontDomid, info.devid));
    const vif = makeBackVif(dom, info, rec?.spec.vif.passthrough === true);
    if (rec !== undefined) rec.vif = vif;
    hotplug(rec, vif, info).catch((e: unknown) => log(`hotplug ${vif.name}: ${errText(e)}`));
    return vif;
  };

  let netback: NetbackDriver | null = null;
  try {
    netback = await NetbackDriver.start(dom, xs, { openVif, log });
  } catch (e) {
    // A host without a working netback still serves xenstore: the tree can be read.
    log(`netback: ${errText(e)}`);
  }

  /** Reads both ends' state of a vif into its status words. */
  const readStates = async (rec: VifRec): Promise<void> => {
    const be = await readOrUndefined(xs, `${rec.paths.backend}/${KEY_STATE}`);
    const fe = await readOrUndefined(xs, `${rec.paths.frontend}/${KEY_STATE}`);
    Atomics.store(rec.words, VS_BACKEND_STATE, parseXenbusState(be));
    Atomics.store(rec.words, VS_FRONTEND_STATE, parseXenbusState(fe));
  };
  // Only a state key, or the removal of a directory holding one, moves a status word: the
  // dozens of other keys a handshake writes would each cost two reads (160 per guest).
  const onChange = (path: string): void => {
    for (const rec of recs.values()) {
      if (movesState(path, rec.paths.backend) || movesState(path, rec.paths.frontend))
        readStates(rec).catch((e: unknown) => log(`status ${path}: ${errText(e)}`));
    }
  };
  /** The watches this program holds, by path: a dead guest's is closed with it. */
  const watching = new Map<string, Promise<XsWatch | null>>();
  const watch = (path: string): void => {
    if (watching.has(path)) return;
    const w = xs.watch(path).then(
      (w) => {
        void (async () => {
          for await (const ev of w) onChange(ev.path);
        })();
        return w;
      },
      (e: unknown) => {
        log(`watch ${path}: ${errText(e)}`);
        return null;
      },
    );
    watching.set(path, w);
  };
  const unwatch = async (path: string): Promise<void> => {
    const w = watching.get(path);
    watching.delete(path);
    await (await w)?.close().catch(() => undefined);
  };
  watch(`/local/domain/${dom.domid}/backend/vif`);
  ops = dom0VifOps({
    dom,
    xs,
    log,
    has: (domid, devid) => recs.has(key(domid, devid)),
    addRec,
    written: async (domid, devid) => {
      const rec = recs.get(key(domid, devid));
      if (rec === undefined) return;
      watch(guestDevicesPath(domid));
      rec.written = true;
      await readStates(rec);
    },
    dropRec: async (domid, devid) => {
      const rec = recs.get(key(domid, devid));
      if (rec === undefined) return;
      await forgetRec(key(domid, devid), rec);
    },
    pathCleanup,
  });

  /**
   * libxl's part: the guest's name (dom0's, readable by the guest), then one transaction
   * per device; the host is told when all are written.
   */
  async function addVifs(client: XsClient, domid: number, name: string): Promise<void> {
    try {
      await client.transaction(async (tx) => {
        await tx.write(`${domainPath(domid)}/${KEY_NAME}`, name);
        await tx.setPerms(`${domainPath(domid)}/${KEY_NAME}`, [
          { letter: "n", domid: 0 },
          { letter: "r", domid },
        ]);
      });
      for (const rec of recs.values()) {
        if (rec.spec.domid !== domid) continue;
        watch(guestDevicesPath(domid));
        await writeVifDevice(client, {
          feDomid: domid,
          beDomid: dom.domid,
          devid: rec.spec.vif.devid,
          vif: rec.spec.vif,
          trusted: rec.spec.vif.trusted,
        });
        rec.written = true;
        // The status shows what was written by the time the host hears of it.
        await readStates(rec);
      }
      report({ t: "vifs-added", domid });
    } catch (e) {
      report({ t: "vifs-added", domid, error: errText(e) });
    }
  }

  /**
   * The driver domain restarted, as a Xen host sees it: the old netback dies (channels
   * closed, mappings ended, vifs off their switches, nothing written to xenstore), the
   * toolstack removes its backend directories, the frontends notice (bounded wait: a real
   * driver domain takes seconds to boot, so they always do), then a fresh netback starts
   * and the toolstack writes each backend directory again, leaving the frontends' alone.
   */
  let restarting = false;
  async function restartBackend(): Promise<void> {
    const t0 = performance.now();
    if (restarting) {
      report({ t: "backend-restarted", devices: 0, downMs: 0, totalMs: 0, error: "a restart is running" });
      return;
    }
    restarting = true;
    try {
      const old = netback;
      netback = null;
      if (old !== null)
        await withTimeout(old.kill(), 3000, "netback kill").catch((e: unknown) =>
          log(`netback kill: ${errText(e)}`),
        );
      const live: VifRec[] = [];
      for (const rec of recs.values()) {
        try {
          rec.vif?.leaveSwitch(); // closed by kill already; a vif it never reached is not
        } catch (e) {
          log(`${rec.vif?.name ?? "vif"}: leaving the switch: ${errText(e)}`);
        }
        rec.vif = null;
        rec.words[VS_HOTPLUG] = 0;
        rec.words[VS_FATAL] = 0;
        // A guest that died keeps no device across the restart.
        if (!rec.written || dom.foreign(rec.spec.domid) === undefined) continue;
        if (await xs.exists(rec.paths.backend).catch(() => false)) live.push(rec);
      }
      await xs.transaction(async (tx) => {
        for (const rec of live) await tx.rm(rec.paths.backend);
      });
      const downMs = performance.now() - t0;
      await Promise.all(
        live.map((rec) =>
          waitForState(xs, `${rec.paths.frontend}/${KEY_STATE}`, (s) => s !== XenbusState.Connected, {
            timeoutMs: 2000,
          }).catch(() => undefined),
        ),
      );
      netback = await NetbackDriver.start(dom, xs, { openVif, log });
      for (const rec of live)
        await writeVifDevice(xs, {
          feDomid: rec.spec.domid,
          beDomid: dom.domid,
          devid: rec.spec.vif.devid,
          vif: rec.spec.vif,
          trusted: rec.spec.vif.trusted,
          backendOnly: true,
        });
      report({ t: "backend-restarted", devices: live.length, downMs, totalMs: performance.now() - t0 });
    } catch (e) {
      const ms = performance.now() - t0;
      report({ t: "backend-restarted", devices: 0, downMs: ms, totalMs: ms, error: errText(e) });
    } finally {
      restarting = false;
    }
  }

  /**
   * libxl's device removal when a domain goes (@releaseDomain): the backend is told it is
   * offline, netback (which saw the death) gets a bounded moment to reach Closed, then the
   * guest's backend directories and /libxl/<domid> are removed, which makes netback drop
   * the devices. The frontend side went with the guest's home (xenstored's release).
   */
  const beBase = `/local/domain/${dom.domid}/backend/vif`;
  const removeGuest = async (domid: number): Promise<void> => {
    await unwatch(guestDevicesPath(domid));
    const dir = `${beBase}/${domid}`;
    let devids: string[] = [];
    try {
      devids = await xs.directory(dir);
    } catch {
      // no devices (ENOENT): only libxl's entry may be left
    }
    await Promise.all(
      devids.map(async (devid) => {
        const be = `${dir}/${devid}`;
        try {
          if (!(await xs.exists(`${be}/${KEY_STATE}`))) return;
          await xs.write(`${be}/${KEY_ONLINE}`, "0");
          await waitForState(xs, `${be}/${KEY_STATE}`, (st) => st === XenbusState.Closed, {
            timeoutMs: 1000,
          });
        } catch {
          // removed meanwhile, or netback never got there: removed below all the same
        }
      }),
    );
    // Each with the parents it leaves empty (libxl__xs_path_cleanup); the error node too,
    // or every guest whose device failed would leave one behind.
    const home = domainPath(dom.domid);
    for (const [p, stop] of [
      [dir, home],
      [`${home}/error/backend/vif/${domid}`, home],
      [`${LIBXL_PATH}/${domid}`, LIBXL_PATH],
    ] as const)
      await pathCleanup(xs, p, stop).catch((e: unknown) => log(`rm ${p}: ${errText(e)}`));
    for (const [k, rec] of recs) if (rec.spec.domid === domid) await forgetRec(k, rec);
  };
  /** A vif whose device is gone: last status kept, its port released, its script run `offline`. */
  async function forgetRec(k: string, rec: VifRec): Promise<void> {
    // Its last status stays readable: the host may still list it.
    await readStates(rec).catch(() => undefined);
    copyRec(rec);
    try {
      rec.vif?.leaveSwitch();
    } catch (e) {
      log(`${rec.vif?.name ?? "vif"}: leaving the switch: ${errText(e)}`);
    }
    recs.delete(k);
    if (rec.spec.vif.script !== undefined && ops !== null)
      await ops.runScript(rec.spec, rec.paths.backend, "offline");
  }
  const removing = new Set<Promise<void>>();
  dom.onDomainDestroyed((domid) => {
    const p = removeGuest(domid)
      .catch((e: unknown) => log(`removing dom${domid}'s devices: ${errText(e)}`))
      .finally(() => removing.delete(p));
    removing.add(p);
  });

  const resources = (): Dom0Resources => {
    let valePorts = 0;
    for (const sw of switches.values()) valePorts += sw.ports().length;
    return {
      // Filled in by the host from the machine's own port table (authoritative).
      dom0Ports: 0,
      dom0Mappings: dom.gnt.liveMappings,
      grantPins: dom.gnt.pinsHeld(),
      xenstoreRings: svc.guests.size,
      xenstoreWatches: xenstored.watches.total,
      xenstoreNodes: xenstored.tree.size,
      xenstoreConnections: [...xenstored.connections()].length,
      xenstoreDomains: xenstored.introduced.size,
      valePorts,
      dom0Timers: dom.timers.active,
      netbackVifs: netback?.devices().length ?? 0,
      stagedGrants: (netback?.devices() ?? []).reduce((n, d) => n + d.stagedGrants, 0),
      statusVifs: recs.size,
      evtchnLinks: dom.evtchn.sides.length,
    };
  };

  // Counters are copied, not shared: the vif owns its counter memory, and the host reads
  // a copy at most statusMs old. Nothing here allocates per tick.
  const xsTotals = new Float64Array(args.xsStats);
  const copyStatus = (): void => {
    const st = xenstored.stats;
    xsTotals[XS_REQUESTS] = st.requests;
    xsTotals[XS_ERRORS] = st.errors;
    xsTotals[XS_WATCH_EVENTS] = st.watchEvents;
    xsTotals[XS_CONNECTIONS] = st.connections;
    xsTotals[D0_LIVE_MAPPINGS] = dom.gnt.liveMappings;
    xsTotals[D0_XS_RINGS] = svc.guests.size;
    uplinks.publish();
    const devs = netback?.devices() ?? [];
    for (const d of devs) {
      const rec = recs.get(key(d.frontDomid, d.devid));
      if (rec === undefined) continue;
      rec.words[VS_QUEUES] = d.queues;
      rec.words[VS_RING_ORDER] = d.ringPageOrder;
      rec.words[VS_SPLIT] = d.splitEventChannels ? 1 : 0;
      rec.words[VS_FATAL] = d.error === undefined ? 0 : 1;
    }
    for (const rec of recs.values()) copyRec(rec);
  };
  function copyRec(rec: VifRec): void {
    Atomics.store(rec.words, VS_GNT_MAPS, dom.gnt.mappingsOf(rec.spec.domid).maps);
    const qs = rec.vif?.queueCounters() ?? [];
    const n = Math.min(qs.length, MAX_VIF_QUEUES);
    for (let q = 0; q < n; q++) {
      const src = qs[q]!.f64;
      if (src.length === VIF_QUEUE_COUNTERS.length) rec.rows[q]!.set(src);
    }
  }
  const tick = dom.timers.every(args.statusMs, copyStatus);

  dom.onShutdown(async () => {
    dom.timers.cancel(tick);
    copyStatus();
    // The tools' jobs end first: their ports leave the switches before the vifs do. Bounded
    // well inside the host's 3 s for Domain-0: a job that will not stop is cut off with it.
    await withTimeout(netmapd?.close() ?? Promise.resolve(), 1000, "netmapd close").catch((e: unknown) =>
      log(`netmapd close: ${errText(e)}`),
    );
    // Guests that went just before: their devices are removed before netback stops.
    await withTimeout(Promise.all(removing), 2000, "device removal").catch(() => undefined);
    // Backends close (their channels and mappings released) before anything else goes.
    if (netback !== null)
      await withTimeout(netback.stop(), 1500, "netback stop").catch((e: unknown) =>
        log(`netback stop: ${errText(e)}`),
      );
    for (const rec of recs.values()) {
      // netback's stop may have closed the vif (and left the switch) already.
      try {
        rec.vif?.leaveSwitch();
      } catch (e) {
        log(`${rec.vif?.name ?? "vif"}: leaving the switch: ${errText(e)}`);
      }
      await readStates(rec).catch(() => undefined);
    }
    await withTimeout(uplinks.close(), 1000, "uplink close").catch((e: unknown) =>
      log(`uplinks: ${errText(e)}`),
    );
    // Every vif has left its switch: the captures hold all they will get.
    liveCaptures?.stopAll("the host stopped");
    for (const t of taps) t.close();
    for (const c of captures) {
      await withTimeout(c.close(), 1000, "capture close").then(
        (s) => log(`capture ${c.bridge}: ${s.frames} frames to ${c.file}, ${s.drops} dropped`),
        (e: unknown) => log(`capture close ${c.file}: ${errText(e)}`),
      );
    }
    // What netback left mapped once it stopped: a leak check reads this after shutdown.
    xsTotals[D0_LIVE_MAPPINGS] = dom.gnt.liveMappings;
    xsTotals[D0_XS_RINGS] = svc.guests.size;
    for (const rec of recs.values())
      Atomics.store(rec.words, VS_GNT_MAPS, dom.gnt.mappingsOf(rec.spec.domid).maps);
    await server?.close();
    trace?.close();
  });
}

/** The module's default export; a module Node cannot load fails with programLoadError's line. */
async function loadHotplug(url: string): Promise<unknown> {
  try {
    await inheritLoader(url, process.execArgv, process.cwd());
    return ((await import(url)) as { default?: unknown }).default;
  } catch (e) {
    throw programLoadError(e, url, "hotplug module") ?? e;
  }
}

/** Removes `path`, then each parent below `stop` that it left empty. */
export async function pathCleanup(xs: XsClient, path: string, stop: string): Promise<void> {
  const quiet = (e: unknown): void => {
    if (!(e instanceof PvnetError && e.code === "ENOENT")) throw e;
  };
  const removed = await xs.rm(path).then(
    () => true,
    (e: unknown) => {
      quiet(e);
      return false;
    },
  );
  if (!removed) return; // nothing was there: no parent was left empty by us
  for (let p = parentOf(path); p.length > stop.length && p.startsWith(`${stop}/`); p = parentOf(p)) {
    // Checked and removed in one transaction: a child written meanwhile is never removed.
    const emptied = await xs.transaction(async (tx) => {
      const kids = await tx.directory(p).catch((e: unknown) => {
        quiet(e);
        return [];
      });
      if (kids.length > 0) return false;
      await tx.rm(p).catch(quiet);
      return true;
    });
    if (!emptied) return;
  }
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}

/** Where libxl writes a guest's vif frontends: Domain-0 follows it to show their states. */
function guestDevicesPath(domid: number): string {
  return `${domainPath(domid)}/device/vif`;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Whether a watch event at `path` can change the state key of the device directory `dir`. */
function movesState(path: string, dir: string): boolean {
  if (path.length > dir.length)
    return (
      path.length === dir.length + 1 + KEY_STATE.length &&
      path.endsWith(KEY_STATE) &&
      path.charCodeAt(dir.length) === 0x2f &&
      path.startsWith(dir)
    );
  return path === dir || (dir.startsWith(path) && dir.charCodeAt(path.length) === 0x2f);
}
