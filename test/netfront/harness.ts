/**
 * netfront in one thread: a guest with just what the device uses of a Domain (memory, page
 * allocator, grant table, event channels and loop stubs), its rings set up as the xenbus
 * half would, and an EchoQueue per queue as the backend, reached through Domain-0's grant
 * operations over the guest's shared memory. `pump` delivers notifications both ways until
 * nothing moves, so a missing notify stalls frames and shows. Allocation-free per frame.
 */
import type { Domain } from "../../src/hv/domain.js";
import type { PortHandler } from "../../src/hv/evtchn.js";
import { createActiveTable, GrantOps, grantingDomain } from "../../src/hv/grant-ops.js";
import { createGrantTable, GrantTable } from "../../src/hv/grant-table.js";
import { createMemory, memoryOf, PAGE_SIZE, PageAllocator } from "../../src/hv/memory.js";
import { ManualTimers } from "../../src/hv/timer.js";
import { NetfrontDevice, type NetfrontDeviceOptions } from "../../src/netfront/device.js";
import type { FrontFeatures, FrontQueue } from "../../src/netfront/device-api.js";
import { RingArea } from "../../src/ring/area.js";
import { FrontRing } from "../../src/ring/front.js";
import { memOf } from "../../src/wire/mem.js";
import { NETIF_RX_ENTRY_SIZE, NETIF_TX_ENTRY_SIZE } from "../../src/wire/xen/netif.js";
import { EchoQueue, type Hostile } from "./echo-queue.js";

export const ALL_FEATURES: FrontFeatures = {
  sg: true,
  gsoTcpv4: true,
  gsoTcpv6: true,
  csumOffload: true,
  ipv6CsumOffload: true,
  multicastControl: false,
};

export interface HarnessOptions {
  queues?: number;
  order?: number;
  split?: boolean;
  features?: FrontFeatures;
  hostile?: Hostile;
  hostileAfter?: number;
  device?: NetfrontDeviceOptions;
  guestPages?: number;
  /** False: the backend skips its grant copies (see EchoQueue). */
  copy?: boolean;
  /** netfront's `trusted` (default true). */
  trusted?: boolean;
  /** Fills the guest's memory with this byte before anything is allocated (what a backend must not see). */
  prefill?: number;
}

const GUEST = 1;

export class Harness {
  readonly dev: NetfrontDevice;
  readonly dom: Domain;
  readonly grants: GrantTable;
  readonly echo: EchoQueue[] = [];
  readonly queues: FrontQueue[] = [];
  readonly fatals: string[] = [];
  readonly ringRefs: number[] = [];
  /** Notifications the guest sent, by port (queue q's TX port is 1 + q without split). */
  readonly sends = new Uint32Array(64);
  /** Notifications the backend raised toward the guest, by guest port. */
  readonly events = new Uint32Array(64);
  readonly #handlers: (PortHandler | undefined)[] = [];
  readonly #guestPending: Uint8Array;
  readonly #backPending: Uint8Array;
  /** Guest port -> queue. */
  readonly #portQueue: Int32Array;
  readonly #deferred: ((() => void) | undefined)[] = [];
  #nDeferred = 0;
  readonly #gnt: GrantOps;
  readonly #logs: string[] = [];
  /** Domain-0's memory: the backend's staging pages (EchoQueue's stage is at 0). */
  readonly backMem;
  /** The guest's timers (the deferred grant list retries on them), advanced by hand. */
  readonly timers = new ManualTimers();

