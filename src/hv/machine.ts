/**
 * The machine: pvnet's hypervisor control plane, in the main thread. It creates domains
 * (a worker each, with its own memory, grant frames and port table), keeps the
 * authoritative event-channel tables, answers hypercalls, relays control messages, and
 * destroys domains, closing their channels so that peers notice.
 *
 * Memory handed out: a guest worker receives its own memory, grant frames, port table and
 * its link pages, never another domain's memory. The privileged domain (0) also receives
 * every guest's memory, grant frames and active table, as a Xen driver domain can map them.
 */

import { EventEmitter } from "node:events";
import { existsSync } from "node:fs";
import { isAbsolute } from "node:path";
import type { EventLoopUtilization } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { PvnetError, toWireError, type WireError } from "../base/errors.js";
import { type LogSink, RateLog } from "../base/ratelog.js";
import { createBell, DomainBell } from "./bell.js";
import { pinThread, validCpus } from "./cpus.js";
import {
  createLink,
  EVTCHN_NR_PORTS,
  PORT_FREE,
  PORT_INTERDOMAIN,
  PORT_UNBOUND,
  portRemoteDom,
  portRemotePort,
  portState,
  portWord,
  SIDE_PENDING,
  SIDE_SEL,
  SIDE_SLEEPING,
  SIDE_WAKE,
  sideBase,
} from "./evtchn.js";
import { createActiveTable } from "./grant-ops.js";
import { createGrantTable, GRANTS_PER_FRAME } from "./grant-table.js";
import { LOOP_MODES, type LoopMode } from "./loop.js";
import { createMemory } from "./memory.js";
import { startWorkerWithNursery } from "./nursery.js";
import { createProbe, probeThreadId, readProbe, requestProbe, type ThreadSample } from "./thread-probe.js";
import type { DomainInit, ForeignInit, FromDomain, HypercallOp, ToDomain } from "./worker-proto.js";
import { MACHINE, parseFromDomain } from "./worker-proto.js";

export interface DomainSpec {
  name: string;
  /** Memory in 4 KiB pages. */
  pages: number;
  /** Grant table frames (512 entries each); default 4. */
  grantFrames?: number;
  /** URL (file:) of the program module. */
  program: string | URL;
  args?: unknown;
  loopMode?: LoopMode;
  /**
   * Privileged domain only: how many of one guest's grants it may hold mapped at once
   * (GNTST_no_device_space past that). Default: as many as the guest has grant entries.
   */
  grantMapsPerGuest?: number;
  /**
   * The domain thread's nice value (-20..19, Linux, per thread; default: the machine's): a
   * host of many guests gives them a higher one so Domain-0 keeps its share of the cores.
   */
  nice?: number;
  /** The CPUs the domain's thread may run on (xl.cfg's `cpus`, cpus.ts); default: any. */
  cpus?: readonly number[];
}

export interface DomainStatus {
  domid: number;
  name: string;
  privileged: boolean;
  pages: number;
  state: "starting" | "running" | "failed" | "stopped" | "destroyed";
  /** The mode its event loop was started in (a `block` domain with several links runs as `notify`). */
  loopMode: LoopMode;
  /** The CPUs its thread is bound to (`cpus`); absent: any. */
  cpus?: number[];
  channels: number;
  /** Messages the domain's worker posted that it may not send (bad shape, or not its to say): dropped. */
  badMessages: number;
  error?: WireError;
}

export interface MachineOptions {
  /** Where the rate-limited notes about dropped worker messages go (default: stderr). */
  log?: LogSink;
  /**
   * Each domain thread's young-generation semi-space, MB, fixed from its start (nursery.ts):
   * a benchmark's domains scavenge no garbage of the loop's sleeps within its windows. Costs
   * up to twice that in memory per busy domain. Default: V8's (1 MB, grown as objects survive).
   */
  nurseryMb?: number;
}

