/**
 * The guests of `pvnet bench soak`: a sender held to a rate the host sets (frames per
 * second in a shared word, 0 for as fast as netfront takes them), a receiver that counts,
 * and the malicious frontend (src/adversary/guest.ts) on a third guest.
 */
import { demoFrame } from "../src/demo/frame.js";
import type { Domain } from "../src/hv/domain.js";
import { NetfrontDriver } from "../src/netfront/xenbus.js";
import { makeFrontDevice, netfrontOptionsOf } from "../src/toolstack/drivers.js";
import type { GuestArgs } from "../src/toolstack/host-proto.js";
import { writeMac } from "../src/wire/net/ethernet.js";
import { connectXenstore } from "../src/xenstore/domain-xenstored.js";

export interface SoakExtra {
  readonly role: "tx" | "rx" | "adv";
  readonly frameBytes: number;
  readonly peerMac: number;
  readonly peerIp: number;
  /** Float64 words, see S_*. */
  readonly words: SharedArrayBuffer;
}

export const S_TX = 0;
export const S_RX = 1;
/** Frames per second the sender may send; 0: unlimited. Written by the host at any time. */
export const S_RATE = 2;
export const S_READY = 3;
/** 1 while the sender sends. */
export const S_GO = 4;
export const S_REFUSED = 5;
export const S_WORDS = 6;

const TICK_MS = 2;

export default async function main(dom: Domain, args: GuestArgs): Promise<void> {
  const x = args.extra as SoakExtra;
  if (x.role === "adv") {
    const adv = await import("../src/adversary/guest.js");
    return adv.default(dom, { ...args, extra: { role: "front" } });
  }
  const w = new Float64Array(x.words);
  const spec = args.vifs[0]!;
  const xs = await connectXenstore(dom);
  const start = async (): Promise<void> => {
    let more = (): void => {};
    await NetfrontDriver.probe(dom, xs, spec.vif.devid, {
      makeDevice: (info) => {
        const dev = makeFrontDevice(dom, info);
        dev.onReceive(() => {
          w[S_RX]++;
        });
        dev.onWritable(() => more());
        if (x.role === "tx") {
          const f = demoFrame(x.frameBytes);
          const dv = new DataView(f.buffer, f.byteOffset);
          writeMac(dv, 0, x.peerMac);
          writeMac(dv, 6, dev.mac);
          dv.setUint32(30, x.peerIp);
          // Credit in frames, refilled each tick from the rate; unlimited sends until refused.
          let credit = 0;
          let last = performance.now();
          more = (): void => {
            if (w[S_GO] !== 1) return;
            const rate = w[S_RATE]!;
            const now = performance.now();
            if (rate > 0) credit = Math.min(credit + ((now - last) * rate) / 1000, rate / 50);
            last = now;
            for (let i = 0; i < 4096 && (rate === 0 || credit >= 1); i++) {
              if (!dev.transmit(f, x.frameBytes, 0)) {
                w[S_REFUSED]++;
                return;
              }
              w[S_TX]++;
              credit--;
            }
          };
          dom.timers.every(TICK_MS, () => more());
        }
        return dev;
      },
      ...netfrontOptionsOf(spec.vif),
    });
    w[S_READY] = 1;
  };
  void (async () => {
    const path = `/local/domain/${dom.domid}/device/vif/${spec.vif.devid}`;
    const wt = await xs.watch(path);
    for await (const _ of wt) if (await xs.exists(`${path}/backend`)) break;
    await wt.close();
    await start();
  })().catch((e: unknown) => dom.report({ t: "log", line: `soak guest ${dom.domid}: ${String(e)}` }));
}
