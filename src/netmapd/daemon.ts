/**
 * netmapd: the process where pvnet's switches live, standing in for the kernel that netmap's
 * tools meet in. It holds the VALE switches (up to netmap's 8 bridges, numbered as netmap
 * numbers them), the persistent interfaces made with `vale-ctl -n`, and the pipes opened by
 * name; `vale-ctl` requests act on them, and pkt-gen jobs (job.ts) get their ports here.
 *
 * Every port a job uses is a pipe end its worker thread opens (zero copy across the pipe):
 * a VALE port is a `RemoteIf` on a switch served from this thread, a pipe is shared by the
 * two workers that open its ends. Ports live as netmap's do: an ephemeral `valeX:P` from its
 * first open to its close, a persistent `vi0` from -n to -r, a pipe while an end is open. A
 * port's rings are bound once at a time (EBUSY otherwise), as netmap binds them.
 */
import { PvnetError } from "../base/errors.js";
import { NetmapRegion, type RegionSpec } from "../netmap/mem.js";
import { createPipe, type PipeDesc, pipeRegionSpec } from "../netmap/pipe.js";
import { type PortName, parsePortName } from "../netmap/port-name.js";
import { noSuchInterface, portBusy } from "../pktgen/port-errors.js";
import { describePipeEnd, RemoteIf, type RemotePortDesc } from "../vale/remote.js";
import { PORT_COUNTERS, type PortCounter, ValeSwitch } from "../vale/switch.js";
import { isParseError } from "../wire/layout.js";
import type { ValeCtlCmd } from "./vale-ctl.js";

/** netmap's default number of VALE switches (the max_bridges module parameter). */
export const MAX_BRIDGES = 8;
const PIPE_SLOTS = 1024;

/** A port a job may use: what its worker opens, and what hands it back. */
export interface PortLease {
  readonly desc: RemotePortDesc;
  /** The switch's drop count toward this port (its RX ring full); null for a pipe end. */
  rxDrops(): number | null;
  release(): Promise<void>;
}

interface PipeRec {
  desc: PipeDesc;
  region: NetmapRegion;
  spec: RegionSpec;
  /** Ends opened so far (an end is bound once per pipe) and how many are open now. */
  used: { master: boolean; slave: boolean };
  open: number;
}

let nextPipeRegion = 9000;

export interface NetmapdOptions {
  /**
   * Switches that exist already and belong to someone else (a running host's bridges): they
   * take the first bridge slots, are listed and opened like the daemon's own, and stay when
   * their last port leaves.
   */
  readonly switches?: readonly ValeSwitch[];
}

export class Netmapd {
  readonly #bridges: (ValeSwitch | null)[];
  readonly #fixed: ReadonlySet<ValeSwitch>;
  /** Persistent interfaces (vale-ctl -n), by name. */
  readonly #ifs = new Map<string, RemoteIf>();
  /** Ephemeral VALE ports, by `valeX:P`. */
  readonly #ephemeral = new Map<string, RemoteIf>();
  readonly #pipes = new Map<string, PipeRec>();

