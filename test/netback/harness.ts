/**
 * netback in one thread, for tests that need determinism (properties, GC counts): Domain-0
 * and guests as memories and grant tables in this thread, Domain-0's real GrantOps over
 * them, event channels that record sends, a loop whose deferred work the test runs. Every
 * ring and grant goes through the real code; only the threads are missing.
 */
import type { PortHandler } from "../../src/hv/evtchn.js";
import { createActiveTable, GrantOps, grantingDomain } from "../../src/hv/grant-ops.js";
import { createGrantTable, GrantTable } from "../../src/hv/grant-table.js";
import { createMemory, memoryOf, PAGE_SIZE, PageAllocator } from "../../src/hv/memory.js";
import { ManualTimers } from "../../src/hv/timer.js";
import { NetbackCtrl, type NetbackCtrlOptions } from "../../src/netback/ctrl.js";
import { NetbackVif, type NetbackVifOptions } from "../../src/netback/vif.js";
import type { BackFeatures, BackQueue } from "../../src/netback/vif-api.js";
import type { VifDomain } from "../../src/netback/vif-domain.js";
import { RingArea } from "../../src/ring/area.js";
import { BackRing } from "../../src/ring/back.js";
import { FrontRing } from "../../src/ring/front.js";
import { ValeSwitch } from "../../src/vale/switch.js";
import { type Mem, memOf, privateMem } from "../../src/wire/mem.js";
import { NETIF_RX_ENTRY_SIZE, NETIF_TX_ENTRY_SIZE } from "../../src/wire/xen/netif.js";
import {
  ctrlReqWrite,
  ctrlRspData,
  ctrlRspId,
  ctrlRspStatus,
  XEN_NETIF_CTRL_ENTRY_SIZE,
} from "../../src/wire/xen/netif-ctrl.js";
import { TestFront } from "./front-sim.js";

export const ALL_FEATURES: BackFeatures = {
  sg: true,
  gsoTcpv4: true,
  gsoTcpv6: true,
  csumOffload: true,
  ipv6CsumOffload: true,
  rxNotify: true,
  multicastControl: false,
};
export const NO_FEATURES: BackFeatures = {
  sg: false,
  gsoTcpv4: false,
  gsoTcpv6: false,
  csumOffload: false,
  ipv6CsumOffload: false,
  rxNotify: true,
  multicastControl: false,
};

export interface Guest {
  domid: number;
  front: TestFront;
  fronts: TestFront[];
  vif: NetbackVif;
  queue: BackQueue;
  fatal: string[];
  /** Runs Domain-0's handler for the guest's channel (as its notify would). */
  kick(q?: number): void;
  /** The same, returning what the handler said (false: the event found no work). */
  fire(q?: number): boolean | undefined;
  mem: Mem;
  grants: GrantTable;
  /** The guest's grant table memory (what a hostile guest scribbles on). */
  gtab: Mem;
  /** A free page of the guest's. */
  alloc(): number;
  /** The control ring's service and the guest's end of it (addGuest with `ctrl`). */
  ctrl: NetbackCtrl | null;
  /** Sends one control request and runs the service: the response's status and data. */
  ctrlReq(type: number, d0?: number, d1?: number, d2?: number): { status: number; data: number };
}

export class OneThread {
  readonly dom0: VifDomain;
  readonly sw = new ValeSwitch("vale0");
  /** Domain-0's timers (the credit limiter's), advanced by the test. */
  readonly timers = new ManualTimers();
  readonly guests: Guest[] = [];
  readonly #handlers = new Map<number, PortHandler>();
  #deferred: (() => void)[] = [];
  /** Sends on each port. */
  readonly sends = new Map<number, number>();
  #nextPort = 1;

