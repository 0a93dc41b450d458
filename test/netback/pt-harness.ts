/**
 * Passthrough vifs in one thread: Domain-0 and guests as memories and grant tables here,
 * Domain-0's real GrantOps, event channels whose sends queue until the test pumps them,
 * loops whose deferred work the pump runs. Each guest runs the real PtFrontDevice, Domain-0
 * the real PtBackVif on one VALE switch; only the threads are missing.
 */
import type { Domain } from "../../src/hv/domain.js";
import type { PortHandler } from "../../src/hv/evtchn.js";
import { createActiveTable, GrantOps, grantingDomain } from "../../src/hv/grant-ops.js";
import { createGrantTable, GrantTable } from "../../src/hv/grant-table.js";
import { createMemory, memoryOf, PageAllocator } from "../../src/hv/memory.js";
import { ManualTimers } from "../../src/hv/timer.js";
import type { PtKeys } from "../../src/netback/pt-keys.js";
import { PtBackVif } from "../../src/netback/pt-vif.js";
import type { BackQueue, BackQueueRings } from "../../src/netback/vif-api.js";
import type { VifDomain } from "../../src/netback/vif-domain.js";
import type { FrontQueue, FrontQueueRings } from "../../src/netfront/device-api.js";
import { PtFrontDevice } from "../../src/netfront/pt-device.js";
import { PT_DEFAULT_SLOTS, ptAreaPages, ptDirKey, ptDirPages } from "../../src/netmap/pt-layout.js";
import type { BackRing } from "../../src/ring/back.js";
import type { FrontRing } from "../../src/ring/front.js";
import { ValeSwitch } from "../../src/vale/switch.js";
import { type Mem, memOf } from "../../src/wire/mem.js";
import { NO_FEATURES } from "./harness.js";

interface Side {
  readonly handlers: Map<number, PortHandler>;
  deferred: (() => void)[];
}

export interface PtGuest {
  readonly domid: number;
  readonly mac: number;
  readonly mem: Mem;
  readonly pages: PageAllocator;
  readonly grants: GrantTable;
  /** The keys the device wrote, as Domain-0 read them. */
  readonly keys: PtKeys;
  readonly dev: PtFrontDevice;
  readonly back: PtBackVif;
  readonly frontQ: FrontQueue;
  readonly backQ: BackQueue;
  /** Reasons Domain-0 gave when it disabled this vif (its VifFatal calls). */
  readonly backFatal: string[];
  readonly frontFatal: string[];
  /** Frames the guest received: their lengths and first payload word. */
  readonly got: { len: number; tag: number }[];
  /** First byte of the guest's area in its memory (the status block's page). */
  readonly areaOff: number;
  readonly areaBytes: number;
}

const enc = (mac: number, dv: DataView, at: number): void => {
  dv.setUint16(at, Math.floor(mac / 2 ** 32));
  dv.setUint32(at + 2, mac >>> 0);
};

/** A 60-byte frame from `src` to `dst` carrying `tag` at byte 14. */
export function frame(dst: number, src: number, tag: number): Uint8Array {
  const f = new Uint8Array(60);
  const dv = new DataView(f.buffer);
  enc(dst, dv, 0);
  enc(src, dv, 6);
  dv.setUint16(12, 0x88b5); // local experimental ethertype
  dv.setUint32(14, tag);
  return f;
}

export class PtWorld {
  readonly sw = new ValeSwitch("vale0");
  readonly gnt: GrantOps;
  readonly dom0: VifDomain;
  readonly guests: PtGuest[] = [];
  /** Called as Domain-0 sends an event (to port = the guest's domid), before it is delivered. */
  onDom0Send: ((port: number) => void) | undefined;
  readonly #dom0Side: Side = { handlers: new Map(), deferred: [] };
  readonly #sides = new Map<number, Side>();
  /** Events sent and not yet delivered: [to domid, port]. */
  #events: [number, number][] = [];

  constructor() {
    const memory = memoryOf(0, createMemory(0, 64));
    this.gnt = new GrantOps(0, memory);
    this.dom0 = this.#domain(0, this.#dom0Side, { memory, gnt: this.gnt }) as unknown as VifDomain;
  }