  constructor(opts: NetmapdOptions = {}) {
    const fixed = opts.switches ?? [];
    this.#fixed = new Set(fixed);
    this.#bridges = [...fixed];
    // A host may have more bridges than netmap's default; each then has its slot.
    while (this.#bridges.length < MAX_BRIDGES) this.#bridges.push(null);
  }

  /** Runs one vale-ctl request; returns its output lines (failures throw PvnetError). */
  valeCtl(cmd: ValeCtlCmd): string[] {
    switch (cmd.op) {
      case "newif":
        return this.#newIf(cmd.name, cmd.slots);
      case "delif":
        return this.#delIf(cmd.name);
      case "attach":
        return this.#attach(cmd.name, cmd.host);
      case "detach":
        return this.#detach(cmd.name);
      case "list":
        return this.#list(cmd.name);
      case "info": {
        const vif = this.#ifs.get(cmd.name) ?? this.#ephemeral.get(cmd.name);
        if (vif === undefined) throw new PvnetError("ENXIO", `${cmd.name}: no such interface`);
        const out = [`${cmd.name}: 1 queues. ${vif.slots} slots.`];
        const bw = vif.bwrap;
        if (bw !== null)
          out.push(`${bw.name}: ${PORT_COUNTERS.map((c) => `${c} ${bw.counters.get(c)}`).join(" ")}`);
        return out;
      }
    }
  }

  /** Every switch port: bridge index, port index, name (vale-ctl's listing). */
  ports(): { bridge: number; port: number; name: string }[] {
    const out: { bridge: number; port: number; name: string }[] = [];
    this.#bridges.forEach((sw, bridge) => {
      for (const p of sw?.ports() ?? []) out.push({ bridge, port: p.index, name: p.name });
    });
    return out;
  }

  /** The switch called `name`, if it exists. */
  switch(name: string): ValeSwitch | undefined {
    return this.#bridges.find((s) => s?.name === name) ?? undefined;
  }

  /** The counters of the switch port `valeX:P`, if it exists. */
  counters(port: string): Record<PortCounter, number> | undefined {
    const all = [...this.#ifs.values(), ...this.#ephemeral.values()];
    const bw = all.find((v) => v.bwrap?.name === port)?.bwrap;
    if (bw == null) return undefined;
    return Object.fromEntries(PORT_COUNTERS.map((c) => [c, bw.counters.get(c)])) as Record<
      PortCounter,
      number
    >;
  }

  /** Persistent interfaces by name. */
  interfaces(): string[] {
    return [...this.#ifs.keys()];
  }

  /**
   * Binds the rings `spec` names for a job (nmport_open's part that the kernel does): a
   * VALE port (created on first open), a persistent interface, or a pipe end.
   */
  open(spec: string): PortLease {
    const name = parsePortName(spec);
    if (isParseError(name)) throw new PvnetError("EINVAL", name.error);
    if (name.flags.monitorTx || name.flags.monitorRx || name.flags.zcopyMon)
      throw new PvnetError(
        "EOPNOTSUPP",
        `${spec}: monitors are served in-process only (pvnet pkt-gen --local)`,
      );
    if (name.pipe !== null) return this.#openPipe(name);
    if (name.mode !== "ALL_NIC" && !(name.mode === "ONE_NIC" && name.ringId === 0))
      throw new PvnetError("EINVAL", `${spec}: ${name.port} has one ring pair and no host rings`);
    if (name.isVale) {
      const key = `${name.subsystem}:${name.port}`;
      const vif = this.#ifs.get(name.port);
      if (vif !== undefined && vif.bwrap?.name === key) return this.#lease(vif, null);
      return this.#openEphemeral(name.subsystem, key);
    }
    const vif = this.#ifs.get(name.port);
    if (vif === undefined) throw noSuchInterface(name.port);
    return this.#lease(vif, null);
  }

  /** Ends every job's binding and takes everything down. */
  async close(): Promise<void> {
    for (const v of [...this.#ephemeral.values(), ...this.#ifs.values()]) {
      await v.close();
      v.detach();
    }
    this.#ephemeral.clear();
    this.#ifs.clear();
    this.#bridges.fill(null);
  }

  #lease(vif: RemoteIf, onRelease: (() => void) | null): PortLease {
    if (vif.isOpen) throw portBusy(vif.bwrap?.name ?? vif.name);
    const desc = vif.open();
    let done = false;
    return {
      desc,
      rxDrops: () => vif.bwrap?.counters.get("rxDrops") ?? null,
      release: async () => {
        if (done) return;
        done = true;
        await vif.close();
        onRelease?.();
      },
    };
  }

  #openEphemeral(swName: string, key: string): PortLease {
    if (this.#ephemeral.has(key)) throw portBusy(key);
    const sw = this.#bridge(swName);
    const vif = new RemoteIf(key);
    vif.attach(sw, key);
    this.#ephemeral.set(key, vif);
    return this.#lease(vif, () => {
      vif.detach();
      this.#ephemeral.delete(key);
      this.#dropIfEmpty(sw);
    });
  }

  #openPipe(name: PortName): PortLease {
    const pipe = name.pipe!;
    const key = `${name.subsystem}:${name.port}{${pipe.id}`;
    const master = pipe.role === "master";
    let rec = this.#pipes.get(key);
    if (rec === undefined) {
      const spec = pipeRegionSpec(PIPE_SLOTS);
      const region = new NetmapRegion(nextPipeRegion++, spec);
      rec = {
        desc: createPipe(region, key, PIPE_SLOTS),
        region,
        spec,
        used: { master: false, slave: false },
        open: 0,
      };
      this.#pipes.set(key, rec);
    }
    const end = master ? "master" : "slave";
    if (rec.used[end]) throw portBusy(master ? key : key.replace("{", "}"));
    rec.used[end] = true;
    rec.open++;
    const r = rec;
    let done = false;
    return {
      desc: describePipeEnd(name.spec, r.region, r.spec, r.desc, master),
      rxDrops: () => null,
      release: async () => {
        if (done) return;
        done = true;
        if (--r.open === 0) this.#pipes.delete(key);
      },
    };
  }

  #newIf(name: string, slots: number): string[] {
    if (!/^[A-Za-z][A-Za-z0-9_.]{0,14}$/.test(name))
      throw new PvnetError(
        "EINVAL",
        `${name}: an interface name is a letter then up to 14 letters, digits, "_" or "." (IFNAMSIZ)`,
      );
    if (name.startsWith("vale"))
      throw new PvnetError("EINVAL", `${name}: names starting with "vale" are switches`);
    if (this.#ifs.has(name)) throw new PvnetError("EEXIST", `${name}: interface exists`);
    this.#ifs.set(name, new RemoteIf(name, slots));
    return [];
  }

  #delIf(name: string): string[] {
    const vif = this.#ifs.get(name);
    if (vif === undefined) throw new PvnetError("ENXIO", `${name}: no such interface`);
    if (vif.bwrap !== null) throw new PvnetError("EBUSY", `${name}: attached to a switch (detach it first)`);
    if (vif.isOpen) throw new PvnetError("EBUSY", `${name}: in use`);
    this.#ifs.delete(name);
    return [];
  }

  #attach(spec: string, host: boolean): string[] {
    const { sw, port } = this.#valeName(spec);
    const vif = this.#ifs.get(port);
    if (vif === undefined)
      throw new PvnetError(
        "ENXIO",
        `${port}: no such interface (create one with: pvnet vale-ctl -n ${port})`,
      );
    if (host) throw new PvnetError("EINVAL", `${port}: has no host rings (-h needs a NIC)`);
    if (vif.bwrap !== null) throw new PvnetError("EBUSY", `${port}: already attached as ${vif.bwrap.name}`);
    if (this.#ephemeral.has(`${sw}:${port}`))
      throw new PvnetError("EBUSY", `${sw}:${port} is already a port`);
    vif.attach(this.#bridge(sw), `${sw}:${port}`);
    return [];
  }

  #detach(spec: string): string[] {
    const { sw, port } = this.#valeName(spec);
    const vif = this.#ifs.get(port);
    const s = this.switch(sw);
    if (vif === undefined || s === undefined || vif.bwrap?.name !== `${sw}:${port}`)
      throw new PvnetError("ENXIO", `${spec}: not attached (ephemeral ports leave when closed)`);
    vif.detach();
    this.#dropIfEmpty(s);
    return [];
  }

  #list(spec: string | null): string[] {
    const all = this.ports();
    if (spec === null) return all.map((p) => `bridge:${p.bridge} port:${p.port} ${p.name}`);
    const p = all.find((q) => q.name === spec);
    if (p === undefined) throw new PvnetError("ENXIO", `${spec}: no such port`);
    return [`${spec} at bridge:${p.bridge} port:${p.port}`];
  }

  #valeName(spec: string): { sw: string; port: string } {
    const name = parsePortName(spec);
    if (isParseError(name)) throw new PvnetError("EINVAL", name.error);
    if (!name.isVale || name.pipe !== null) throw new PvnetError("EINVAL", `${spec}: expected valeX:IF`);
    return { sw: name.subsystem, port: name.port };
  }

  /** The switch `name`, created in the first free bridge slot. */
  #bridge(name: string): ValeSwitch {
    const have = this.switch(name);
    if (have !== undefined) return have;
    const i = this.#bridges.indexOf(null);
    if (i < 0)
      throw new PvnetError(
        "ENOSPC",
        `${name}: ${this.#bridges.length} switches exist already (netmap's max_bridges)`,
      );
    const sw = new ValeSwitch(name);
    this.#bridges[i] = sw;
    return sw;
  }

  /** A switch goes away with its last port, as netmap's do. */
  #dropIfEmpty(sw: ValeSwitch): void {
    if (this.#fixed.has(sw) || sw.ports().length > 0) return;
    const i = this.#bridges.indexOf(sw);
    if (i >= 0) this.#bridges[i] = null;
  }
}
