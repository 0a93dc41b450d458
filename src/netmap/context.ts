/**
 * Opening ports by name (libnetmap's nmport_open, netmap's nmctx): a context knows the
 * devices attached with netmap_attach (`netmap:NAME`), the pipes opened so far, and
 * subsystems that own other prefixes (VALE installs itself for `valeX:`). A context lives in
 * one thread; a bad name or an unknown device is a PvnetError saying what was expected.
 */
import { PvnetError } from "../base/errors.js";
import { isParseError } from "../wire/layout.js";
import type { NetmapAdapter } from "./adapter.js";
import type { HostRings } from "./host-rings.js";
import type { NetmapRegion } from "./mem.js";
import { MonitorAdapter } from "./monitor.js";
import { createPipe, type PipeDesc, PipeEnd } from "./pipe.js";
import { NetmapPort } from "./port.js";
import { type PortName, parsePortName } from "./port-name.js";

/** A device with native netmap support, as netmap_attach registers it. */
export interface NetmapDevice {
  readonly name: string;
  readonly adapter: NetmapAdapter;
  readonly region: NetmapRegion;
  /** Byte offsets of the NIC rings and of the host rings (empty when it has none). */
  readonly txRings: readonly number[];
  readonly rxRings: readonly number[];
  readonly hostTxRings: readonly number[];
  readonly hostRxRings: readonly number[];
  /** Syncs the host rings and takes transparent forwarding (none: no host stack). */
  readonly hostRings?: HostRings | null;
}

/** What nmport_open takes besides the name. */
export interface OpenOptions {
  /** nr_extra_bufs: spare buffers on the netmap_if's ni_bufs_head (fewer may be granted). */
  extraBufs?: number;
}

export type SubsystemOpener = (name: PortName, ctx: NetmapContext, opts: OpenOptions) => NetmapPort;

const PIPE_SLOTS = 1024;