  constructor(o: HarnessOptions = {}) {
    const nq = o.queues ?? 1;
    const order = o.order ?? 0;
    const memSab = createMemory(GUEST, o.guestPages ?? 4096);
    const memory = memoryOf(GUEST, memSab);
    if (o.prefill !== undefined) memory.mem.u8.fill(o.prefill);
    const tableSab = createGrantTable(8);
    this.grants = new GrantTable(GUEST, memOf(tableSab));
    const pages = new PageAllocator(memory.nPages);
    const dom0Mem = memoryOf(0, createMemory(0, 32));
    this.backMem = dom0Mem.mem;
    this.#gnt = new GrantOps(0, dom0Mem);
    this.#gnt.addDomain(
      grantingDomain(GUEST, memSab, memOf(tableSab), createActiveTable(this.grants.nEntries), memory.mem),
    );
    this.#guestPending = new Uint8Array(64);
    this.#backPending = new Uint8Array(64);
    this.#portQueue = new Int32Array(64).fill(-1);
    const self = this;
    this.dom = {
      domid: GUEST,
      memory,
      pages,
      grants: this.grants,
      timers: this.timers,
      evtchn: {
        on(port: number, h: PortHandler) {
          self.#handlers[port] = h;
        },
        off(port: number) {
          self.#handlers[port] = undefined;
        },
        send(port: number) {
          self.sends[port]++;
          const q = self.#portQueue[port];
          if (q >= 0) self.#backPending[q] = 1;
          return 0;
        },
      },
      loop: {
        defer(fn: () => void) {
          self.#deferred[self.#nDeferred++] = fn;
        },
        soon(fn: () => void) {
          self.#deferred[self.#nDeferred++] = fn;
        },
      },
    } as unknown as Domain;
    this.dev = new NetfrontDevice(
      this.dom,
      { mac: "00:16:3e:00:00:01", mtu: 1500, trusted: o.trusted ?? true },
      {
        log: (l) => this.#logs.push(l),
        ...o.device,
      },
    );
    const ring = (entry: number): { ring: FrontRing; refs: number[] } => {
      const ps = pages.allocMany(1 << order) as number[];
      const refs = ps.map((p) => this.grants.grantAccess(0, p, false));
      this.ringRefs.push(...refs);
      const area = new RingArea(
        memory.mem,
        ps.map((p) => p * PAGE_SIZE),
        entry,
      );
      return { ring: FrontRing.init(area), refs };
    };
    let port = 1;
    for (let q = 0; q < nq; q++) {
      const tx = ring(NETIF_TX_ENTRY_SIZE);
      const rx = ring(NETIF_RX_ENTRY_SIZE);
      const txPort = port++;
      const rxPort = o.split ? port++ : txPort;
      this.#portQueue[txPort] = q;
      this.#portQueue[rxPort] = q;
      const fq = this.dev.attachQueue(
        {
          backDomid: 0,
          queue: q,
          tx: tx.ring,
          rx: rx.ring,
          txPort,
          rxPort,
          features: o.features ?? ALL_FEATURES,
        },
        (reason) => this.fatals.push(reason),
      );
      this.queues.push(fq);
      // Staging: 19 contiguous pages of Domain-0's memory per queue.
      this.echo.push(
        new EchoQueue(this.#gnt, GUEST, tx.refs, rx.refs, 0, {
          hostile: o.hostile,
          hostileAfter: o.hostileAfter,
          copy: o.copy,
        }),
      );
      this.#ports.push([txPort, rxPort]);
    }
    for (const q of this.queues) q.start();
    this.dev.carrierOn();
    this.pump();
  }

  readonly #ports: [number, number][] = [];

  get logs(): readonly string[] {
    return this.#logs;
  }

  /** Domain-0 maps a grant of the guest's read-only, as a backend holding a buffer would: a handle or < 0. */
  backendMap(ref: number): number {
    return this.#gnt.map(GUEST, ref, true);
  }

  /** The guest page a backend mapping shows (pvnet maps a guest page in place). */
  backendPageOf(handle: number): number {
    return this.#gnt.mappedOff(handle) / PAGE_SIZE;
  }

  backendUnmap(handle: number): number {
    return this.#gnt.unmap(handle);
  }

  /** Runs deferred work, the backend and the guest's handlers until nothing is pending. */
  pump(): void {
    for (let round = 0; round < 100_000; round++) {
      let moved = false;
      for (let i = 0; i < this.#nDeferred; i++) {
        const fn = this.#deferred[i] as () => void;
        this.#deferred[i] = undefined;
        fn();
        moved = true;
      }
      this.#nDeferred = 0;
      for (let q = 0; q < this.echo.length; q++) {
        if (this.#backPending[q] === 0) continue;
        this.#backPending[q] = 0;
        moved = true;
        const notify = this.echo[q].step();
        const ports = this.#ports[q];
        if (notify & 1) {
          this.#guestPending[ports[0]] = 1;
          this.events[ports[0]]++;
        }
        if (notify & 2) {
          this.#guestPending[ports[1]] = 1;
          this.events[ports[1]]++;
        }
      }
      for (let p = 0; p < this.#guestPending.length; p++) {
        if (this.#guestPending[p] === 0) continue;
        this.#guestPending[p] = 0;
        moved = true;
        this.#handlers[p]?.(p);
      }
      if (!moved) return;
    }
    throw new Error("pump: still moving after 100 000 rounds");
  }

  /**
   * What the backend can read through the guest's grants to it, ring pages aside: each
   * granted page, mapped read-only and copied out, by gref.
   */
  grantedToBackend(): Map<number, Uint8Array> {
    const out = new Map<number, Uint8Array>();
    for (let ref = 0; ref < this.grants.nEntries; ref++) {
      if (this.ringRefs.includes(ref)) continue;
      const h = this.#gnt.map(GUEST, ref, true);
      if (h < 0) continue;
      const off = this.#gnt.mappedOff(h);
      out.set(ref, this.#gnt.mappedMem(h).u8.slice(off, off + PAGE_SIZE));
      this.#gnt.unmap(h);
    }
    return out;
  }

  /** Runs the guest's handler for `port` once, as an event would; returns what it said. */
  fire(port: number): boolean | undefined {
    const r = this.#handlers[port]?.(port);
    return r === undefined ? undefined : r;
  }

  /** Runs the guest's queued `defer`/`soon` work only (a TX flush, say), not the backend. */
  runDeferred(): void {
    const n = this.#nDeferred;
    this.#nDeferred = 0;
    for (let i = 0; i < n; i++) {
      const fn = this.#deferred[i] as () => void;
      this.#deferred[i] = undefined;
      fn();
    }
  }

  /** Closes every queue; returns the grants the device could not end, then the backend unmaps. */
  close(): number {
    let held = 0;
    for (const q of this.queues) held += q.close();
    for (const e of this.echo) e.close();
    for (const r of this.ringRefs) this.grants.endAccess(r);
    return held;
  }
}