interface DomainRec {
  domid: number;
  name: string;
  privileged: boolean;
  worker: Worker;
  memory: SharedArrayBuffer;
  grantTable: SharedArrayBuffer;
  active: SharedArrayBuffer;
  portsSab: SharedArrayBuffer;
  probe: SharedArrayBuffer;
  /** Its thread's id once taken from the probe (#threadIdOf); 0 until then. */
  tid: number;
  ports: Uint32Array;
  /** The machine's own copy of the port table: the domain's shared copy is not trusted. */
  table: Uint32Array;
  links: Map<number, SharedArrayBuffer>;
  /** Block mode only: rung after each message posted (bell.ts). */
  bell: DomainBell | null;
  status: DomainStatus;
  /** The worker said it stopped (once; its status changes only when it exits). */
  saidStopped: boolean;
  exited: Promise<void>;
  destroying: Promise<void> | null;
}

export class Machine extends EventEmitter {
  readonly #doms = new Map<number, DomainRec>();
  #nextDomid = 0;
  readonly #workerUrl = new URL("./domain-worker.js", import.meta.url);
  readonly #log: RateLog;
  readonly #nurseryMb: number | undefined;

  constructor(opts: MachineOptions = {}) {
    super();
    this.#log = new RateLog(opts.log === undefined ? {} : { sink: opts.log });
    this.#nurseryMb = opts.nurseryMb;
  }