export class NetmapContext {
  readonly #devices = new Map<string, NetmapDevice>();
  readonly #subsystems: {
    match: (subsystem: string) => boolean;
    open: SubsystemOpener;
    adapterOf?: (name: PortName) => NetmapAdapter | undefined;
  }[] = [];
  readonly #pipes = new Map<string, { region: NetmapRegion; desc: PipeDesc }>();
  /** Creates the region for a new pipe (a pipe lives in a region of its own here). */
  pipeRegion: ((slots: number) => NetmapRegion) | null = null;

  /** netmap_attach: `netmap:NAME` now opens this device. */
  attach(dev: NetmapDevice): void {
    if (this.#devices.has(dev.name))
      throw new PvnetError("EEXIST", `netmap device ${dev.name} is already attached`);
    this.#devices.set(dev.name, dev);
  }

  /** netmap_detach. */
  detach(name: string): void {
    this.#devices.delete(name);
  }

  /** The attached device called `name`, if any. */
  device(name: string): NetmapDevice | undefined {
    return this.#devices.get(name);
  }

  devices(): string[] {
    return [...this.#devices.keys()];
  }

  /** `adapterOf` lets monitors (`/t`, `/r`) find the adapter behind a name of the subsystem. */
  addSubsystem(
    match: (subsystem: string) => boolean,
    open: SubsystemOpener,
    adapterOf?: (name: PortName) => NetmapAdapter | undefined,
  ): void {
    this.#subsystems.push({ match, open, adapterOf });
  }

  /** nmport_open: binds the rings the name asks for; the port gets a netmap_if. */
  open(spec: string, opts: OpenOptions = {}): NetmapPort {
    const name = parsePortName(spec);
    if (isParseError(name)) throw new PvnetError("EINVAL", name.error);
    if (name.flags.zcopyMon)
      throw new PvnetError("EOPNOTSUPP", `${spec}: zero-copy monitors (/z) are not supported; use /t or /r`);
    if (name.flags.monitorTx || name.flags.monitorRx) return this.#openMonitor(name);
    if (name.pipe !== null) return this.#openPipe(name, opts);
    if (name.isVale || name.subsystem !== "netmap") {
      const sub = this.#subsystems.find((s) => s.match(name.subsystem));
      if (sub === undefined)
        throw new PvnetError("ENXIO", `No switch subsystem for "${name.subsystem}:" here`);
      return sub.open(name, this, opts);
    }
    const dev = this.#devices.get(name.port);
    if (dev === undefined)
      throw new PvnetError(
        "ENXIO",
        `No netmap device "${name.port}": attached are ${this.devices().join(", ") || "none"}`,
      );
    return bindDevice(dev, name, opts);
  }

  /** A copy monitor of the named port: `/t` its transmissions, `/r` its receptions. */
  #openMonitor(name: PortName): NetmapPort {
    let target: NetmapAdapter | undefined;
    if (name.isVale || name.subsystem !== "netmap")
      target = this.#subsystems.find((s) => s.match(name.subsystem))?.adapterOf?.(name);
    else target = this.#devices.get(name.port)?.adapter;
    if (target === undefined)
      throw new PvnetError("ENXIO", `${name.spec}: nothing to monitor (open the port first)`);
    const mon = new MonitorAdapter(target, { tx: name.flags.monitorTx, rx: name.flags.monitorRx });
    return new NetmapPort(mon.region, mon, [], [mon.rxRing]);
  }

  #openPipe(name: PortName, opts: OpenOptions): NetmapPort {
    const pipe = name.pipe!;
    const key = `${name.subsystem}:${name.port}{${pipe.id}`;
    let p = this.#pipes.get(key);
    if (p === undefined) {
      if (this.pipeRegion === null) throw new PvnetError("ENOMEM", "This context has no region for pipes");
      const region = this.pipeRegion(PIPE_SLOTS);
      p = { region, desc: createPipe(region, key, PIPE_SLOTS) };
      this.#pipes.set(key, p);
    }
    const end = new PipeEnd(p.region, p.desc, pipe.role === "master");
    const rxOnly = name.flags.rxOnly;
    const txOnly = name.flags.txOnly;
    return new NetmapPort(p.region, end, rxOnly ? [] : [end.txRing], txOnly ? [] : [end.rxRing], {
      ifName: name.spec.slice(name.subsystem.length + 1),
      extraBufs: opts.extraBufs,
    });
  }
}

/** The rings a registration mode selects on a device (NR_REG_*), with /R and /T. */
export function bindDevice(dev: NetmapDevice, name: PortName, opts: OpenOptions = {}): NetmapPort {
  let tx: readonly number[];
  let rx: readonly number[];
  switch (name.mode) {
    case "ALL_NIC":
      [tx, rx] = [dev.txRings, dev.rxRings];
      break;
    case "SW":
      [tx, rx] = [dev.hostTxRings, dev.hostRxRings];
      break;
    case "NIC_SW":
      [tx, rx] = [
        [...dev.txRings, ...dev.hostTxRings],
        [...dev.rxRings, ...dev.hostRxRings],
      ];
      break;
    case "ONE_NIC":
    case "ONE_SW": {
      const [t, r] =
        name.mode === "ONE_NIC" ? [dev.txRings, dev.rxRings] : [dev.hostTxRings, dev.hostRxRings];
      if (name.ringId >= Math.max(t.length, r.length))
        throw new PvnetError(
          "EINVAL",
          `${dev.name} has no ring ${name.ringId} (it has ${Math.max(t.length, r.length)})`,
        );
      [tx, rx] = [t.slice(name.ringId, name.ringId + 1), r.slice(name.ringId, name.ringId + 1)];
      break;
    }
  }
  if (tx.length + rx.length === 0)
    throw new PvnetError("EINVAL", `${name.spec}: ${dev.name} has no such rings`);
  return new NetmapPort(dev.region, dev.adapter, name.flags.rxOnly ? [] : tx, name.flags.txOnly ? [] : rx, {
    host: dev.hostRings ?? null,
    ifName: dev.name,
    extraBufs: opts.extraBufs,
  });
}