  #domain(domid: number, side: Side, extra: object): object {
    return {
      domid,
      evtchn: {
        on: (port: number, h: PortHandler) => side.handlers.set(port, h),
        off: (port: number) => side.handlers.delete(port),
        // Each guest's channel uses its domid as the port number at both ends.
        send: (port: number) => {
          this.#events.push([domid === 0 ? port : 0, port]);
          if (domid === 0) this.onDom0Send?.(port);
          return 0;
        },
      },
      loop: {
        defer: (fn: () => void) => side.deferred.push(fn),
        soon: (fn: () => void) => side.deferred.push(fn),
      },
      timers: new ManualTimers(),
      ...extra,
    };
  }

  /**
   * A passthrough guest, connected and on the switch, as the xenbus halves would leave it:
   * `slots` per ring (the device's default), `memPages` of memory, `grantFrames` of grant
   * table (whose entries bound Domain-0's mappings of its grants); by default room for the
   * area and entries for Domain-0 to map it twice (tryAttach's second vif).
   */
  addGuest(opts: { slots?: number; memPages?: number; grantFrames?: number } = {}): PtGuest {
    const domid = this.guests.length + 1;
    const area = ptAreaPages(opts.slots ?? PT_DEFAULT_SLOTS);
    const pages = opts.memPages ?? area + 64;
    const sab = createMemory(domid, pages);
    const mem = memOf(sab);
    const tab = createGrantTable(opts.grantFrames ?? Math.ceil((2 * area + 16) / 512));
    const grants = new GrantTable(domid, memOf(tab));
    this.gnt.addDomain(grantingDomain(domid, sab, memOf(tab), createActiveTable(grants.nEntries), mem));
    const side: Side = { handlers: new Map(), deferred: [] };
    this.#sides.set(domid, side);
    const gdom = this.#domain(domid, side, {
      memory: memoryOf(domid, sab),
      pages: new PageAllocator(pages, 1),
      grants,
    }) as unknown as Domain;
    const mac = 0x00163e000000 + domid * 0x100;
    const macText = mac
      .toString(16)
      .padStart(12, "0")
      .replace(/(..)(?!$)/g, "$1:");
    const frontFatal: string[] = [];
    const backFatal: string[] = [];
    const got: { len: number; tag: number }[] = [];
    const dev = new PtFrontDevice(
      gdom,
      { mac: macText, mtu: 1500 },
      { log: () => {}, ...(opts.slots === undefined ? {} : { slots: opts.slots }) },
    );
    dev.onReceive((f, off, len) =>
      got.push({ len, tag: new DataView(f.buffer, f.byteOffset).getUint32(off + 14) }),
    );
    const frontQ = dev.attachQueue(
      {
        backDomid: 0,
        queue: 0,
        tx: null as unknown as FrontRing,
        rx: null as unknown as FrontRing,
        txPort: domid,
        rxPort: domid,
        features: {
          sg: false,
          gsoTcpv4: false,
          gsoTcpv6: false,
          csumOffload: false,
          ipv6CsumOffload: false,
          passthrough: true,
        },
      } satisfies FrontQueueRings,
      (r) => frontFatal.push(r),
    );
    const kv = Object.fromEntries(dev.passthroughKeys());
    const nPages = Number(kv["netmap-passthrough-pages"]);
    const keys: PtKeys = {
      dirRefs: Array.from({ length: ptDirPages(nPages) }, (_, i) => Number(kv[ptDirKey(i)])),
      pages: nPages,
      slots: Number(kv["netmap-passthrough-slots"]),
    };
    const back = new PtBackVif(
      this.dom0,
      { frontDomid: domid, devid: 0, mac: macText, backendDir: "" },
      { log: () => {} },
    );
    const backQ = back.attachQueue(ptRings(domid, keys), (r) => backFatal.push(r));
    back.joinSwitch(this.sw);
    frontQ.start();
    dev.carrierOn();
    const g: PtGuest = {
      domid,
      mac,
      mem,
      pages: gdom.pages,
      grants,
      keys,
      dev,
      back,
      frontQ,
      backQ,
      backFatal,
      frontFatal,
      got,
      areaOff: this.#areaOf(domid, keys.dirRefs[0]!),
      areaBytes: nPages * 4096,
    };
    this.guests.push(g);
    this.pump();
    return g;
  }

  /** The area's first byte: the frame of the first ref in the page directory. */
  #areaOf(domid: number, dirRef: number): number {
    const h = this.gnt.map(domid, dirRef, true);
    const first = this.gnt.mappedMem(h).u32[this.gnt.mappedOff(h) >>> 2]!;
    this.gnt.unmap(h);
    const h2 = this.gnt.map(domid, first, true);
    const off = this.gnt.mappedOff(h2);
    this.gnt.unmap(h2);
    return off;
  }

  /**
   * A second Domain-0 vif attaching `keys` of guest `domid` (a hostile guest's keys, or a
   * directory it built): the reason it refused, or null once it attached (then closed again).
   */
  tryAttach(domid: number, keys: PtKeys): string | null {
    const back = new PtBackVif(
      this.dom0,
      { frontDomid: domid, devid: 1, mac: "00:16:3e:7f:00:00", backendDir: "" },
      { log: () => {} },
    );
    try {
      back.attachQueue(ptRings(domid, keys), () => {});
      return null;
    } catch (e) {
      return (e as Error).message;
    } finally {
      back.close();
    }
  }

  /** The event a guest sends Domain-0 on its channel (a hostile one sends it whenever it likes). */
  kick(g: PtGuest): void {
    this.#events.push([0, g.domid]);
  }

  /**
   * Delivers queued events and runs deferred work until nothing is left (bounded); what a
   * handler throws propagates, so a test sees it.
   */
  pump(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      const events = this.#events;
      this.#events = [];
      let ran = events.length;
      for (const [to, port] of events) {
        const side = to === 0 ? this.#dom0Side : this.#sides.get(port);
        side?.handlers.get(port)?.(port);
      }
      for (const side of [this.#dom0Side, ...this.#sides.values()]) {
        const d = side.deferred;
        side.deferred = [];
        ran += d.length;
        for (const fn of d) fn();
      }
      if (ran === 0) return;
    }
  }
}

function ptRings(domid: number, keys: PtKeys): BackQueueRings {
  return {
    frontDomid: domid,
    devid: 0,
    queue: 0,
    tx: null as unknown as BackRing,
    rx: null as unknown as BackRing,
    txPort: domid,
    rxPort: domid,
    features: NO_FEATURES,
    passthrough: keys,
  };
}
