/**
 * Domain-0 for netback's worker tests: one VALE switch; for each guest that sends
 * `connect` (its ring grefs, unbound port and features, as xenstore would carry them) it
 * maps the rings, binds the channel, makes a NetbackVif, attaches its queue and joins it to
 * the switch (what the xenbus half and the hotplug step do). `stats` reports every vif's
 * counters and Domain-0's live mappings; `teardown` closes every vif and unmaps the rings.
 */
import type { Domain } from "../../../src/hv/domain.js";
import { NetbackVif } from "../../../src/netback/vif.js";
import type { BackFeatures, BackQueue } from "../../../src/netback/vif-api.js";
import { RingArea } from "../../../src/ring/area.js";
import { BackRing } from "../../../src/ring/back.js";
import { ValeSwitch } from "../../../src/vale/switch.js";
import { NETIF_RX_ENTRY_SIZE, NETIF_TX_ENTRY_SIZE } from "../../../src/wire/xen/netif.js";

export interface ConnectMsg {
  t: "connect";
  tx: number;
  rx: number;
  port: number;
  features: BackFeatures;
  backlog?: number;
}

interface Conn {
  vif: NetbackVif;
  queue: BackQueue;
  handles: number[];
  port: number;
}

export default async function main(dom: Domain): Promise<void> {
  const sw = new ValeSwitch("vale0");
  const conns = new Map<number, Conn>();
  /** Vifs disconnected after a fatal error, kept for their counters. */
  const dead = new Map<number, NetbackVif>();

  const connect = async (from: number, m: ConnectMsg): Promise<void> => {
    const handles: number[] = [];
    const ht = dom.gnt.map(from, m.tx, false);
    const hr = dom.gnt.map(from, m.rx, false);
    handles.push(ht, hr);
    const gm = dom.foreign(from);
    if (ht < 0 || hr < 0 || gm === undefined) throw new Error(`cannot map rings of ${from}`);
    const tx = BackRing.attach(new RingArea(gm.mem, [dom.gnt.mappedOff(ht)], NETIF_TX_ENTRY_SIZE));
    const rx = BackRing.attach(new RingArea(gm.mem, [dom.gnt.mappedOff(hr)], NETIF_RX_ENTRY_SIZE));
    if (typeof tx === "number" || typeof rx === "number") throw new Error("ring attach");
    const port = await dom.evtchnBindInterdomain(from, m.port);
    const vif = new NetbackVif(
      dom,
      { frontDomid: from, devid: 0, mac: "", backendDir: "" },
      {
        rxBacklogBytes: m.backlog,
      },
    );
    const queue = vif.attachQueue(
      { frontDomid: from, devid: 0, queue: 0, tx, rx, txPort: port, rxPort: port, features: m.features },
      (reason) => {
        dom.report({ t: "fatal", domid: from, reason });
        // What the xenbus half does: that vif alone goes, rings and channel with it.
        dom.loop.defer(() => void drop(from));
      },
    );
    vif.joinSwitch(sw);
    conns.set(from, { vif, queue, handles, port });
    dom.post(from, { t: "connected" });
    dom.report({ t: "connected", domid: from });
  };

  const drop = async (d: number): Promise<void> => {
    const c = conns.get(d);
    if (c === undefined) return;
    conns.delete(d);
    dead.set(d, c.vif);
    c.queue.close();
    c.vif.close();
    for (const h of c.handles) dom.gnt.unmap(h);
    await dom.evtchnClose(c.port);
  };

  const stats = (): Record<string, unknown> => {
    const vifs: Record<number, unknown> = {};
    const all: [number, NetbackVif][] = [
      ...[...conns].map(([d, c]): [number, NetbackVif] => [d, c.vif]),
      ...dead,
    ];
    for (const [d, v] of all) vifs[d] = { ...v.queueCounters()[0].snapshot(), backlog: v.rxBacklog(0) };
    return { t: "stats", vifs, liveMappings: dom.gnt.liveMappings, ports: sw.ports().length };
  };

  dom.onMessage(async (from, data) => {
    const m = data as { t?: string };
    if (m.t === "connect") {
      try {
        await connect(from, data as ConnectMsg);
      } catch (e) {
        dom.report({ t: "error", domid: from, message: String(e) });
      }
    } else if (m.t === "stats") dom.report(stats());
    else if (m.t === "teardown") {
      for (const d of [...conns.keys()]) await drop(d);
      dom.report({ ...stats(), t: "torn" });
    }
  });
}
