/**
 * The runtime a domain's program sees inside its worker: its memory and page allocator,
 * its grant table, grant operations, event channels, event loop, timers, and the
 * hypercalls that go to the machine. A guest holds only its own memory; the privileged
 * domain also holds every guest's memory, grant frames and active table, which is what
 * lets its GrantOps map and copy.
 */
import type { MessagePort } from "node:worker_threads";
import { PvnetError } from "../base/errors.js";
import { RateLog } from "../base/ratelog.js";
import { memOf } from "../wire/mem.js";
import { EventChannels } from "./evtchn.js";
import { GrantOps, grantingDomain } from "./grant-ops.js";
import { GrantTable } from "./grant-table.js";
import { GrantTransfer } from "./grant-transfer.js";
import { EventLoop } from "./loop.js";
import { type DomainMemory, memoryOf, PageAllocator } from "./memory.js";
import { NodeTimers, type Timers } from "./timer.js";
import type { DomainInit, ForeignInit, FromDomain, HypercallOp, ToDomain } from "./worker-proto.js";

/** A control-message handler; an async one's rejection is caught and logged like a throw. */
export type MessageHandler = (from: number, data: unknown) => void | Promise<void>;

export class Domain {
  readonly domid: number;
  readonly name: string;
  readonly privileged: boolean;
  readonly memory: DomainMemory;
  readonly pages: PageAllocator;
  readonly grants: GrantTable;
  readonly gnt: GrantOps;
  /** GNTTABOP_transfer of this domain's pages (only a domain holding guests' memory can). */
  readonly xfer: GrantTransfer;
  readonly evtchn: EventChannels;
  readonly loop: EventLoop;
  readonly timers: Timers;
  readonly #port: MessagePort;
  readonly #foreign = new Map<number, DomainMemory>();
  readonly #calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #nextCall = 1;
  readonly #onMessage: MessageHandler[] = [];
  readonly #onDestroyed: ((domid: number) => void)[] = [];
  readonly #onAdded: ((domid: number) => void)[] = [];
  readonly #onClosed: ((port: number) => void)[] = [];
  readonly #onShutdown: (() => void | Promise<void>)[] = [];
  readonly #log = new RateLog();
  /** Handlers (messages, domain and port notices) that threw or rejected: logged, not fatal. */
  handlerErrors = 0;

