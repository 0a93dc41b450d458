/**
 * The guests of pt-kick-race.test.ts. "burst" publishes frames one flush at a time with
 * random pauses (of about Domain-0's service time) so that some land between Domain-0's
 * last empty look and its request for a kick; after each burst it waits, blocking its own
 * thread, until "count" has received every frame so far. A burst that does not arrive is a
 * stalled vif: the sender records it and stops.
 */
import type { Domain } from "../../src/hv/domain.js";
import { PtFrontDevice } from "../../src/netfront/pt-device.js";
import { NetfrontDriver } from "../../src/netfront/xenbus.js";
import { type HostFrontDevice, makeFrontDevice, netfrontOptionsOf } from "../../src/toolstack/drivers.js";
import type { GuestArgs } from "../../src/toolstack/host-proto.js";
import { writeMac } from "../../src/wire/net/ethernet.js";
import { connectXenstore } from "../../src/xenstore/domain-xenstored.js";

export interface RaceExtra {
  readonly role: "burst" | "count";
  readonly peerMac: number;
  /** Int32 words shared by both guests and the test: see R_*. */
  readonly words: SharedArrayBuffer;
  readonly rounds: number;
  /** How long a burst may take to arrive before the vif counts as stalled, ms. */
  readonly stallMs: number;
}

export const R_READY_TX = 0;
export const R_READY_RX = 1;
export const R_GO = 2;
export const R_SENT = 3;
export const R_GOT = 4;
export const R_ROUNDS = 5;
/** The round that stalled, plus one (0: none). */
export const R_STALLED = 6;
export const R_DONE = 7;
export const R_WORDS = 8;

function spinUs(us: number): void {
  const end = performance.now() + us / 1000;
  while (performance.now() < end);
}

export default async function main(dom: Domain, args: GuestArgs): Promise<void> {
  const x = args.extra as RaceExtra;
  const w = new Int32Array(x.words);
  const cfg = args.vifs[0].vif;
  const xs = await connectXenstore(dom);
  const start = async (): Promise<void> => {
    let dev: HostFrontDevice | null = null;
    await NetfrontDriver.probe(dom, xs, cfg.devid, {
      makeDevice: (info) => {
        const d = makeFrontDevice(dom, info, cfg.passthrough === true);
        if (x.role === "count")
          d.onReceive(() => {
            Atomics.add(w, R_GOT, 1);
            Atomics.notify(w, R_GOT);
          });
        dev = d;
        return d;
      },
      ...netfrontOptionsOf(cfg),
    });
    if (x.role === "count") {
      Atomics.store(w, R_READY_RX, 1);
      return;
    }
    Atomics.store(w, R_READY_TX, 1);
    const d = dev as HostFrontDevice | null;
    if (!(d instanceof PtFrontDevice)) throw new Error("the race guest needs a passthrough vif");
    const f = new Uint8Array(60);
    const dv = new DataView(f.buffer);
    writeMac(dv, 0, x.peerMac);
    writeMac(dv, 6, d.mac);
    dv.setUint16(12, 0x88b5);
    // The rounds run from a timer so that main returns and the domain's loop starts first.
    const t = dom.timers.every(5, () => {
      if (Atomics.load(w, R_GO) !== 1) return;
      dom.timers.cancel(t);
      let sent = 0;
      for (let round = 0; round < x.rounds; round++) {
        const k = 1 + Math.floor(Math.random() * 6);
        for (let i = 0; i < k; i++) {
          if (!d.transmit(f, 60, 0)) break;
          d.flush();
          sent++;
          spinUs(Math.random() * 12);
        }
        Atomics.store(w, R_SENT, sent);
        const end = performance.now() + x.stallMs;
        for (;;) {
          const got = Atomics.load(w, R_GOT);
          if (got >= sent) break;
          const left = end - performance.now();
          if (left <= 0) {
            Atomics.store(w, R_STALLED, round + 1);
            Atomics.store(w, R_DONE, 1);
            return;
          }
          Atomics.wait(w, R_GOT, got, left);
        }
        Atomics.store(w, R_ROUNDS, round + 1);
        spinUs(Math.random() * 30);
      }
      Atomics.store(w, R_DONE, 1);
    });
  };
  void (async () => {
    const wt = await xs.watch(`/local/domain/${dom.domid}/device/vif/${cfg.devid}`);
    for await (const _ of wt) {
      if (await xs.exists(`/local/domain/${dom.domid}/device/vif/${cfg.devid}/backend`)) break;
    }
    wt.close?.();
    await start();
  })().catch((e: unknown) => dom.report({ t: "log", line: `race guest ${dom.domid}: ${String(e)}` }));
}