  get domids(): number[] {
    return [...this.#doms.keys()];
  }

  /**
   * Creates a domain and runs its program; resolves once `main` returned. The first domain
   * created is domain 0, the privileged one.
   */
  async createDomain(spec: DomainSpec): Promise<number> {
    const program = checkDomainSpec(spec);
    const privileged = this.#nextDomid === 0;
    // Domain-0 serves sockets, timers and every guest's link: it must never sleep its thread.
    if (privileged && spec.loopMode === "block")
      throw new PvnetError(
        "EINVAL",
        "Domain-0 cannot use loop mode block (notify, hybrid, adaptive or poll)",
      );
    const domid = this.#nextDomid++;
    const memory = createMemory(domid, spec.pages);
    const grantFrames = spec.grantFrames ?? 4;
    const grantTable = createGrantTable(grantFrames);
    const active = createActiveTable(grantFrames * GRANTS_PER_FRAME);
    const portsSab = new SharedArrayBuffer(EVTCHN_NR_PORTS * 4);
    const links = new Map<number, SharedArrayBuffer>();
    const bell = createBell();
    const dom0 = this.#doms.get(0);
    if (!privileged && dom0 !== undefined) {
      const link = createLink();
      links.set(0, link);
      dom0.links.set(domid, link);
    }
    const probe = createProbe();
    const init: DomainInit = {
      domid,
      name: spec.name,
      privileged,
      memory,
      grantTable,
      active: privileged ? active : null,
      ports: portsSab,
      links: [...links].map(([peer, sab]) => ({ peer, sab })),
      foreign: privileged ? [...this.#doms.values()].map(foreignOf) : [],
      program,
      args: spec.args ?? null,
      loopMode: spec.loopMode ?? "notify",
      bell,
      mapsPerDomain: spec.grantMapsPerGuest ?? null,
      nice: spec.nice ?? null,
      cpus: spec.cpus === undefined ? null : [...spec.cpus],
      probe,
    };
    const wopts = { workerData: init, name: `dom${domid}:${spec.name}` };
    const worker =
      this.#nurseryMb === undefined
        ? new Worker(this.#workerUrl, wopts)
        : startWorkerWithNursery(this.#workerUrl, wopts, this.#nurseryMb);
    const rec: DomainRec = {
      domid,
      name: spec.name,
      privileged,
      worker,
      memory,
      grantTable,
      active,
      portsSab,
      probe,
      tid: 0,
      ports: new Uint32Array(portsSab),
      table: new Uint32Array(EVTCHN_NR_PORTS),
      links,
      bell: spec.loopMode === "block" ? new DomainBell(bell, domid) : null,
      status: {
        domid,
        name: spec.name,
        privileged,
        pages: spec.pages,
        state: "starting",
        loopMode: spec.loopMode ?? "notify",
        ...(spec.cpus === undefined ? {} : { cpus: [...spec.cpus] }),
        channels: 0,
        badMessages: 0,
      },
      saidStopped: false,
      exited: new Promise((r) => worker.once("exit", () => r())),
      destroying: null,
    };
    this.#doms.set(domid, rec);
    if (!privileged && dom0 !== undefined) {
      this.#post(dom0, { t: "domain-added", foreign: foreignOf(rec) });
      this.#post(dom0, { t: "link-add", link: { peer: domid, sab: links.get(0)! } });
    }
    const ready = new Promise<number>((resolve, reject) => {
      // Everything a worker posts is guest input: checked, and what it may not say is
      // dropped and counted. Its status changes only on what it may say in its state.
      worker.on("message", (raw: unknown) => {
        if (rec.status.state === "destroyed") return;
        const m = parseFromDomain(raw);
        if (typeof m === "string") return this.#reject(rec, m);
        if (m.t === "ready") {
          if (rec.status.state !== "starting") return this.#reject(rec, "ready: not starting");
          rec.status.state = "running";
          // Taken now, before a guest's later code could rewrite it (a refusal is retried on use).
          try {
            this.#threadIdOf(rec);
          } catch {
            // Not said yet, or clashing: #threadIdOf refuses again, with the reason, when used.
          }
          resolve(domid);
        } else if (m.t === "failed") {
          if (rec.status.state !== "starting") return this.#reject(rec, "failed: not starting");
          rec.status.state = "failed";
          rec.status.error = m.error;
          this.emit("domain-failed", domid, m.error);
          reject(PvnetError.fromWire(m.error));
        } else this.#receive(rec, m);
      });
      worker.once("error", (e) => {
        rec.status.state = "failed";
        rec.status.error = toWireError(e);
        this.emit("domain-failed", domid, rec.status.error);
        reject(e);
      });
      worker.once("exit", () => {
        if (rec.status.state === "starting")
          reject(new PvnetError("EDOMAIN", `Domain ${domid} exited while starting`));
        if (rec.status.state !== "destroyed" && rec.status.state !== "failed") rec.status.state = "stopped";
      });
    });
    // Without a driver domain no guest can start, so a Domain-0 that fails gives its domid
    // back: the next createDomain is Domain-0 again. A guest's domid is spent, as in Xen.
    // Done before the caller's await resumes, so its next createDomain gets domid 0.
    if (privileged)
      ready.catch(() => {
        rec.status.state = "destroyed";
        for (let p = 1; p < EVTCHN_NR_PORTS; p++) if (rec.table[p] !== PORT_FREE) this.#close(rec, p);
        this.#doms.delete(domid);
        if (this.#nextDomid === domid + 1) this.#nextDomid = domid;
        void worker.terminate();
      });
    return ready;
  }

  /** Drops a message a domain may not send, counts it, and says so (rate-limited). */
  #reject(d: DomainRec, why: string): void {
    d.status.badMessages++;
    this.#log.log(
      `dom${d.domid}`,
      `pvnet: domain ${d.domid} (${d.name}): dropped a message from its worker: ${why}`,
    );
  }

  /** Sends a control message to a domain, from the machine. */
  post(domid: number, data: unknown): void {
    const d = this.#doms.get(domid);
    if (d === undefined) throw new PvnetError("ESRCH", `No domain ${domid}`);
    this.#post(d, { t: "msg", from: MACHINE, data });
  }

  /**
   * A domain's memory and grant table, for observers in the main thread that only read
   * (the web view samples ring indices there, as a debugger reads a guest's memory); the
   * contents are the domain's to write, so a reader validates every word it takes.
   */
  inspect(domid: number): { memory: SharedArrayBuffer; grantTable: SharedArrayBuffer } | undefined {
    const d = this.#doms.get(domid);
    if (d === undefined || d.status.state === "destroyed") return undefined;
    return { memory: d.memory, grantTable: d.grantTable };
  }

  status(): DomainStatus[] {
    return [...this.#doms.values()].map((d) => ({ ...d.status, channels: this.channels(d.domid) }));
  }

  /**
   * How busy a domain's thread has been (Node's event-loop utilization of its worker, the
   * share of time not idle), since `since` if given; undefined for an unknown domain.
   */
  loopUtilization(domid: number, since?: EventLoopUtilization): EventLoopUtilization | undefined {
    const w = this.#doms.get(domid)?.worker;
    if (w === undefined) return undefined;
    return since === undefined
      ? w.performance.eventLoopUtilization()
      : w.performance.eventLoopUtilization(since);
  }

  /**
   * Binds a running domain's thread to `cpus` (xl vcpu-pin; cpus.ts): its status says so once
   * done. Rejects for an unknown or stopped domain, or where the thread cannot be bound.
   */
  async setCpus(domid: number, cpus: readonly number[]): Promise<void> {
    const d = this.#doms.get(domid);
    if (d === undefined || d.status.state === "destroyed" || d.status.state === "stopped")
      throw new PvnetError("ESRCH", `no running domain ${domid}`);
    if (!validCpus(cpus)) throw new PvnetError("EINVAL", "cpus: a non-empty list of CPU numbers");
    await pinThread(this.#threadIdOf(d), cpus);
    d.status.cpus = [...cpus];
  }

  /** A domain thread's kernel id (thread-probe.ts), -1 until it has said or where there is none. */
  threadId(domid: number): number {
    const d = this.#doms.get(domid);
    return d === undefined ? -1 : probeThreadId(d.probe);
  }

  /**
   * The thread id to act on for `d` (to bind it to CPUs). The probe's word is written in the
   * domain's thread, where guest code runs: the id is taken once, when the domain reported
   * ready or first asked for, and refused if it is this process's main thread or another
   * domain's, so a guest cannot point an operation at a thread not its own.
   */
  #threadIdOf(d: DomainRec): number {
    if (d.tid > 0) return d.tid;
    const tid = probeThreadId(d.probe);
    if (tid < 0) throw new PvnetError("EAGAIN", `domain ${d.domid}'s thread has not said its id yet`);
    const clash =
      tid === process.pid ||
      [...this.#doms.values()].some((o) => o !== d && (o.tid === tid || probeThreadId(o.probe) === tid));
    if (clash) throw new PvnetError("EPERM", `domain ${d.domid} names a thread not its own (${tid})`);
    d.tid = tid;
    return tid;
  }

  /**
   * A domain thread's CPU time and GC counts so far (thread-probe.ts), for benchmarks that
   * take two and subtract; undefined for an unknown domain.
   */
  threadSample(domid: number): ThreadSample | undefined {
    const d = this.#doms.get(domid);
    return d === undefined ? undefined : readProbe(d.probe);
  }

  /**
   * As threadSample, with the allocation figure the domain's thread writes when asked
   * (allocBytes: NaN if it did not answer within `timeoutMs`, e.g. a thread long asleep in
   * Atomics.wait); costs that thread one event-loop turn.
   */
  async threadSampleNow(domid: number, timeoutMs?: number): Promise<ThreadSample | undefined> {
    const d = this.#doms.get(domid);
    if (d === undefined) return undefined;
    const fresh = await requestProbe(d.probe, timeoutMs);
    const s = readProbe(d.probe);
    return fresh ? s : { ...s, allocBytes: Number.NaN };
  }

  /** Live (unbound or interdomain) event-channel ports of a domain. */
  channels(domid: number): number {
    const d = this.#doms.get(domid);
    if (d === undefined) return 0;
    let n = 0;
    for (let p = 1; p < EVTCHN_NR_PORTS; p++) if (d.table[p] !== PORT_FREE) n++;
    return n;
  }

  /**
   * Destroys a domain at once, as `xl destroy` does: the worker is terminated, its ports
   * are closed (peers' ends become unbound and are told), and the privileged domain is told
   * so that it ends its mappings of the dead domain's memory.
   */
  destroyDomain(domid: number): Promise<void> {
    const d = this.#doms.get(domid);
    if (d === undefined) throw new PvnetError("ESRCH", `No domain ${domid}`);
    // A second call while the worker is being terminated waits for the first.
    d.destroying ??= this.#destroy(d);
    return d.destroying;
  }

  /**
   * Shuts one guest down, as `xl shutdown` does: the domain is asked to stop (its program's
   * shutdown hooks run: frontends close in order), terminated if it has not exited within
   * `timeoutMs`, then released as a destroyed domain is (ports closed, Domain-0 told).
   */
  shutdownDomain(domid: number, timeoutMs = 2000): Promise<void> {
    const d = this.#doms.get(domid);
    if (d === undefined) throw new PvnetError("ESRCH", `No domain ${domid}`);
    if (d.privileged) throw new PvnetError("EINVAL", "Domain-0 stops with the machine (shutdown)");
    d.destroying ??= this.#shutdownOne(d, timeoutMs);
    return d.destroying;
  }

  async #shutdownOne(d: DomainRec, timeoutMs: number): Promise<void> {
    if (d.status.state === "running" || d.status.state === "starting") this.#post(d, { t: "shutdown" });
    const done = await Promise.race([d.exited.then(() => true), delay(timeoutMs).then(() => false)]);
    if (!done) await d.worker.terminate();
    d.status.state = "stopped";
    this.#release(d);
    this.#doms.delete(d.domid);
    this.emit("domain-destroyed", d.domid);
  }

  async #destroy(d: DomainRec): Promise<void> {
    d.status.state = "destroyed";
    await d.worker.terminate();
    this.#release(d);
    this.#doms.delete(d.domid);
    this.emit("domain-destroyed", d.domid);
  }

  /**
   * A domain's worker is gone: its ports are closed (peers told), its links removed, and
   * the privileged domain told, so that it ends its mappings and xenstored releases it
   * (@releaseDomain), as Xen does for a domain that died or shut down.
   */
  #release(d: DomainRec): void {
    const domid = d.domid;
    for (let p = 1; p < EVTCHN_NR_PORTS; p++) if (d.table[p] !== PORT_FREE) this.#close(d, p);
    for (const [peer] of d.links) {
      const pd = this.#doms.get(peer);
      if (pd === undefined) continue;
      pd.links.delete(domid);
      this.#post(pd, { t: "link-remove", peer: domid });
    }
    const dom0 = this.#doms.get(0);
    if (dom0 !== undefined && dom0 !== d) this.#post(dom0, { t: "domain-destroyed", domid });
  }

  /** Asks every domain to shut down (guests first), then waits for their workers to end. */
  async shutdown(timeoutMs = 2000): Promise<void> {
    const order = [...this.#doms.values()].sort((a, b) => b.domid - a.domid);
    for (const d of order) {
      if (d.status.state === "running" || d.status.state === "starting") this.#post(d, { t: "shutdown" });
      const done = await Promise.race([d.exited.then(() => true), delay(timeoutMs).then(() => false)]);
      if (!done) await d.worker.terminate();
      d.status.state = "stopped";
      // Domain-0 (shut down last) releases the guest before it stops: nothing it mapped of
      // the guest outlives the guest.
      if (!d.privileged) this.#release(d);
    }
    this.#doms.clear();
  }

  #post(d: DomainRec, m: ToDomain): void {
    d.worker.postMessage(m);
    d.bell?.ring(d.links);
  }

  #receive(d: DomainRec, m: FromDomain): void {
    switch (m.t) {
      case "hcall":
        this.#hypercall(d, m.id, m.op, m.args);
        return;
      case "msg": {
        if (m.to === MACHINE) {
          this.emit("message", d.domid, m.data);
          return;
        }
        // A guest's toolstack messages go to Domain-0 only, as a Xen guest has no channel
        // to another guest but through the driver domain.
        if (!d.privileged && m.to !== 0) {
          this.#reject(d, `msg: a guest may not write to domain ${m.to}`);
          return;
        }
        const to = this.#doms.get(m.to);
        if (to !== undefined && to.status.state !== "destroyed")
          this.#post(to, { t: "msg", from: d.domid, data: m.data });
        return;
      }
      case "report":
        this.emit("report", d.domid, m.data);
        return;
      case "stopped":
        // Said once, on the way out; the state follows the worker's exit, not the claim.
        if (d.saidStopped) this.#reject(d, "stopped: said twice");
        d.saidStopped = true;
        return;
      default:
        return;
    }
  }

  #hypercall(d: DomainRec, id: number, op: HypercallOp, args: Record<string, number>): void {
    try {
      const value = this.#do(d, op, args);
      this.#post(d, { t: "hret", id, ok: true, value });
    } catch (e) {
      this.#post(d, { t: "hret", id, ok: false, error: toWireError(e) });
    }
  }