  constructor(init: DomainInit, port: MessagePort) {
    this.domid = init.domid;
    this.name = init.name;
    this.privileged = init.privileged;
    this.#port = port;
    this.memory = memoryOf(init.domid, init.memory);
    this.pages = new PageAllocator(this.memory.nPages);
    this.grants = new GrantTable(init.domid, memOf(init.grantTable));
    this.gnt = new GrantOps(init.domid, this.memory, { mapsPerDomain: init.mapsPerDomain ?? undefined });
    this.xfer = new GrantTransfer(init.domid, this.memory, (d) => this.gnt.granting(d));
    if (init.active !== null) {
      this.gnt.addDomain(
        grantingDomain(init.domid, init.memory, memOf(init.grantTable), init.active, this.memory.mem),
      );
    }
    for (const f of init.foreign) this.#addForeign(f);
    this.timers = new NodeTimers();
    this.evtchn = new EventChannels(init.domid, init.ports, { timers: this.timers });
    for (const l of init.links) this.evtchn.addLink(l.peer, l.sab);
    const timers = this.timers;
    this.loop = new EventLoop(this.evtchn, {
      mode: init.loopMode,
      bell: new Int32Array(init.bell),
      nextTimerMs: () => timers.nextDueMs(),
    });
    port.on("message", (m: ToDomain) => this.#receive(m));
  }

  /** Another domain's memory (privileged domains only; undefined otherwise). */
  foreign(domid: number): DomainMemory | undefined {
    return this.#foreign.get(domid);
  }

  evtchnAllocUnbound(remoteDom: number): Promise<number> {
    return this.#hypercall("evtchn_alloc_unbound", { remoteDom }) as Promise<number>;
  }

  evtchnBindInterdomain(remoteDom: number, remotePort: number): Promise<number> {
    return this.#hypercall("evtchn_bind_interdomain", { remoteDom, remotePort }) as Promise<number>;
  }

  async evtchnClose(port: number): Promise<void> {
    this.evtchn.off(port);
    await this.#hypercall("evtchn_close", { port });
  }

  /** Sends a control message to another domain (or MACHINE) through the toolstack. */
  post(to: number, data: unknown): void {
    this.#send({ t: "msg", to, data });
  }

  /** Adds a handler for control messages; every handler sees every message. */
  onMessage(h: MessageHandler): void {
    this.#onMessage.push(h);
  }

  /** Publishes data to the machine (status, results). */
  report(data: unknown): void {
    this.#send({ t: "report", data });
  }

  /** Calls `fn` when a domain is destroyed; returns what removes it (a driver that stops). */
  onDomainDestroyed(fn: (domid: number) => void): () => void {
    return listen(this.#onDestroyed, fn);
  }

  onDomainAdded(fn: (domid: number) => void): void {
    this.#onAdded.push(fn);
  }

  /**
   * The peer of one of our ports closed its end: the port is unbound again. Returns what
   * removes `fn` (a driver that closes).
   */
  onPeerClosed(fn: (port: number) => void): () => void {
    return listen(this.#onClosed, fn);
  }

  onShutdown(fn: () => void | Promise<void>): void {
    this.#onShutdown.push(fn);
  }

  async shutdown(): Promise<void> {
    // A hook that fails must not keep the domain from stopping (nor reject into nowhere).
    for (const fn of this.#onShutdown) {
      try {
        await fn();
      } catch (e) {
        this.#handlerError("shutdown", e);
      }
    }
    this.timers.cancelAll();
    this.loop.stop();
    this.#send({ t: "stopped" });
    this.#port.close();
  }

  #addForeign(f: ForeignInit): void {
    const mem = memoryOf(f.domid, f.memory);
    this.#foreign.set(f.domid, mem);
    this.gnt.addDomain(grantingDomain(f.domid, f.memory, memOf(f.grantTable), f.active, mem.mem));
  }

  #guard(what: string, fn: () => unknown): void {
    try {
      const r = fn();
      if (r instanceof Promise) r.catch((e: unknown) => this.#handlerError(what, e));
    } catch (e) {
      this.#handlerError(what, e);
    }
  }

  #handlerError(what: string, e: unknown): void {
    this.handlerErrors++;
    this.#log.log(what, `pvnet: domain ${this.domid}: ${what} handler failed: ${String(e)}`);
  }

  #hypercall(op: HypercallOp, args: Record<string, number>): Promise<unknown> {
    const id = this.#nextCall++;
    return new Promise((resolve, reject) => {
      this.#calls.set(id, { resolve, reject });
      this.#send({ t: "hcall", id, op, args });
    });
  }

  #send(m: FromDomain): void {
    this.#port.postMessage(m);
  }

  #receive(m: ToDomain): void {
    switch (m.t) {
      case "hret": {
        const c = this.#calls.get(m.id);
        if (c === undefined) return;
        this.#calls.delete(m.id);
        if (m.ok) c.resolve(m.value);
        else c.reject(PvnetError.fromWire(m.error));
        return;
      }
      case "link-add":
        this.loop.watch(this.evtchn.addLink(m.link.peer, m.link.sab));
        return;
      case "link-remove":
        this.evtchn.removeLink(m.peer);
        return;
      case "domain-added":
        this.#addForeign(m.foreign);
        for (const fn of this.#onAdded) this.#guard("domain-added", () => fn(m.foreign.domid));
        return;
      case "domain-destroyed":
        this.gnt.releaseDomain(m.domid);
        this.#foreign.delete(m.domid);
        for (const fn of this.#onDestroyed) this.#guard("domain-destroyed", () => fn(m.domid));
        return;
      case "evtchn-bound":
        return;
      case "evtchn-closed":
        for (const fn of this.#onClosed) this.#guard("peer-closed", () => fn(m.port));
        return;
      case "msg":
        // Messages carry other domains' input: a handler that throws on one, or rejects
        // later, is logged, and neither kills this domain nor keeps the next handler from it.
        for (const h of this.#onMessage) this.#guard("message", () => h(m.from, m.data));
        return;
      case "shutdown":
        void this.shutdown();
        return;
    }
  }
}

/** Adds `fn` to `list`; the returned function removes it (once). */
function listen<T>(list: ((v: T) => void)[], fn: (v: T) => void): () => void {
  list.push(fn);
  return () => {
    const i = list.indexOf(fn);
    if (i >= 0) list.splice(i, 1);
  };
}
