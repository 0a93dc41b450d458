/**
 * Test guest for the xenbus halves: NetfrontDriver over a fake device that records what the
 * xenbus half hands it. Probes when the machine says so (the toolstack writes the device
 * first), closes or reports a backend violation on request, and reports its grants and
 * the driver's status.
 */
import type { Domain } from "../../../src/hv/domain.js";
import { MACHINE } from "../../../src/hv/worker-proto.js";
import type { FrontDevice, FrontFatal } from "../../../src/netfront/device-api.js";
import { NetfrontDriver, type NetfrontOptions } from "../../../src/netfront/xenbus.js";
import { connectXenstore } from "../../../src/xenstore/domain-xenstored.js";

export interface NfGuestArgs {
  queues?: number;
  ringPageOrder?: number;
  splitEventChannels?: boolean;
  csumOffload?: boolean;
}

export type GuestMsg =
  | { t: "probe"; devid: number }
  | { t: "close" }
  | { t: "fatal"; reason: string }
  | { t: "stats" };

export default async function main(dom: Domain, raw: unknown): Promise<void> {
  const a = (raw ?? {}) as NfGuestArgs;
  const xs = await connectXenstore(dom);
  const calls: string[] = [];
  const queues: {
    queue: number;
    txEnts: number;
    rxEnts: number;
    txPort: number;
    rxPort: number;
    features: unknown;
  }[] = [];
  let fatal: FrontFatal | undefined;
  let driver: NetfrontDriver | undefined;
  const lines: string[] = [];
  const makeDevice: NetfrontOptions["makeDevice"] = (info) => {
    calls.push(`make ${info.mac} ${info.mtu}${info.trusted ? "" : " untrusted"}`);
    const dev: FrontDevice = {
      attachQueue(rings, f) {
        calls.push(`attach q${rings.queue}`);
        queues.push({
          queue: rings.queue,
          txEnts: rings.tx.nrEnts,
          rxEnts: rings.rx.nrEnts,
          txPort: rings.txPort,
          rxPort: rings.rxPort,
          features: rings.features,
        });
        fatal = f;
        return {
          start: () => void calls.push(`start q${rings.queue}`),
          close: () => {
            calls.push(`close q${rings.queue}`);
            return 0;
          },
        };
      },
      carrierOn: () => void calls.push("carrierOn"),
      carrierOff: () => void calls.push("carrierOff"),
    };
    return dev;
  };
  const stats = (t: string): void =>
    dom.report({
      t,
      calls: [...calls],
      queues: [...queues],
      lines: [...lines],
      status: driver?.status(),
      liveGrants: dom.grants.liveGrants,
    });
  dom.onMessage((from, data) => {
    if (from !== MACHINE) return;
    const m = data as GuestMsg;
    void (async () => {
      switch (m.t) {
        case "probe":
          driver = await NetfrontDriver.probe(dom, xs, m.devid, {
            makeDevice,
            queues: a.queues,
            ringPageOrder: a.ringPageOrder,
            splitEventChannels: a.splitEventChannels,
            features: a.csumOffload === false ? { csumOffload: false } : {},
            log: (l) => lines.push(l),
            closeTimeoutMs: 3000,
          });
          return stats("connected");
        case "close":
          await driver?.close();
          return stats("closed");
        case "fatal":
          fatal?.(m.reason);
          return stats("fatal-sent");
        case "stats":
          return stats("stats");
      }
    })().catch((e: Error) =>
      dom.report({ t: "error", message: e.message, calls: [...calls], lines: [...lines] }),
    );
  });
}
