/**
 * The victim of `pvnet adversary backend`: a guest whose netfront (pvnet's NetfrontDevice,
 * the driver's data path with every check of §7.5) is served by Domain-0's malicious
 * backend. The rings are set up as netfront's xenbus half would (pages granted to the
 * backend, FrontRing.init, an unbound port) and handed over by message, so one case is one
 * fresh device. It sends frames when asked and reports its counters and fatal reasons.
 */
import type { Domain } from "../hv/domain.js";
import { PAGE_SIZE } from "../hv/memory.js";
import { NETFRONT_QUEUE_COUNTERS } from "../netfront/counters.js";
import { NetfrontDevice } from "../netfront/device.js";
import type { FrontFeatures, FrontQueue } from "../netfront/device-api.js";
import { RingArea } from "../ring/area.js";
import { FrontRing } from "../ring/front.js";
import type { GuestArgs } from "../toolstack/host-proto.js";
import { NETIF_RX_ENTRY_SIZE, NETIF_TX_ENTRY_SIZE } from "../wire/xen/netif.js";

/** Domain-0's backend -> victim. */
export type VictimCommand =
  | { t: "nf-open" }
  | { t: "nf-send"; n: number }
  | { t: "nf-state" }
  | { t: "nf-close" };

/** Victim -> Domain-0's backend. */
export type VictimReply =
  | { t: "nf-rings"; txRef: number; rxRef: number; port: number }
  | { t: "nf-state"; counters: Record<string, number>; fatal: string[]; received: number; carrier: boolean }
  | { t: "nf-closed"; liveGrants: number; held: number };

const FEATURES: FrontFeatures = {
  sg: true,
  gsoTcpv4: true,
  gsoTcpv6: true,
  csumOffload: true,
  ipv6CsumOffload: true,
  multicastControl: false,
};

interface Open {
  dev: NetfrontDevice;
  q: FrontQueue;
  pages: number[];
  refs: number[];
  port: number;
  fatal: string[];
  received: number;
}

export default async function main(dom: Domain, _args: GuestArgs): Promise<void> {
  const base = dom.grants.liveGrants;
  let cur: Open | null = null;
  const frame = new Uint8Array(60);
  frame.fill(0xff, 0, 6);
  frame.set([0x00, 0x16, 0x3e, 0x0b, 0x0b, 0x01], 6);
  frame[12] = 0x88;
  frame[13] = 0xb5;

  const open = async (): Promise<void> => {
    const fatal: string[] = [];
    const dev = new NetfrontDevice(dom, { mac: "00:16:3e:0b:0b:01", mtu: 1500 }, { log: () => {} });
    const pages = [dom.pages.alloc(), dom.pages.alloc()];
    const refs = pages.map((p) => dom.grants.grantAccess(0, p, false));
    const ring = (p: number, entry: number): FrontRing =>
      FrontRing.init(new RingArea(dom.memory.mem, [p * PAGE_SIZE], entry));
    const port = await dom.evtchnAllocUnbound(0);
    const q = dev.attachQueue(
      {
        backDomid: 0,
        queue: 0,
        tx: ring(pages[0]!, NETIF_TX_ENTRY_SIZE),
        rx: ring(pages[1]!, NETIF_RX_ENTRY_SIZE),
        txPort: port,
        rxPort: port,
        features: FEATURES,
      },
      (reason) => fatal.push(reason),
    );
    const o: Open = { dev, q, pages, refs, port, fatal, received: 0 };
    dev.onReceive(() => {
      o.received++;
    });
    q.start();
    dev.carrierOn();
    cur = o;
    dom.post(0, { t: "nf-rings", txRef: refs[0]!, rxRef: refs[1]!, port } satisfies VictimReply);
  };

  const close = async (o: Open): Promise<void> => {
    const held = o.q.close();
    o.dev.carrierOff();
    for (const [i, r] of o.refs.entries()) {
      // The backend unmapped before asking us to close: a ref still in use is a leak to report.
      if (dom.grants.endAccess(r)) dom.pages.free(o.pages[i]!);
    }
    await dom.evtchnClose(o.port).catch(() => undefined);
    cur = null;
    dom.post(0, { t: "nf-closed", liveGrants: dom.grants.liveGrants - base, held } satisfies VictimReply);
  };

  dom.onMessage(async (from, data) => {
    if (from !== 0) return;
    const m = data as VictimCommand;
    if (m.t === "nf-open") await open();
    else if (m.t === "nf-send" && cur !== null) {
      for (let i = 0; i < Math.min(m.n, 64); i++) cur.dev.transmit(frame, frame.length, 0);
      cur.dev.flush();
    } else if (m.t === "nf-state") {
      const c = cur?.dev.counters(0);
      const counters: Record<string, number> = {};
      for (const n of NETFRONT_QUEUE_COUNTERS) counters[n] = c?.get(n) ?? 0;
      dom.post(0, {
        t: "nf-state",
        counters,
        fatal: cur?.fatal ?? [],
        received: cur?.received ?? 0,
        carrier: cur?.dev.carrier ?? false,
      } satisfies VictimReply);
    } else if (m.t === "nf-close" && cur !== null) await close(cur);
  });
}