  #do(d: DomainRec, op: HypercallOp, args: Record<string, number>): unknown {
    switch (op) {
      case "evtchn_alloc_unbound":
        return this.#allocUnbound(d, args.remoteDom);
      case "evtchn_bind_interdomain":
        return this.#bindInterdomain(d, args.remoteDom, args.remotePort);
      case "evtchn_close":
        this.#checkPort(args.port);
        if (d.table[args.port] === PORT_FREE)
          throw new PvnetError("EINVAL", `Port ${args.port} is not in use`);
        this.#close(d, args.port);
        return 0;
      case "evtchn_status": {
        this.#checkPort(args.port);
        const w = d.table[args.port];
        return { state: portState(w), remoteDom: portRemoteDom(w), remotePort: portRemotePort(w) };
      }
      default:
        throw new PvnetError("ENOSYS", `Unknown hypercall ${String(op)}`);
    }
  }

  #checkPort(port: unknown): asserts port is number {
    if (typeof port !== "number" || !Number.isInteger(port) || port <= 0 || port >= EVTCHN_NR_PORTS)
      throw new PvnetError("EINVAL", `Port ${String(port)} out of range 1..${EVTCHN_NR_PORTS - 1}`);
  }

  #allocUnbound(d: DomainRec, remoteDom: number): number {
    const r = this.#doms.get(remoteDom);
    if (r === undefined || r.status.state === "destroyed")
      throw new PvnetError("ESRCH", `No domain ${remoteDom}`);
    const port = this.#freePort(d);
    this.#setPort(d, port, portWord(PORT_UNBOUND, remoteDom, 0));
    return port;
  }

  #bindInterdomain(d: DomainRec, remoteDom: number, remotePort: number): number {
    const r = this.#doms.get(remoteDom);
    if (r === undefined || r.status.state === "destroyed")
      throw new PvnetError("ESRCH", `No domain ${remoteDom}`);
    this.#checkPort(remotePort);
    const rw = r.table[remotePort];
    if (portState(rw) !== PORT_UNBOUND || portRemoteDom(rw) !== d.domid)
      throw new PvnetError(
        "EINVAL",
        `Port ${remotePort} of domain ${remoteDom} is not unbound for domain ${d.domid}`,
      );
    const link = d.links.get(remoteDom);
    if (link === undefined)
      throw new PvnetError(
        "ENOSYS",
        `No event link between domains ${d.domid} and ${remoteDom} (only guest-dom0)`,
      );
    const port = this.#freePort(d);
    this.#setPort(d, port, portWord(PORT_INTERDOMAIN, remoteDom, remotePort));
    this.#setPort(r, remotePort, portWord(PORT_INTERDOMAIN, d.domid, port));
    // Xen marks the binder's new port pending, in case the peer signalled already.
    const w = new Int32Array(link);
    const base = sideBase(d.domid, remoteDom);
    Atomics.or(w, base + SIDE_PENDING + (port >>> 5), 1 << (port & 31));
    Atomics.or(w, base + SIDE_SEL + (port >>> 10), 1 << ((port >>> 5) & 31));
    if (Atomics.load(w, base + SIDE_SLEEPING) !== 0) {
      Atomics.add(w, base + SIDE_WAKE, 1);
      Atomics.notify(w, base + SIDE_WAKE);
    }
    this.#post(r, { t: "evtchn-bound", port: remotePort, remoteDom: d.domid, remotePort: port });
    return port;
  }

  #close(d: DomainRec, port: number): void {
    const w = d.table[port];
    if (portState(w) === PORT_INTERDOMAIN) {
      const r = this.#doms.get(portRemoteDom(w));
      const rp = portRemotePort(w);
      if (
        r !== undefined &&
        portState(r.table[rp]) === PORT_INTERDOMAIN &&
        portRemoteDom(r.table[rp]) === d.domid
      ) {
        this.#setPort(r, rp, portWord(PORT_UNBOUND, d.domid, 0));
        this.#post(r, { t: "evtchn-closed", port: rp });
      }
    }
    this.#setPort(d, port, PORT_FREE);
  }

  #freePort(d: DomainRec): number {
    for (let p = 1; p < EVTCHN_NR_PORTS; p++) if (d.table[p] === PORT_FREE) return p;
    throw new PvnetError("ENOSPC", `Domain ${d.domid} has no free event-channel port`);
  }

  #setPort(d: DomainRec, port: number, word: number): void {
    d.table[port] = word;
    Atomics.store(d.ports, port, word);
  }
}

