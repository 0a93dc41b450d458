/**
 * Test Domain-0 for the xenbus halves: Xenstored + serveXenstore + NetbackDriver with a
 * fake vif (records what the xenbus half hands it) and a fake hotplug step (joins nothing;
 * writes hotplug-status=connected after `hotplugDelayMs`). Every state write any client
 * makes is logged in order, at the daemon. The machine drives it with messages.
 */
import type { Domain } from "../../../src/hv/domain.js";
import { MACHINE } from "../../../src/hv/worker-proto.js";
import type { BackVif, BackVifInfo, VifFatal } from "../../../src/netback/vif-api.js";
import { NetbackDriver } from "../../../src/netback/xenbus.js";
import { ALL_VIF_FEATURES } from "../../../src/toolstack/config-types.js";
import { hotplugConnect, removeVifDevice, writeVifDevice } from "../../../src/toolstack/vif-device.js";
import { XS_WRITE } from "../../../src/wire/xen/xs-wire.js";
import type { XsClient } from "../../../src/xenstore/client.js";
import { Xenstored } from "../../../src/xenstore/daemon.js";
import { serveXenstore } from "../../../src/xenstore/domain-xenstored.js";

export interface NbDom0Args {
  maxRingPageOrder?: number;
  maxQueues?: number;
  hotplugDelayMs?: number;
  /** No NetbackDriver: the test plays the backend by hand (a hostile or odd backend). */
  noNetback?: boolean;
  /** Start the NetbackDriver only on a "start" message (devices written before it runs). */
  deferStart?: boolean;
}

export interface QueueCall {
  vif: string;
  queue: number;
  txEnts: number;
  rxEnts: number;
  txPort: number;
  rxPort: number;
  features: Record<string, boolean | number>;
}

export type Dom0Msg =
  | { t: "add"; fe: number; devid: number; mac: string; trusted?: boolean; backendOnly?: boolean }
  | { t: "rm"; path: string }
  | { t: "remove"; fe: number; devid: number }
  | { t: "dump"; paths: string[] }
  | { t: "stats" }
  | { t: "fatal"; vif: string; reason: string }
  | { t: "write"; path: string; value: string }
  | { t: "read"; path: string }
  | { t: "stop" }
  | { t: "start" };

const dec = new TextDecoder();