  constructor(dom0Pages = 512, mapsPerDomain?: number) {
    const sab = createMemory(0, dom0Pages);
    const memory = memoryOf(0, sab);
    this.dom0 = {
      domid: 0,
      memory,
      pages: new PageAllocator(memory.nPages),
      gnt: new GrantOps(0, memory, { mapsPerDomain }),
      evtchn: {
        on: (port: number, h: PortHandler) => this.#handlers.set(port, h),
        off: (port: number) => this.#handlers.delete(port),
        send: (port: number) => {
          this.sends.set(port, (this.sends.get(port) ?? 0) + 1);
          return 0;
        },
      },
      loop: { defer: (fn: () => void) => this.#deferred.push(fn) },
      timers: this.timers,
    } as unknown as VifDomain;
  }

  /** A guest with a frontend per queue, a vif on the switch and its queues attached. */
  addGuest(
    features: BackFeatures = ALL_FEATURES,
    opts: NetbackVifOptions = {},
    queues = 1,
    ctrlOpts?: NetbackCtrlOptions,
    /** Each ring is 2^ringOrder pages (256 << ringOrder entries, and as many pool pages). */
    ringOrder = 0,
  ): Guest {
    const domid = this.guests.length + 1;
    const pages = (2 * (256 << ringOrder) + 8 + 4 * (1 << ringOrder)) * queues + 16;
    const sab = createMemory(domid, pages);
    const mem = memOf(sab);
    const tab = createGrantTable(4 << ringOrder);
    const grants = new GrantTable(domid, memOf(tab));
    (this.dom0.gnt as GrantOps).addDomain(
      grantingDomain(domid, sab, memOf(tab), createActiveTable(grants.nEntries), mem),
    );
    const alloc = new PageAllocator(pages, 1);
    const vif = new NetbackVif(this.dom0, { frontDomid: domid, devid: 0, mac: "", backendDir: "" }, opts);
    const fatal: string[] = [];
    const fronts: TestFront[] = [];
    const ports: number[] = [];
    const qs: BackQueue[] = [];
    const gOps = this.dom0.gnt;
    let ctrl: NetbackCtrl | null = null;
    let ctrlFront: FrontRing | null = null;
    if (ctrlOpts !== undefined) {
      const page = alloc.alloc();
      const ref = grants.grantAccess(0, page, false);
      ctrlFront = FrontRing.init(new RingArea(mem, [page * PAGE_SIZE], XEN_NETIF_CTRL_ENTRY_SIZE));
      const h = gOps.map(domid, ref, false);
      const back = BackRing.attach(new RingArea(mem, [gOps.mappedOff(h)], XEN_NETIF_CTRL_ENTRY_SIZE));
      if (typeof back === "number") throw new Error("attach ctrl");
      ctrl = new NetbackCtrl(this.dom0, back, this.#nextPort++, domid, queues, ctrlOpts);
    }
    let nextId = 0;
    const ctrlReq = (type: number, d0 = 0, d1 = 0, d2 = 0): { status: number; data: number } => {
      if (ctrl === null || ctrlFront === null) throw new Error("no control ring");
      const id = nextId++ & 0xffff;
      const at = ctrlFront.beginRequest();
      ctrlReqWrite(ctrlFront.wmem, at, id, type, d0, d1, d2);
      ctrlFront.endRequest();
      ctrlFront.pushRequestsAndCheckNotify();
      ctrl.run();
      const m = privateMem(XEN_NETIF_CTRL_ENTRY_SIZE);
      if (ctrlFront.copyResponses(m, 0, 1) !== 1) throw new Error("no control response");
      if (ctrlRspId(m, 0) !== id) throw new Error("control response id");
      return { status: ctrlRspStatus(m, 0), data: ctrlRspData(m, 0) };
    };
    for (let q = 0; q < queues; q++) {
      const front = new TestFront(mem, grants, () => alloc.alloc(), 0, ringOrder);
      const offs = (refs: number[]): number[] => refs.map((r) => gOps.mappedOff(gOps.map(domid, r, false)));
      const tx = BackRing.attach(new RingArea(mem, offs(front.txRingRefs), NETIF_TX_ENTRY_SIZE));
      const rx = BackRing.attach(new RingArea(mem, offs(front.rxRingRefs), NETIF_RX_ENTRY_SIZE));
      if (typeof tx === "number" || typeof rx === "number") throw new Error("attach");
      const port = this.#nextPort++;
      qs.push(
        vif.attachQueue(
          { frontDomid: domid, devid: 0, queue: q, tx, rx, txPort: port, rxPort: port, features, ctrl },
          (r) => fatal.push(r),
        ),
      );
      fronts.push(front);
      ports.push(port);
    }
    vif.joinSwitch(this.sw);
    const g: Guest = {
      domid,
      front: fronts[0],
      fronts,
      vif,
      queue: qs[0],
      fatal,
      kick: (q = 0) => void this.#handlers.get(ports[q])?.(ports[q]),
      fire: (q = 0) => this.#handlers.get(ports[q])?.(ports[q]) ?? undefined,
      mem,
      grants,
      gtab: memOf(tab),
      alloc: () => alloc.alloc(),
      ctrl,
      ctrlReq,
    };
    this.guests.push(g);
    this.runDeferred();
    return g;
  }

  runDeferred(): void {
    for (let i = 0; i < 100 && this.#deferred.length > 0; i++) {
      const d = this.#deferred;
      this.#deferred = [];
      for (const fn of d) fn();
    }
  }

  /** Frees the rings' mappings (the xenbus half's part), after the vifs closed. */
  get liveMappings(): number {
    return (this.dom0.gnt as GrantOps).liveMappings;
  }
}

export const PAGE = PAGE_SIZE;