function foreignOf(d: DomainRec): ForeignInit {
  return { domid: d.domid, name: d.name, memory: d.memory, grantTable: d.grantTable, active: d.active };
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/** Largest domain memory: 1 GiB of 4 KiB pages (a SharedArrayBuffer per domain). */
export const MAX_DOMAIN_PAGES = 262144;
/** Xen's default max_grant_frames. */
export const MAX_GRANT_FRAMES = 64;

/**
 * Checks a DomainSpec before anything is allocated, so a bad spec names its field
 * (EINVAL) and a missing program file says so (ENOENT) instead of failing in the worker.
 * Returns the program as a URL string (an absolute path is taken as a file).
 */
export function checkDomainSpec(spec: DomainSpec): string {
  const bad = (field: string, want: string, got: unknown): never => {
    throw new PvnetError(
      "EINVAL",
      `createDomain: ${field} must be ${want}, got ${JSON.stringify(got) ?? String(got)}`,
    );
  };
  if (typeof spec !== "object" || spec === null) bad("spec", "an object", spec);
  if (typeof spec.name !== "string" || spec.name.length === 0 || spec.name.length > 64)
    bad("name", "a string of 1 to 64 characters", spec.name);
  if (!Number.isInteger(spec.pages) || spec.pages < 1 || spec.pages > MAX_DOMAIN_PAGES)
    bad("pages", `an integer from 1 to ${MAX_DOMAIN_PAGES}`, spec.pages);
  const gf = spec.grantFrames;
  if (gf !== undefined && (!Number.isInteger(gf) || gf < 1 || gf > MAX_GRANT_FRAMES))
    bad("grantFrames", `an integer from 1 to ${MAX_GRANT_FRAMES}`, gf);
  const maps = spec.grantMapsPerGuest;
  if (maps !== undefined && (!Number.isInteger(maps) || maps < 1))
    bad("grantMapsPerGuest", "a positive integer", maps);
  const nice = spec.nice;
  if (nice !== undefined && (!Number.isInteger(nice) || nice < -20 || nice > 19))
    bad("nice", "an integer from -20 to 19", nice);
  const cpus = spec.cpus;
  if (cpus !== undefined && !validCpus(cpus)) bad("cpus", "a non-empty list of CPU numbers", cpus);
  if (spec.loopMode !== undefined && !LOOP_MODES.includes(spec.loopMode))
    bad("loopMode", LOOP_MODES.join(", "), spec.loopMode);
  const program = spec.program;
  if (!(program instanceof URL) && typeof program !== "string") bad("program", "a URL or a path", program);
  let url: URL;
  try {
    url = program instanceof URL ? program : isAbsolute(program) ? pathToFileURL(program) : new URL(program);
  } catch {
    return bad("program", "a file: URL or an absolute path", program);
  }
  if (url.protocol === "file:" && !existsSync(fileURLToPath(url)))
    throw new PvnetError("ENOENT", `createDomain: no program at ${fileURLToPath(url)}`);
  return url.href;
}