export default async function main(dom: Domain, raw: unknown): Promise<void> {
  const a = (raw ?? {}) as NbDom0Args;
  const xs = new Xenstored({ log: () => {} });
  const stateLog: string[] = [];
  // Every write to a `.../state` or `.../hotplug-status` node, in the order the daemon received them.
  const handle = xs.handleRequest.bind(xs);
  xs.handleRequest = (conn, type, reqId, txId, payload) => {
    if (type === XS_WRITE) {
      const nul = payload.indexOf(0);
      const path = dec.decode(payload.subarray(0, nul));
      if (path.endsWith("/state") || path.endsWith("/hotplug-status"))
        stateLog.push(`${path}=${dec.decode(payload.subarray(nul + 1))}`);
    }
    handle(conn, type, reqId, txId, payload);
  };
  const lines: string[] = [];
  const calls: string[] = [];
  const queueCalls: QueueCall[] = [];
  const fatals = new Map<string, VifFatal>();
  let live = 0;
  let tool: XsClient | undefined;
  const openVif = (info: BackVifInfo): BackVif => {
    const name = `vif${info.frontDomid}.${info.devid}`;
    calls.push(`open ${name} ${info.mac}`);
    setTimeout(() => {
      hotplugConnect(tool!, info.backendDir, "connected").catch((e: Error) =>
        lines.push(`hotplug: ${e.message}`),
      );
    }, a.hotplugDelayMs ?? 30);
    return {
      name,
      attachQueue(rings, fatal) {
        calls.push(`attach ${name} q${rings.queue}`);
        queueCalls.push({
          vif: name,
          queue: rings.queue,
          txEnts: rings.tx.nrEnts,
          rxEnts: rings.rx.nrEnts,
          txPort: rings.txPort,
          rxPort: rings.rxPort,
          features: { ...rings.features },
        });
        fatals.set(name, fatal);
        live++;
        let closed = false;
        return {
          close() {
            if (closed) calls.push(`DOUBLE close ${name} q${rings.queue}`);
            closed = true;
            live--;
            calls.push(`close ${name} q${rings.queue}`);
          },
        };
      },
      queueCounters: () => [],
      close() {
        calls.push(`vif-close ${name}`);
      },
    };
  };
  const svc = serveXenstore(dom, xs, {
    log: () => {},
    next: (from, data) => {
      if (from !== MACHINE) return;
      void handleMsg(data as Dom0Msg).catch((e: Error) => dom.report({ t: "error", message: e.message }));
    },
  });
  tool = svc.toolstack;
  const startDriver = (): Promise<NetbackDriver> =>
    NetbackDriver.start(dom, tool!, {
      openVif,
      log: (l) => lines.push(l),
      maxRingPageOrder: a.maxRingPageOrder,
      maxQueues: a.maxQueues,
    });
  let driver = a.noNetback || a.deferStart ? null : await startDriver();

  async function dump(path: string, out: string[]): Promise<void> {
    const t = tool!;
    const v = await t.read(path);
    const perms = (await t.getPerms(path)).map((p) => `${p.letter}${p.domid}`).join(",");
    out.push(`${path} = "${v}" (${perms})`);
    for (const c of (await t.directory(path)).sort()) await dump(`${path}/${c}`, out);
  }

  async function handleMsg(m: Dom0Msg): Promise<void> {
    const t = tool!;
    switch (m.t) {
      case "add":
        await writeVifDevice(t, {
          feDomid: m.fe,
          beDomid: 0,
          devid: m.devid,
          vif: {
            devid: m.devid,
            mac: m.mac,
            ip: undefined,
            bridge: "vale0",
            queues: 1,
            ringPageOrder: 0,
            trusted: m.trusted ?? true,
            features: ALL_VIF_FEATURES,
          },
          trusted: m.trusted ?? true,
          backendOnly: m.backendOnly,
        });
        dom.report({ t: "added", fe: m.fe, devid: m.devid });
        return;
      case "remove": {
        const closed = await removeVifDevice(
          t,
          { feDomid: m.fe, beDomid: 0, devid: m.devid },
          { closedTimeoutMs: 3000 },
        );
        dom.report({ t: "removed", closed });
        return;
      }
      case "dump": {
        const out: string[] = [];
        for (const p of m.paths) await dump(p, out);
        dom.report({ t: "dump", lines: out });
        return;
      }
      case "stats":
        dom.report({
          t: "stats",
          // Each guest's xenstore page is one mapping of its own; the rest are the drivers'.
          maps: dom.gnt.liveMappings - svc.guests.size,
          liveQueues: live,
          calls: [...calls],
          queueCalls: [...queueCalls],
          stateLog: [...stateLog],
          lines: [...lines],
          devices: (driver?.devices() ?? []).map((d) => ({ ...d, vif: d.vif?.name ?? null })),
        });
        return;
      case "fatal": {
        const f = fatals.get(m.vif);
        if (f === undefined) throw new Error(`no fatal callback for ${m.vif}`);
        f(m.reason);
        dom.report({ t: "fatal-sent" });
        return;
      }
      case "write":
        await t.write(m.path, m.value);
        dom.report({ t: "written" });
        return;
      case "rm":
        await t.rm(m.path);
        dom.report({ t: "removed" });
        return;
      case "start":
        driver = await startDriver();
        dom.report({ t: "started" });
        return;
      case "stop":
        await driver?.stop();
        dom.report({ t: "stopped" });
        return;
      case "read":
        dom.report({ t: "value", value: await t.read(m.path).catch((e: Error) => `ERR ${e.message}`) });
        return;
    }
  }
}
